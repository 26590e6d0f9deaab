#!/usr/bin/env bash
# poison_verify.sh BUILD_DIR: proves the buffer release points on a real ublk kernel (run through
# run-in-vm.sh). With --poison-released every buffer is overwritten as it goes back to the
# provider, so a kernel copy out of (or into) a buffer after its release would corrupt data:
# fio crc32c verify, 2 queues, 2 jobs at iodepth 32, 512 B to 1 MiB requests, every mode.
#
# What each pass proves. get_data and user_copy acquire a buffer per request and release it per
# request: verify fails if any release comes before the kernel's copy. Copy mode is different: a
# tag gets its max-IO buffer once and gives it back only at shutdown, after the device is gone, so
# the poison there can only catch a release while the device runs. That is what its pass asserts:
# besides verify, the daemon's report must show exactly one acquire per tag (queues x depth: no
# buffer was released and acquired again mid-run) and every byte back at the end.
set -uo pipefail
build="${1:?usage: poison_verify.sh BUILD_DIR}"
mem="$build/bin/ublk-pool-mem"
queues=2
depth=128
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0

# json_number NAME FILE: the first "NAME": N in FILE, or empty.
json_number() {
  [[ "$(<"$2")" =~ \"$1\":\ ?([0-9]+) ]] && echo "${BASH_REMATCH[1]}"
}

for mode in get_data user_copy copy; do
  "$mem" --mode "$mode" --size 128M --queues "$queues" --depth "$depth" --poison-released --json \
    >"$work/out" 2>"$work/err" &
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
  acquires=$(json_number acquires "$work/out")
  in_use=$(json_number bytes_in_use "$work/out")
  if [ "$in_use" != 0 ]; then
    echo "FAIL: $mode: bytes_in_use '${in_use}' after shutdown, wanted 0"; fails=$((fails + 1))
  fi
  if [ "$mode" = copy ]; then
    if [ "$acquires" = $((queues * depth)) ]; then
      echo "ok: copy: $acquires acquires, one per tag: no tag buffer was released while the device ran"
    else
      echo "FAIL: copy: '${acquires}' acquires, wanted $((queues * depth)) (one per tag)"; fails=$((fails + 1))
    fi
  fi
done
[ -z "$(compgen -G '/dev/ublk[bc][0-9]*')" ] || { echo "FAIL: devices left"; fails=$((fails + 1)); }
echo "poison_verify: $fails failure(s)"
exit $((fails > 0))
