#!/usr/bin/env bash
# net-tap-test.sh RUN_IN_VM KERNEL: the self-test of run-in-vm.sh --net tap (ctest vm_net_tap_7.3).
#   1. tests/vm/tap.sh create makes a device; zc_probe.py's sink listens on its host address; the
#      VM boots with --net tap:NAME, and in the guest UBLK_VM_NET must be tap, UBLK_VM_HOST the
#      device's host address, the NIC must have VIRTIO_NET_F_CSUM (checksum offload, so
#      scatter-gather), and 8 x 256 KiB MSG_ZEROCOPY sends to the sink must complete not copied.
#   2. --net tap made by run-in-vm.sh itself is removed again, here on a timeout (--timeout 3:
#      qemu is killed before the guest boots) and on TERM (while tap.sh creates it; once qemu
#      holds it).
#   Exit 0 on success, 1 on a failure, 77 (a skip) without root or /dev/net/tun.
set -euo pipefail
(($# == 2)) || { echo "usage: net-tap-test.sh RUN_IN_VM KERNEL" >&2; exit 2; }
run_in_vm="$1" kernel="$2"
here="$(cd "$(dirname "$0")" && pwd)"
probe="$here/../../bench/nbd_send_zc/zc_probe.py"
fail() { echo "[net-tap] FAIL: $*" >&2; exit 1; }
"$here/tap.sh" check || exit 77

work="$(mktemp -d "${TMPDIR:-/tmp}/net-tap-test.XXXXXX")"
name="" sink_pid="" vm_pid=""
trap 'rc=$?; set +e; [ -z "$vm_pid" ] || kill -TERM "$vm_pid" 2>/dev/null; [ -z "$sink_pid" ] || kill "$sink_pid" 2>/dev/null
      [ -z "$name" ] || "$here/tap.sh" delete "$name"; rm -rf "$work"; exit $rc' EXIT

read -r name host guest _ <<<"$("$here/tap.sh" create "$$")"
[ -n "$name" ] || fail "tap.sh create made no device"
python3 "$probe" sink "$host" "$work/port" &
sink_pid=$!
for _ in $(seq 150); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || fail "the probe's sink did not start on $host"
set +e
"$run_in_vm" --vm "$kernel" --net "tap:$name" --timeout 300 -- bash -c '
  set -e
  [ "$UBLK_VM_NET" = tap ] || { echo "UBLK_VM_NET=$UBLK_VM_NET, want tap"; exit 1; }
  [ "$UBLK_VM_HOST" = "$1" ] || { echo "UBLK_VM_HOST=$UBLK_VM_HOST, want $1"; exit 1; }
  features=$(cat /sys/class/net/eth0/device/features)
  [ "${features:0:1}" = 1 ] || { echo "eth0 lacks VIRTIO_NET_F_CSUM: $features"; exit 1; }
  ip -br addr show eth0
  python3 "$2" send "$UBLK_VM_HOST" "$3"' net-tap "$host" "$probe" "$(cat "$work/port")" >"$work/out" 2>&1
rc=$?
set -e
cat "$work/out"
((rc != 77)) || exit 77
((rc == 0)) || fail "the guest's checks failed (exit $rc)"
grep -q "eth0 .* $guest/" "$work/out" || fail "the guest's eth0 does not have $guest"
grep -q ': not copied (zero-copy)$' "$work/out" || fail "the probe's sends were not zero-copy"
kill "$sink_pid"
wait "$sink_pid" 2>/dev/null || true
sink_pid=""
"$here/tap.sh" delete "$name"
name=""

# The device run-in-vm.sh makes is gone after it exits: a timeout, then TERM.
set +e
"$run_in_vm" --vm "$kernel" --net tap --timeout 3 -- true >"$work/out" 2>&1 &
vm_pid=$!
for _ in $(seq 100); do [ -e "/sys/class/net/ublkvm-$vm_pid" ] && break; sleep 0.1; done
[ -e "/sys/class/net/ublkvm-$vm_pid" ] || { cat "$work/out"; fail "run-in-vm.sh --net tap made no ublkvm-$vm_pid"; }
wait "$vm_pid"
rc=$?
[ "$rc" = 124 ] || { cat "$work/out"; fail "--timeout 3 gave exit $rc, want 124"; }
[ ! -e "/sys/class/net/ublkvm-$vm_pid" ] || fail "ublkvm-$vm_pid left after the timeout"
# TERM twice: as soon as the device exists (tap.sh create may still be running), and once qemu
# holds it (carrier up).
for when in exists qemu; do
  "$run_in_vm" --vm "$kernel" --net tap --timeout 300 -- sleep 100 >"$work/out" 2>&1 &
  vm_pid=$!
  dev="/sys/class/net/ublkvm-$vm_pid"
  for _ in $(seq 300); do
    [ -e "$dev" ] && { [ "$when" = exists ] || [ "$(cat "$dev/carrier" 2>/dev/null)" = 1 ]; } && break
    sleep 0.1
  done
  [ -e "$dev" ] || { cat "$work/out"; fail "run-in-vm.sh --net tap made no ublkvm-$vm_pid"; }
  kill -TERM "$vm_pid"
  wait "$vm_pid"
  rc=$?
  [ "$rc" = 143 ] || { cat "$work/out"; fail "TERM ($when) gave exit $rc, want 143"; }
  [ ! -e "$dev" ] || fail "ublkvm-$vm_pid left after TERM ($when)"
done
set -e
vm_pid=""
echo "[net-tap] PASS: tap link with checksum offload, MSG_ZEROCOPY not copied, the device removed on timeout and TERM"
