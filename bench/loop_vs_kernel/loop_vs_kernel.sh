#!/usr/bin/env bash
# loop_vs_kernel: ublk-pool-loop in each buffer mode against the kernel's loop driver
# (losetup --direct-io=on), on the same backing file in a tmpfs, in one run. Prints, for 4k
# randread / randwrite at iodepth 1 and 32 and 1 MiB sequential read / write, the kernel loop's
# IOPS and each mode's ratio to it, then each daemon's peak RSS (VmHWM).
#
# usage: loop_vs_kernel.sh [--vm 7.3|6.12] [--cache DIR] [--seconds N] [--build-dir DIR]
#   --vm K        boot kernel K with tests/vm/run-in-vm.sh (default: natively when
#                 /dev/ublk-control exists, else 7.3); the cache must hold the loop module
#                 (tests/vm/fetch-kernel.sh lists it; a cache fetched before it lacks it)
#   --cache DIR   the VM kernel cache (default: run-in-vm.sh's)
#   --seconds N   per fio job (default 5)
set -euo pipefail

script_path="$(readlink -f "${BASH_SOURCE[0]}")"
repo_dir="$(cd "${script_path%/*}/../.." && pwd)"
build_dir="${UBLKPOOL_BUILD_DIR:-$repo_dir/build}"
vm_kernel="" cache_args=() seconds=5 in_vm=0
while (($#)); do
  case "$1" in
    --vm) vm_kernel="${2:?}"; shift 2 ;;
    --cache) cache_args=(--cache "${2:?}"); shift 2 ;;
    --seconds) seconds="${2:?}"; shift 2 ;;
    --build-dir) build_dir="$(cd "${2:?}" && pwd)"; shift 2 ;;
    --in-vm) in_vm=1; shift ;;  # already inside the VM
    -h | --help) sed -n '2,14p' "$script_path" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "loop_vs_kernel: unknown option '$1'" >&2; exit 2 ;;
  esac
done
if ((!in_vm)) && { [ -n "$vm_kernel" ] || [ ! -c /dev/ublk-control ]; }; then
  exec "$repo_dir/tests/vm/run-in-vm.sh" --kernel "${vm_kernel:-7.3}" "${cache_args[@]}" --timeout 1500 -- \
    env UBLKPOOL_BUILD_DIR="$build_dir" "$script_path" --seconds "$seconds" --in-vm
fi

loop_bin="$build_dir/bin/ublk-pool-loop"
[ -x "$loop_bin" ] || { echo "loop_vs_kernel: $loop_bin is missing: build it first" >&2; exit 1; }
[ -e /dev/loop-control ] || modprobe loop 2>/dev/null || true
[ -e /dev/loop-control ] || { echo "loop_vs_kernel: no kernel loop driver here (/dev/loop-control)" >&2; exit 1; }

work="$(mktemp -d /tmp/loop_vs_kernel.XXXXXX)"
mount -t tmpfs -o size=600M tmpfs "$work"
backing="$work/backing.img"
cleanup() {
  local p
  for p in "${pid[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 1
  losetup -D 2>/dev/null || true
  umount "$work" 2>/dev/null || true
  rmdir "$work" 2>/dev/null || true
}
size=512M
# shellcheck source=../common/vs_kernel.sh
source "$repo_dir/bench/common/vs_kernel.sh"
trap cleanup EXIT
fio --name=fill --eta=never --filename="$backing" --size=512M --rw=write --bs=1M --ioengine=psync --output=/dev/null
sync

jobs=("randread 4k 1" "randread 4k 32" "randwrite 4k 1" "randwrite 4k 32" "read 1M 8" "write 1M 8")

set_modes "$build_dir" zero_copy
# get_data on std::pmr buffers: not registered with the ring, so plain READ/WRITE instead of
# READ_FIXED/WRITE_FIXED (what the fixed buffers are worth).
[[ " ${modes[*]} " == *" get_data "* ]] && modes+=(get_data/pmr)

loopdev="$(losetup -f --show --direct-io=on "$backing")"
dio="$(cat "/sys/block/${loopdev#/dev/}/loop/dio" 2>/dev/null || echo '?')"
for mode in "${modes[@]}"; do
  provider=pool
  [[ "$mode" == */* ]] && provider="${mode#*/}"
  start_daemon "$mode" "$loop_bin" --file "$backing" --mode "${mode%/*}" --provider "$provider" --depth 64
done
measure "$loopdev"
stop_daemons
losetup -d "$loopdev"

echo "kernel $(uname -r), $(nproc) CPU(s); backing: one 512 MiB file in a tmpfs; kernel loop dio=$dio;"
echo "ublk-pool-loop: 1 queue, depth 64, default pool; fio io_uring direct, ${seconds} s per job, jobs interleaved"
print_table "kernel loop"
