#!/usr/bin/env bash
# nbd_vs_kernel: ublk-pool-nbd in each buffer mode against the kernel's NBD client (nbd-client
# and nbd.ko), on the same `nbdkit memory` export over a unix socket, in one run. Prints, for 4k
# randread / randwrite at iodepth 1 and 32 and a 1 MiB sequential write, the kernel client's
# IOPS and each mode's ratio to it, then each daemon's peak RSS (VmHWM; /THP: its AnonHugePages)
# and copies per byte. Column copy+app is copy mode with --app-copy (each WRITE copied once more
# in user space before it is sent: the 2-memcpy baseline of the seed's Table 2).
# One connection on each side: nbd-client's default, and ublk-pool-nbd's one queue.
#
# usage: nbd_vs_kernel.sh [--vm 7.3|6.12] [--cache DIR] [--seconds N] [--rounds N] [--job "RW BS QD"]...
#                         [--build-dir DIR] [--baseline BIN]
#   --vm K        boot kernel K with tests/vm/run-in-vm.sh (default: natively when
#                 /dev/ublk-control exists, else 7.3); the cache must hold the nbd module
#                 (tests/vm/fetch-kernel.sh lists it; a cache fetched before it lacks it)
#   --cache DIR   the VM kernel cache (default: run-in-vm.sh's)
#   --seconds N   per fio job (default 5)
#   --rounds N    run every job N times on each device, and show the medians (default 1)
#   --job "RW BS QD"  only this fio job (repeatable; e.g. --job "randread 4k 32"); default: the
#                 five above
#   --baseline BIN  also another ublk-pool-nbd (an older build) in each mode, as columns
#                 MODE/base: a before/after comparison within one run
set -euo pipefail

