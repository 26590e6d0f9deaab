#!/usr/bin/env bash
# poison_verify.sh BUILD_DIR: proves the buffer release points on a real ublk kernel (run through
# run-in-vm.sh). With --poison-released every buffer is overwritten as it goes back to the
# provider, so a kernel copy out of (or into) a buffer after its release would corrupt data:
# fio crc32c verify, 2 queues, 2 jobs at iodepth 32, 512 B to 1 MiB requests, every mode.
set -uo pipefail
build="${1:?usage: poison_verify.sh BUILD_DIR}"
mem="$build/bin/ublk-pool-mem"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
for mode in get_data user_copy copy; do
  "$mem" --mode "$mode" --size 128M --queues 2 --poison-released >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 600); do [ -s "$work/out" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
  dev=$(head -n 1 "$work/out")
  if [ ! -b "$dev" ]; then echo "FAIL: $mode: no device"; cat "$work/err"; fails=$((fails + 1)); continue; fi
  if (cd "$work" && fio --name=p --filename="$dev" --direct=1 --ioengine=io_uring --rw=randwrite --iodepth=32 \
      --numjobs=2 --offset_increment=32M --bssplit=512/10:4k/40:64k/30:1m/20 --size=32M --verify=crc32c \
      --do_verify=1 --verify_fatal=1 --verify_state_save=0 --group_reporting >"$work/fio" 2>&1); then
    echo "ok: $mode: verify with poisoned releases"
  else
    echo "FAIL: $mode"; tail -20 "$work/fio"; fails=$((fails + 1))
  fi
  kill -TERM $pid
  wait $pid || { echo "FAIL: $mode: daemon exit $?"; fails=$((fails + 1)); }
done
[ -z "$(compgen -G '/dev/ublk[bc][0-9]*')" ] || { echo "FAIL: devices left"; fails=$((fails + 1)); }
echo "poison_verify: $fails failure(s)"
exit $((fails > 0))
