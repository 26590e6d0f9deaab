#!/usr/bin/env bash
# vm_verify.sh BUILD_DIR [PROVIDER...]   (runs on a ublk kernel: through tests/vm/run-in-vm.sh)
#   1. Each adapter as the provider of ublk-pool-mem, under get_data and user_copy: fio writes
#      mixed block sizes with crc32c verify and must see zero mismatches.
#   2. The example app (ublk-adopt-example): the bytes written to /dev/ublkbN are found in the
#      app's own message buffers (its dump, rebuilt from them alone, matches) and its userspace
#      copy counter stays 0.
#   By hand: tests/vm/run-in-vm.sh -- tests/adapters/vm_verify.sh build
set -euo pipefail
(($# >= 1)) || { echo "usage: vm_verify.sh BUILD_DIR [PROVIDER...]" >&2; exit 2; }
build="$(cd "$1" && pwd)"
shift
bin="$build/bin"
lib="$build/lib"
providers=("$@")
((${#providers[@]})) || providers=(pool pmr pmr_pool boost_pool jemalloc mimalloc example_slab)
modes=(get_data user_copy)
work="$(mktemp -d /tmp/adapters-vm.XXXXXX)"
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
fail() { echo "vm_verify: FAIL: $*" >&2; failures=$((failures + 1)); }

for tool in "$bin/ublk-pool-mem" "$bin/ublk-adopt-example"; do
  [ -x "$tool" ] || { echo "vm_verify: $tool is not built" >&2; exit 2; }
done
command -v fio >/dev/null || { echo "vm_verify: fio is missing" >&2; exit 2; }
echo "vm_verify: kernel $(uname -r), harness ${UBLK_VM_KERNEL:-?}"

# Starts "$@" in the background, its stdout in $work/out; waits for the device path it prints.
start_device() {
  : >"$work/out"
  "$@" >"$work/out" 2>"$work/err" &
  daemon_pid=$!
  for _ in $(seq 1 300); do
    dev="$(head -n1 "$work/out" 2>/dev/null || true)"
    if [[ "$dev" == /dev/ublkb* ]] && [ -b "$dev" ]; then return 0; fi
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "vm_verify: the device did not appear; stderr:" >&2
  sed 's/^/  | /' "$work/err" >&2
  kill -TERM "$daemon_pid" 2>/dev/null
  wait "$daemon_pid" 2>/dev/null
  daemon_pid=""
  return 1
}

stop_device() {
  local rc=0
  kill -TERM "$daemon_pid"
  wait "$daemon_pid" || rc=$?
  daemon_pid=""
  return "$rc"
}

# --- 1. each adapter under ublk-pool-mem, fio crc32c verify ---
printf '%-14s %-10s %s\n' provider mode result
for provider in "${providers[@]}"; do
  for mode in "${modes[@]}"; do
    args=(--provider "$provider" --mode "$mode" --size 64M --queues 1 --depth 16)
    [ "$provider" = example_slab ] && args+=(--provider-lib "$lib/libublkpool_example_slab.so")
    if ! start_device "$bin/ublk-pool-mem" "${args[@]}"; then
      fail "$provider/$mode: ublk-pool-mem did not start"
      continue
    fi
    result=ok
    if ! fio --output="$work/fio.txt" --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 \
         --verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=0 \
         --name=mixed --rw=randwrite --bsrange=4k-1m --size=32M \
         --name=small --stonewall --rw=randwrite --bs=4k --offset=32M --size=4M >/dev/null 2>"$work/fio.err"; then
      result="fio failed: $(grep -m1 -i -E 'verify|error' "$work/fio.txt" "$work/fio.err" || true)"
    fi
    if ! stop_device; then
      [ "$result" = ok ] && result="ublk-pool-mem exited non-zero: $(tail -n1 "$work/err")"
    fi
    # The daemon's report: the buffers came from this provider, and it never ran dry.
    if [ "$result" = ok ] && ! grep -qE "provider $provider: [1-9][0-9]* acquires, 0 failed; pool hits [1-9]" "$work/err"; then
      result="the report does not show $provider serving the IO: $(grep -m1 "provider $provider" "$work/err" || true)"
    fi
    printf '%-14s %-10s %s\n' "$provider" "$mode" "$result"
    [ "$result" = ok ] || fail "$provider/$mode: $result"
  done
done

# --- 2. the example app keeps its WRITE buffers ---
for mode in "${modes[@]}"; do
  dump="$work/dump.img"
  if ! start_device "$bin/ublk-adopt-example" --mode "$mode" --size 32M --dump "$dump"; then
    fail "example/$mode: ublk-adopt-example did not start"
    continue
  fi
  head -c 8M /dev/urandom >"$work/expected"
  head -c 200K /dev/urandom >"$work/patch"
  ok=1
  # 64 KiB writes, then 4 KiB overwrites across them: the store splits adopted buffers.
  dd if="$work/expected" of="$dev" bs=64k oflag=direct status=none || ok=0
  dd if="$work/patch" of="$dev" bs=4k seek=300 oflag=direct conv=notrunc status=none || ok=0
  dd if="$work/patch" of="$work/expected" bs=4k seek=300 conv=notrunc status=none
  dd if="$dev" of="$work/back" bs=1M count=8 iflag=direct status=none || ok=0
  cmp -s "$work/back" "$work/expected" || { ok=0; fail "example/$mode: read back differs from what was written"; }
  rc=0
  stop_device || rc=$?
  audit="$(grep '^audit:' "$work/out" || true)"
  echo "example/$mode: $audit (exit $rc)"
  ((rc == 0)) || fail "example/$mode: exit $rc: $(tail -n1 "$work/err")"
  [[ " $audit " == *" userspace_copy_bytes=0 "* ]] || fail "example/$mode: WRITE data was copied in user space"
  [[ " $audit " == *" segments_outside_pool=0 "* ]] || fail "example/$mode: data outside the app's pool"
  [[ " $audit " == *" copied_writes=0 "* ]] || fail "example/$mode: WRITEs copied"
  [[ " $audit " =~ \ write_bytes=([0-9]+)\  ]] && ((BASH_REMATCH[1] >= 8 * 1024 * 1024)) ||
    fail "example/$mode: fewer WRITE bytes than written"
  # The dump is the device rebuilt from the adopted buffers alone.
  if [ -s "$dump" ] && cmp -s -n $((8 * 1024 * 1024)) "$dump" "$work/expected"; then
    echo "example/$mode: the written bytes are in the app's message buffers"
  else
    fail "example/$mode: the app's buffers do not hold the written bytes"
  fi
  ((ok)) || fail "example/$mode: dd failed"
done

if ((failures)); then
  echo "vm_verify: $failures failure(s)" >&2
  exit 1
fi
echo "vm_verify: PASS"