script_path="$(readlink -f "${BASH_SOURCE[0]}")"
repo_dir="$(cd "${script_path%/*}/../.." && pwd)"
build_dir="${UBLKPOOL_BUILD_DIR:-$repo_dir/build}"
vm_kernel="" cache_dir="" seconds=5 rounds=1 in_vm=0 baseline=""
jobs=()
while (($#)); do
  case "$1" in
    --vm) vm_kernel="${2:?}"; shift 2 ;;
    --cache) cache_dir="$(mkdir -p "${2:?}" && cd "$2" && pwd)"; shift 2 ;;
    --seconds) seconds="${2:?}"; shift 2 ;;
    --rounds) rounds="${2:?}"; shift 2 ;;
    --job) jobs+=("${2:?}"); shift 2 ;;
    --build-dir) build_dir="$(cd "${2:?}" && pwd)"; shift 2 ;;
    --baseline) baseline="$(readlink -f "${2:?}")"; shift 2 ;;
    --in-vm) in_vm=1; shift ;;  # already inside the VM
    -h | --help) sed -n '2,22p' "$script_path" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "nbd_vs_kernel: unknown option '$1'" >&2; exit 2 ;;
  esac
done
if ((!in_vm)) && { [ -n "$vm_kernel" ] || [ ! -c /dev/ublk-control ]; }; then
  kernel="${vm_kernel:-7.3}"
  kdir="${cache_dir:-${UBLK_VM_CACHE:-$repo_dir/build/vm}}/kernel-$kernel"
  # fetch-kernel.sh does not fetch a complete cache again for an optional module it lacks.
  if [ -s "$kdir/modules/load-order" ] && ! grep -q '^nbd\b' "$kdir/modules/load-order"; then
    echo "nbd_vs_kernel: the VM kernel cache $kdir has no nbd module (it was fetched before" \
      "tests/vm/fetch-kernel.sh listed nbd): give --cache NEW_DIR, or remove $kdir, to fetch it" >&2
    exit 1
  fi
  job_args=()
  for job in "${jobs[@]}"; do job_args+=(--job "$job"); done
  exec "$repo_dir/tests/vm/run-in-vm.sh" --kernel "$kernel" ${cache_dir:+--cache "$cache_dir"} --timeout 3600 -- \
    env UBLKPOOL_BUILD_DIR="$build_dir" "$script_path" --seconds "$seconds" --rounds "$rounds" "${job_args[@]}" \
    ${baseline:+--baseline "$baseline"} --in-vm
fi

nbd_bin="$build_dir/bin/ublk-pool-nbd"
[ -x "$nbd_bin" ] || { echo "nbd_vs_kernel: $nbd_bin is missing: build it first" >&2; exit 1; }
[ -z "$baseline" ] || [ -x "$baseline" ] || { echo "nbd_vs_kernel: --baseline $baseline is not executable" >&2; exit 1; }
for tool in nbdkit nbd-client fio python3; do
  command -v "$tool" >/dev/null || { echo "nbd_vs_kernel: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
[ -e /sys/module/nbd ] || modprobe nbd 2>/dev/null || true
[ -b /dev/nbd0 ] || {
  echo "nbd_vs_kernel: no kernel NBD client here (no nbd module loaded, no /dev/nbd0; in the VM the" \
    "module comes from the kernel cache: tests/vm/fetch-kernel.sh)" >&2
  exit 1
}

# The guest's /tmp may be 9p, which cannot hold a socket: the socket goes under /run.
work="$(mktemp -d /run/nbd_vs_kernel.XXXXXX)"
sock="$work/nbdkit.sock"
size=256M
server_pid=""
nbddev=/dev/nbd0
# shellcheck source=../common/vs_kernel.sh
source "$repo_dir/bench/common/vs_kernel.sh"
cleanup() {
  local p
  for p in "${pid[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 1
  nbd-client -d "$nbddev" >/dev/null 2>&1 || true
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
nbdkit -f -U "$sock" memory "$size" 2>"$work/nbdkit.err" &
server_pid=$!
for _ in $(seq 300); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { cat "$work/nbdkit.err" >&2; echo "nbd_vs_kernel: nbdkit did not start" >&2; exit 1; }

# The kernel's client: one connection (nbd-client's default), 512 B blocks (ublk-pool-nbd's
# logical block for this export), netlink setup.
nbd-client -unix "$sock" "$nbddev" -b 512 >"$work/nbd-client.out" 2>&1 ||
  { cat "$work/nbd-client.out" >&2; echo "nbd_vs_kernel: nbd-client could not connect $nbddev" >&2; exit 1; }
for _ in $(seq 100); do (($(cat "/sys/block/${nbddev#/dev/}/size") > 0)) && break; sleep 0.1; done
# Data everywhere, so that reads return data and not the plugin's holes.
fio --name=fill --eta=never --filename="$nbddev" --direct=1 --ioengine=io_uring --size="$size" --rw=write --bs=1M \
  --iodepth=8 --output=/dev/null

((${#jobs[@]})) || jobs=("randread 4k 1" "randread 4k 32" "randwrite 4k 1" "randwrite 4k 32" "write 1M 8")

set_modes "$build_dir"
declare -A copies
for mode in "${modes[@]}"; do
  start_daemon "$mode" "$nbd_bin" --connect "unix:$sock" --mode "$mode" --queues 1 --depth 64 --json
done
if [ -n "$baseline" ]; then
  for mode in "${modes[@]}"; do
    start_daemon "$mode/base" "$baseline" --connect "unix:$sock" --mode "$mode" --queues 1 --depth 64 --json
    modes+=("$mode/base")
  done
fi
# The seed's 2-memcpy baseline: copy mode, and each WRITE copied once more into an application
# buffer before it is sent (--app-copy), as a network layer that cannot send from the request's
# buffer would. get_data against it is the seed's Table 2 for this backend.
start_daemon copy+app "$nbd_bin" --connect "unix:$sock" --mode copy --app-copy --queues 1 --depth 64 --json
modes+=(copy+app)
measure "$nbddev"
stop_daemons
for mode in "${modes[@]}"; do
  # The --json report follows the device line: the kernel's copies per byte, the daemon's per
  # WRITE byte and per READ byte (a build older than that counter reports none: "-").
  copies[$mode]="$(tail -n +2 "$(out_file "$mode")" | python3 -c '
import json, sys
c = json.load(sys.stdin)["copies"]
r = c.get("userspace_per_read_byte")
print("%.2f/%.2f/%s" % (c["kernel_per_byte"], c["userspace_per_write_byte"], "-" if r is None else "%.2f" % r))')"
done
nbd-client -d "$nbddev" >/dev/null 2>&1 || true

echo "kernel $(uname -r), $(nproc) CPU(s); export: nbdkit memory $size on a unix socket, filled; one connection each;"
echo "kernel client: nbd-client -b 512 (nbd.ko, 1 connection); ublk-pool-nbd: 1 queue, depth 64, default pool;"
[ -z "$baseline" ] || echo "MODE/base: $baseline"
echo "fio io_uring direct, ${seconds} s per job, jobs interleaved, medians of $rounds round(s); load average $(cut -d' ' -f1-3 /proc/loadavg) (guest)"
print_table "kernel nbd"
printf '%-16s %14s' "copies k/uw/ur" "-"; for m in "${modes[@]}"; do printf ' %12s' "${copies[$m]}"; done; echo
if [ -n "${dev[get_data]:-}" ]; then
  echo "get_data / copy+app (the seed's Table 2 for this backend; above 1: get_data is faster):"
  for i in "${!jobs[@]}"; do
    printf '  %-16s %s\n' "${jobs[$i]}" "$(python3 -c "print(f'{${ratio[get_data,$i]}/${ratio[copy+app,$i]}:.2f}')")"
  done
fi
