#!/usr/bin/env bash
# nbd-remote.sh PORT: ublk-pool-nbd against an NBD server on another host: `nbdkit memory` that
# tests/integration/nbd-remote-host.sh started on the qemu host's 127.0.0.1:PORT, reached from the
# guest as $UBLK_VM_HOST:PORT over virtio-net and qemu's user networking (run-in-vm.sh --net).
# In get_data (copy where the kernel lacks it) and in user_copy (where the kernel has it):
#  - --queues 2: the report says multi-conn and 2 queues, `ss` shows 2 established connections
#    to $UBLK_VM_HOST:PORT;
#  - fio crc32c verify (randrw, 4 KiB to 1 MiB, iodepth 32, one job pinned to each guest CPU)
#    passes, the daemon reports 0 errors and READs on both queues, and zero-copy sends (the
#    default for a server on another host).
# Then a partition that no reset announces: the guest's NIC goes down under the daemon
# (--timeout 3), so the server neither answers nor acknowledges. A READ fails with EIO within
# the silent-peer limit (10 s) plus --timeout, not TCP's quarter of an hour, and once the NIC is
# back the daemon reconnects and the data written before the partition reads back.
source "$(dirname "$0")/lib.sh"

(($# == 1)) && [[ "$1" =~ ^[0-9]+$ ]] || fail "usage: nbd-remote.sh PORT (run by nbd-remote-host.sh)"
port="$1"
host="${UBLK_VM_HOST:-}"
[ -n "$host" ] || fail "UBLK_VM_HOST is not set: run through tests/vm/run-in-vm.sh --net (nbd-remote-host.sh does)"
require_ublk
require_binaries "$nbd_bin"
for tool in fio ss; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/setup.sh installs it)"
done
assert_clean "before the test"

modes=()
for m in $(kernel_modes); do [ "$m" = get_data ] && modes+=(get_data); done
((${#modes[@]})) || modes+=(copy)
for m in $(kernel_modes); do [ "$m" = user_copy ] && modes+=(user_copy); done

# Established connections to the server: the daemon's side of each one.
server_connections() { ss -Htn state established "( dst $host and dport = :$port )" | wc -l; }
sizes="4k/30:8k/10:16k/10:64k/20:128k/10:512k/10:1m/10"
offset=0
for mode in "${modes[@]}"; do
  daemon_start "$nbd_bin" --connect "tcp:$host:$port" --mode "$mode" --queues 2 --depth 32
  expect_report "mode $mode" "export '' on tcp:$host:$port: 67108864 bytes" "flags [a-z,-]*multi-conn" "live: 2 queue\(s\)"
  conns="$(server_connections)"
  ((conns == 2)) || { ss -tn >&2; fail "$conns established connection(s) to $host:$port for 2 queues, not 2"; }
  # Each mode on its own 32 MiB of the export, so that it cannot verify the data of the one before.
  run_fio "remote_$mode" --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=randrw \
    --bssplit="$sizes" --blockalign=4k --iodepth=32 --numjobs=2 --size=16M --offset="$offset" \
    --offset_increment=16M --cpus_allowed=0-1 --cpus_allowed_policy=split \
    --verify=crc32c --do_verify=1 --verify_fatal=1 --exitall_on_error=1
  daemon_stop
  # A server on another host gets zero-copy sends by default (WRITE batches of 64 KiB and up).
  expect_report "[^0-9]0 errors" "queue 0: [1-9][0-9]* reads" "queue 1: [1-9][0-9]* reads" \
    "target nbd: send_zc_write_bytes [1-9][0-9]* send_zc_sends [1-9]"
  log "$mode: 2 queues over 2 connections to $host:$port, fio verify passes, both queues served, zero-copy sends"
  offset=$((offset + 32 * 1024 * 1024))
done

# ---- a silent partition ----
nic="$(ip route show default | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -1)"
[ -n "$nic" ] || fail "no default route to cut"
daemon_start "$nbd_bin" --connect "tcp:$host:$port" --queues 1 --timeout 3
head -c 65536 /dev/urandom >"$work_dir/before"
dd if="$work_dir/before" of="$daemon_dev" bs=64k oflag=direct status=none || fail "the write before the partition failed"
ip link set "$nic" down
log "partition: $nic down"
cut_at=$SECONDS
# Direct, past the page cache, at an offset not read before: the READ goes to the daemon.
if dd if="$daemon_dev" of=/dev/null bs=4k count=1 skip=4096 iflag=direct status=none 2>"$work_dir/dd.err"; then
  fail "a READ succeeded with the server unreachable"
fi
waited=$((SECONDS - cut_at))
log "partition: the READ failed after ${waited}s: $(head -1 "$work_dir/dd.err")"
((waited <= 40)) || fail "the READ took ${waited}s to fail; the silent-peer limit is 10 s and --timeout 3 s"
expect_report "connection lost: (Connection timed out|No route to host|Network is unreachable)" "no connection for 3000 ms"
ip link set "$nic" up
ip route replace default via "$host" dev "$nic"
log "partition healed: $nic up"
healed=""
for ((i = 0; i < 60; i++)); do
  if dd if="$daemon_dev" of="$work_dir/after" bs=64k count=1 iflag=direct status=none 2>/dev/null; then
    healed=1
    break
  fi
  nap 0.5
done
[ -n "$healed" ] || { show "daemon stderr" "$daemon_err"; fail "no READ succeeded within 30 s of the partition's end"; }
cmp -s "$work_dir/before" "$work_dir/after" || fail "the data written before the partition does not read back"
daemon_stop
expect_report "reconnected to tcp:$host:$port"
log "partition: EIO after ${waited}s without a reset, then reconnected and the data reads back"
