#!/usr/bin/env bash
# nbd_send_zc: ublk-pool-nbd's zero-copy send (--send-zc) off and on, against an NBD server on
# another host: `nbdkit memory` on the qemu host, the daemons in the VM reaching it over virtio-net
# on a tap device (tests/vm/run-in-vm.sh --net tap: the guest's NIC has checksum offload and
# scatter-gather, so zero-copy sends can stay zero-copy) or on qemu's user networking (--net: no
# offloads, the kernel copies); natively, the host itself. Before the daemons start,
# zc_probe.py sends 8 x 256 KiB with MSG_ZEROCOPY over the same route and says whether they went
# zero-copy.
# Prints, for fio sequential writes (O_DIRECT, io_uring, iodepth 8) of 4k, 16k, 64k, 256k and 1m,
# each column's MiB/s and the on/off ratio, then each daemon's zero-copy counters (--json report).
# Both daemons are up for the whole run, one connection each, and each size runs on both back to
# back (which goes first alternates), so that the host's load weighs on a ratio's two sides alike.
#
# usage: nbd_send_zc.sh [--vm 7.3|6.12] [--cache DIR] [--seconds N] [--rounds N] [--build-dir DIR]
#                       [--send-zc SIZE] [--net tap|user]
#   --vm K          boot kernel K with tests/vm/run-in-vm.sh (default: natively when
#                   /dev/ublk-control exists, else 7.3); the cache must hold virtio_net
#                   (tests/vm/fetch-kernel.sh takes it; a cache fetched before lacks it: a skip)
#   --cache DIR     the VM kernel cache (default: run-in-vm.sh's)
#   --seconds N     per fio job (default 5)
#   --rounds N      run the whole sweep N times and print each cell's median, with the lowest and
#                   highest in brackets (default 1); one short run's ratio is mostly noise here
#   --build-dir DIR the build whose bin/ublk-pool-nbd runs (default: <repo>/build)
#   --send-zc SIZE  the "on" column's ublk-pool-nbd --send-zc SIZE (default 4k: every WRITE here).
#                   A daemon without --send-zc: only the "off" column is measured, and it says so
#   --net tap|user  the VM's link to the host (default: tap where tests/vm/tap.sh can make a device:
#                   root and /dev/net/tun; else user, saying why). tap: nbdkit listens on the
#                   host's address on the tap device (10.234.x.y); user: on the host's 127.0.0.1
set -euo pipefail

