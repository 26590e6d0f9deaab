#!/usr/bin/env bash
# enomem.sh BUILD_DIR: provider exhaustion on a real ublk kernel (run through run-in-vm.sh).
# A 4 MiB pool limit leaves room for two 1 MiB buffers: 1 MiB writes at queue depth 1 succeed,
# 16 concurrent ones partly fail with ENOMEM, the daemon survives, and later IOs succeed with
# their data intact. In get_data and user_copy mode, on the mem target.
set -uo pipefail
build="${1:?usage: enomem.sh BUILD_DIR}"
mem="$build/bin/ublk-pool-mem"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Daemons with an exhaustion policy default to waiting; this test wants the failures.
policy=()
"$mem" --help | grep -q -- --on-exhaustion && policy=(--on-exhaustion fail)
fails=0
check() { if "$@"; then echo "ok: ${what}"; else echo "FAIL: ${what}"; fails=$((fails + 1)); fi; }
dd if=/dev/urandom of="$work/data" bs=1M count=4 status=none
for mode in get_data user_copy; do
  echo "== $mode"
  "$mem" --mode "$mode" --size 64M --pool-limit 4M --depth 16 --hugepages none "${policy[@]}" \
    >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 600); do [ -s "$work/out" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
  dev=$(head -n 1 "$work/out")
  what="$mode: device live"; check test -b "$dev" || { cat "$work/err"; continue; }
  what="$mode: 1M writes at qd1"; check dd if="$work/data" of="$dev" bs=1M count=4 oflag=direct status=none
  what="$mode: 16 concurrent 1M writes fail with ENOMEM"
  check bash -c "! fio --name=e --filename=$dev --direct=1 --ioengine=libaio --rw=write --bs=1M --iodepth=16 \
    --size=32M --offset=8M --output=$work/fio >/dev/null 2>&1 && grep -q 'err=12' $work/fio"
  what="$mode: daemon alive"; check kill -0 $pid
  what="$mode: 1M writes after ENOMEM"; check dd if="$work/data" of="$dev" bs=1M count=4 oflag=direct status=none
  dd if="$dev" of="$work/back" bs=1M count=4 iflag=direct status=none
  what="$mode: data intact"; check cmp -s "$work/data" "$work/back"
  kill -TERM $pid
  wait $pid
  what="$mode: clean exit"; check test $? -eq 0
  what="$mode: report counts ENOMEM"; check grep -Eq '\([1-9][0-9]* ENOMEM\)' "$work/err"
done
what="no device left"; check test -z "$(compgen -G '/dev/ublk[bc][0-9]*')"
echo "enomem: $fails failure(s)"
exit $((fails > 0))
