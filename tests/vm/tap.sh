#!/usr/bin/env bash
# tap.sh: the host's side of run-in-vm.sh --net tap (docs/vm-harness.md, "Network").
#   tap.sh check            exit 0 when a tap device can be made here (root, /dev/net/tun, ip);
#                           else print the reason and exit 77
#   tap.sh create ID        make tap device ublkvm-ID (ID: the caller's PID, so that concurrent
#                           runs get distinct devices), give the host the first address of a
#                           free /30 in 10.234.0.0/16 and bring it up; print
#                           "NAME HOST_ADDR GUEST_ADDR PREFIX" (e.g. "ublkvm-4242 10.234.16.161
#                           10.234.16.162 30"). Exit 77 when no tap can be made (the reason printed)
#   tap.sh delete NAME      remove the device (and so its address and route); quiet when gone
#   tap.sh addrs NAME       print "HOST_ADDR GUEST_ADDR PREFIX" of a device create made
#
# The /30 is picked from the ID (ID mod 16384) and moved on while a host address already lies in
# it, so two runs at once get different subnets. 10.234.0.0/16 is assumed unused on the host: a
# /30 route there would take that range's traffic from whatever else routes it. create also
# removes ublkvm-N devices whose process N is gone (a run killed with SIGKILL cannot clean up).
set -euo pipefail

prefix=30
skip() { echo "tap.sh: $*" >&2; exit 77; }

check() {
  [ "$(id -u)" = 0 ] || skip "tap networking needs root (a tap device and host addresses)"
  [ -c /dev/net/tun ] && [ -r /dev/net/tun ] && [ -w /dev/net/tun ] || skip "tap networking needs /dev/net/tun"
  command -v ip >/dev/null || skip "tap networking needs ip (iproute2)"
}

# host_addr_in A.B.C.D: true when a host address lies in A.B.C.D/30.
host_addr_in() { [ -n "$(ip -o -4 addr show to "$1/$prefix" 2>/dev/null)" ]; }

addrs() {
  local cidr host last guest
  cidr="$(ip -o -4 addr show dev "$1" | awk '{ print $4; exit }')"
  [ -n "$cidr" ] || { echo "tap.sh: $1 has no IPv4 address" >&2; exit 1; }
  host="${cidr%/*}"
  last="${host##*.}"
  guest="${host%.*}.$((last + 1))"
  echo "$host $guest ${cidr#*/}"
}

case "${1:-}" in
  check) check ;;
  create)
    id="${2:?usage: tap.sh create ID}"
    [[ "$id" =~ ^[0-9]{1,8}$ ]] || { echo "tap.sh: bad ID '$id' (a PID)" >&2; exit 2; }
    check
    name="ublkvm-$id"
    # Leftovers of runs that could not clean up (SIGKILL): their process is gone.
    for path in /sys/class/net/ublkvm-*; do
      [ -e "$path" ] || continue
      other="${path##*/ublkvm-}"
      [[ "$other" =~ ^[0-9]+$ ]] && [ ! -d "/proc/$other" ] && ip link del "ublkvm-$other" 2>/dev/null || true
    done
    ip link show "$name" >/dev/null 2>&1 && ip link del "$name"
    ip tuntap add dev "$name" mode tap 2>/dev/null || skip "ip tuntap add dev $name mode tap failed"
    slot=$((id % 16384))
    for ((try = 0; try < 16384; try++)); do
      net=$(((slot + try) % 16384 * 4))
      base="10.234.$((net / 256)).$((net % 256))"
      host_addr_in "$base" && continue
      host="10.234.$((net / 256)).$((net % 256 + 1))"
      guest="10.234.$((net / 256)).$((net % 256 + 2))"
      if ip addr add "$host/$prefix" dev "$name" && ip link set "$name" up; then
        echo "$name $host $guest $prefix"
        exit 0
      fi
      break
    done
    ip link del "$name" 2>/dev/null || true
    echo "tap.sh: could not give $name an address in 10.234.0.0/16" >&2
    exit 1 ;;
  delete)
    name="${2:?usage: tap.sh delete NAME}"
    [[ "$name" == ublkvm-* ]] || { echo "tap.sh: '$name' is not a device tap.sh made" >&2; exit 2; }
    ip link del "$name" 2>/dev/null || true ;;
  addrs) addrs "${2:?usage: tap.sh addrs NAME}" ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