script_path="$(readlink -f "${BASH_SOURCE[0]}")"
repo_dir="$(cd "${script_path%/*}/../.." && pwd)"
build_dir="${UBLKPOOL_BUILD_DIR:-$repo_dir/build}"
vm_kernel="" cache_dir="" seconds=5 rounds=1 zc_size=4k in_vm=0 port="" net="" probe_port=""
while (($#)); do
  case "$1" in
    --vm) vm_kernel="${2:?}"; shift 2 ;;
    --cache) cache_dir="$(mkdir -p "${2:?}" && cd "$2" && pwd)"; shift 2 ;;
    --seconds) seconds="${2:?}"; shift 2 ;;
    --rounds) rounds="${2:?}"; shift 2 ;;
    --build-dir) build_dir="$(cd "${2:?}" && pwd)"; shift 2 ;;
    --send-zc) zc_size="${2:?}"; shift 2 ;;
    --net) net="${2:?}"; shift 2 ;;
    --in-vm) in_vm=1; port="${2:?}"; shift 2 ;;  # inside the VM, the server on $UBLK_VM_HOST:PORT
    --probe-port) probe_port="${2:?}"; shift 2 ;;  # inside the VM, zc_probe.py's sink
    -h | --help) sed -n '2,28p' "$script_path" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "nbd_send_zc: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "nbd_send_zc: bad --seconds '$seconds'" >&2; exit 2; }
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "nbd_send_zc: bad --rounds '$rounds'" >&2; exit 2; }
case "$vm_kernel" in "" | 7.3 | 6.12) ;; *) echo "nbd_send_zc: bad --vm '$vm_kernel': want 7.3 or 6.12" >&2; exit 2 ;; esac
case "$net" in "" | tap | user) ;; *) echo "nbd_send_zc: bad --net '$net': want tap or user" >&2; exit 2 ;; esac
probe="${script_path%/*}/zc_probe.py"

size=256M  # the export; each daemon writes its own half
if ((!in_vm)); then
  # ---- the host: the server, then the VM (or natively the host itself) ----
  command -v nbdkit >/dev/null || { echo "nbd_send_zc: nbdkit is missing (scripts/setup.sh installs it)" >&2; exit 1; }
  work="$(mktemp -d "${TMPDIR:-/tmp}/nbd_send_zc.XXXXXX")"
  server_pid="" vm_pid="" sink_pid="" tap_name=""
  cleanup() {
    set +e  # every step, whatever the one before returned
    [ -z "$vm_pid" ] || { kill -TERM "$vm_pid" 2>/dev/null; wait "$vm_pid" 2>/dev/null; }
    [ -z "$server_pid" ] || { kill -TERM "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; }
    [ -z "$sink_pid" ] || { kill -TERM "$sink_pid" 2>/dev/null; wait "$sink_pid" 2>/dev/null; }
    [ -z "$tap_name" ] || "$repo_dir/tests/vm/tap.sh" delete "$tap_name"
    rm -rf "$work"
  }
  trap 'rc=$?; cleanup; exit $rc' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # The link: natively there is none (the host itself); in a VM tap where a device can be made.
  listen=127.0.0.1
  if [ -z "$vm_kernel" ] && [ -e /dev/ublk-control ]; then
    net=user
  elif [ -z "$net" ]; then
    if why="$("$repo_dir/tests/vm/tap.sh" check 2>&1)"; then
      net=tap
      echo "nbd_send_zc: --net tap (the default where a tap device can be made)" >&2
    else
      net=user
      echo "nbd_send_zc: --net user: no tap here (${why#tap.sh: }); the kernel copies zero-copy sends over it" >&2
    fi
  fi
  if [ "$net" = tap ]; then
    # The device is made here, not by run-in-vm.sh, so that nbdkit can listen on its address first.
    tap_line="$("$repo_dir/tests/vm/tap.sh" create "$$")" || exit $?
    read -r tap_name listen _ _ <<<"$tap_line"
  fi
  # A free port when asked, not reserved: a start that fails is tried again on another.
  for _ in 1 2 3 4 5; do
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    rm -f "$work/nbdkit.pid"
    nbdkit -f --exit-with-parent -P "$work/nbdkit.pid" -i "$listen" -p "$port" memory "$size" 2>>"$work/nbdkit.err" &
    server_pid=$!
    for _ in $(seq 100); do { [ -s "$work/nbdkit.pid" ] || ! kill -0 "$server_pid" 2>/dev/null; } && break; sleep 0.1; done
    [ -s "$work/nbdkit.pid" ] && break
    kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true
    server_pid="" port=""
  done
  [ -n "$port" ] || { cat "$work/nbdkit.err" >&2; echo "nbd_send_zc: nbdkit did not start on $listen" >&2; exit 1; }
  echo "nbd_send_zc: nbdkit memory $size on the host's $listen:$port${tap_name:+ (tap device $tap_name)}" >&2
  # zc_probe.py's sink on the same address: the guest's probe sends to it.
  python3 "$probe" sink "$listen" "$work/probe.port" &
  sink_pid=$!
  for _ in $(seq 100); do { [ -s "$work/probe.port" ] || ! kill -0 "$sink_pid" 2>/dev/null; } && break; sleep 0.1; done
  probe_port="$(cat "$work/probe.port" 2>/dev/null || true)"
  [ -n "$probe_port" ] || echo "nbd_send_zc: the zero-copy probe's sink did not start: no probe" >&2
  set +e
  # UBLKPOOL_BUILD_DIR in the environment (not through env(1)): run-in-vm.sh passes UBLK* variables
  # on and shows the guest a build dir under the host's /tmp.
  UBLKPOOL_BUILD_DIR="$build_dir" "$repo_dir/tests/vm/run-in-vm.sh" ${vm_kernel:+--vm "$vm_kernel"} \
    ${cache_dir:+--cache "$cache_dir"} --net "${tap_name:+tap:}${tap_name:-user}" --timeout 2400 -- \
    "$script_path" --seconds "$seconds" --rounds "$rounds" --send-zc "$zc_size" ${probe_port:+--probe-port "$probe_port"} \
    --in-vm "$port" &
  vm_pid=$!
  wait "$vm_pid"
  rc=$?
  vm_pid=""
  exit "$rc"
fi

# ---- the guest (or natively the host): the daemons and fio ----
host="${UBLK_VM_HOST:?nbd_send_zc: UBLK_VM_HOST is not set (run-in-vm.sh --net sets it)}"
nbd_bin="$build_dir/bin/ublk-pool-nbd"
[ -x "$nbd_bin" ] || { echo "nbd_send_zc: $nbd_bin is missing: build it first" >&2; exit 1; }
for tool in fio python3; do
  command -v "$tool" >/dev/null || { echo "nbd_send_zc: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
work="$(mktemp -d /run/nbd_send_zc.XXXXXX)"
declare -A dev=() pid=() mibs=()
cleanup() {
  local p
  for p in "${pid[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pid[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

columns=(off)
zc_args_off=()
if "$nbd_bin" --help 2>&1 | grep -q -- --send-zc; then
  columns+=(on)
  zc_args_off=(--send-zc off)
else
  echo "nbd_send_zc: $nbd_bin has no --send-zc (zero-copy send not in this build): only the off column is measured" >&2
fi

# start_daemon COLUMN ARGS...: one daemon, one connection to the server; dev[COLUMN] its device.
start_daemon() {
  local column="$1" out="$work/dev.$1"
  shift
  "$nbd_bin" --connect "tcp:$host:$port" --queues 1 --depth 64 --json "$@" >"$out" 2>"$out.err" &
  pid[$column]=$!
  for _ in $(seq 300); do [ -s "$out" ] && break; kill -0 "${pid[$column]}" 2>/dev/null || break; sleep 0.1; done
  dev[$column]="$(head -1 "$out")"
  [[ "${dev[$column]}" == /dev/ublkb* ]] || { cat "$out.err" >&2; echo "nbd_send_zc: the $column daemon did not start" >&2; exit 1; }
}
start_daemon off "${zc_args_off[@]}"
[ "${#columns[@]}" = 1 ] || start_daemon on --send-zc "$zc_size"

# mib_s DEVICE BS OFFSET: a sequential write with fio; prints its MiB/s.
mib_s() {
  fio --name=w --filename="$1" --direct=1 --ioengine=io_uring --rw=write --bs="$2" --iodepth=8 --eta=never \
    --offset="$3" --size=128M --time_based --runtime="$seconds" --ramp_time=1 --output-format=json --output="$work/out.json"
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]; print("%.1f" % (j["write"]["bw_bytes"] / 1048576))' \
    "$work/out.json"
}
sizes=(4k 16k 64k 256k 1m)
declare -A offset=([off]=0 [on]=128M)
# The columns take turns going first (off, on; then on, off; ...), so that neither always runs
# right after the other.
# mibs[COLUMN,BS] collects each round's MiB/s, space-separated.
order=("${columns[@]}")
for ((round = 1; round <= rounds; round++)); do
  for bs in "${sizes[@]}"; do
    for c in "${order[@]}"; do mibs[$c,$bs]+="$(mib_s "${dev[$c]}" "$bs" "${offset[$c]}") "; done
    [ "${#order[@]}" = 1 ] || order=("${order[1]}" "${order[0]}")
  done
done

# Each daemon's --json report follows its device line: its counters whose path in the report has
# "zc" or "zerocopy" in it, wherever the report keeps them, and its WRITEs. The report's top-level
# "zero_copy" and "shmem_zc" are ublk's (IO served from the requests' or shared pages), not the
# send's, and are left out.
for c in "${columns[@]}"; do
  kill -TERM "${pid[$c]}"
  wait "${pid[$c]}" || { cat "$work/dev.$c.err" >&2; echo "nbd_send_zc: the $c daemon failed its stop" >&2; exit 1; }
done
pid=()
counters() {
  tail -n +2 "$work/dev.$1" | python3 -c '
import json, re, sys
report = json.load(sys.stdin)
found = []
def walk(node, path):
    if isinstance(node, dict):
        for key, value in node.items():
            name = path + "." + key if path else key
            if isinstance(value, (dict, list)):
                walk(value, name)
            elif (value is not None and not re.match(r"(zero_copy|shmem_zc)(\.|$)", name)
                  and re.search(r"zc|zero.?copy", name, re.I)):
                found.append("%s=%s" % (name, value))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            walk(value, "%s[%d]" % (path, i))
walk(report, "")
def first(node, key):
    if isinstance(node, dict):
        if key in node and not isinstance(node[key], (dict, list)):
            return node[key]
        for value in node.values():
            v = first(value, key)
            if v is not None:
                return v
    elif isinstance(node, list):
        for value in node:
            v = first(value, key)
            if v is not None:
                return v
    return None
print("mode %s, writes=%s write_bytes=%s; " % (report.get("mode"), first(report, "writes"), first(report, "write_bytes")) +
      (" ".join(found) if found else "no zero-copy counters in the report"))'
}

# Whether the kernel can send from the daemon's pages at all: TCP sends zero-copy only through a
# device with scatter-gather, which virtio-net has only with VIRTIO_NET_F_CSUM (feature bit 0),
# which qemu offers only with a backend that takes virtio-net headers (tap, not slirp); and over
# loopback the kernel copies anyway (Documentation/networking/msg_zerocopy.rst). Then the probe
# (before the daemons start): MSG_ZEROCOPY sends over the same route, copied or not.
nic_note() {
  local route nic features
  route="$(ip -o route get "$host" 2>/dev/null || true)"
  nic="$(sed -n 's/.* dev \([^ ]*\).*/\1/p' <<<"$route")"
  if [ -z "$nic" ]; then
    echo "route to $host: unknown"
  elif [ "$nic" = lo ]; then
    echo "route to $host: loopback: the kernel copies zero-copy sends anyway"
  elif [ -r "/sys/class/net/$nic/device/features" ]; then
    features="$(<"/sys/class/net/$nic/device/features")"
    if [ "${features:0:1}" = 1 ]; then
      echo "route to $host: $nic, virtio-net with VIRTIO_NET_F_CSUM (scatter-gather; ${UBLK_VM_NET:-?} networking): zero-copy sends possible"
    else
      echo "route to $host: $nic, virtio-net without VIRTIO_NET_F_CSUM (qemu's user networking offers none), so no scatter-gather: the kernel copies zero-copy sends anyway"
    fi
  else
    echo "route to $host: $nic"
  fi
}

case "${UBLK_VM_NET:-}" in
  tap) link="the qemu host's address on a tap device, over virtio-net with checksum offload" ;;
  user) link="the qemu host's 127.0.0.1 over virtio-net and slirp" ;;
  *) link="the host itself" ;;
esac
echo "kernel $(uname -r), $(nproc) CPU(s); server: nbdkit memory $size on $host:$port ($link)"
nic_note
if [ -n "$probe_port" ]; then
  python3 "$probe" send "$host" "$probe_port" || true
else
  echo "zc_probe: not run (no sink on the host)"
fi
echo "ublk-pool-nbd: 1 queue (1 connection), depth 64, default mode and pool; off: ${zc_args_off[*]:-(no --send-zc in this build)}${columns[1]:+; on: --send-zc $zc_size}"
echo "fio sequential write, io_uring, O_DIRECT, iodepth 8, ${seconds} s per job after 1 s of ramp, $rounds round(s); load average $(cut -d' ' -f1-3 /proc/loadavg) (guest)"
# The table: per size, each column's MiB/s (with rounds: the median, then [lowest-highest]) and
# the ratio of the medians.
for bs in "${sizes[@]}"; do
  printf '%s' "$bs"
  for c in "${columns[@]}"; do printf ' | %s' "${mibs[$c,$bs]}"; done
  echo
done | python3 -c '
import statistics, sys
rows = [[cell.split() for cell in line.rstrip("\n").split(" | ")] for line in sys.stdin]
columns = len(rows[0]) - 1
def cell(values):
    v = [float(x) for x in values]
    text = "%.1f" % statistics.median(v)
    return text if len(v) == 1 else "%s [%.1f-%.1f]" % (text, min(v), max(v))
width = max([len(cell(c)) for r in rows for c in r[1:]] + [len("off MiB/s")]) + 2
head = "%-6s %*s" % ("bs", width, "off MiB/s")
if columns == 2:
    head += " %*s %8s" % (width, "on MiB/s", "on/off")
print(head)
for r in rows:
    line = "%-6s %*s" % (r[0][0], width, cell(r[1]))
    if columns == 2:
        off, on = statistics.median(map(float, r[1])), statistics.median(map(float, r[2]))
        line += " %*s %8s" % (width, cell(r[2]), "%.2f" % (on / off) if off else "-")
    print(line)
'
for c in "${columns[@]}"; do echo "counters ($c): $(counters "$c")"; done
