#!/usr/bin/env bash
# nbd.sh: ublk-pool-nbd against real NBD servers from Debian's packages, in one boot:
#  1. fio crc32c verify (randrw, 512 B to 1 MiB, iodepth 64, 2 queues) against `nbdkit memory`
#     over a unix socket, in every buffer mode the kernel offers;
#  1b. the export's FLUSH/TRIM/WRITE_ZEROES and read-only flag reach the device;
#  1c. the same fio verify with an adapter's provider (jemalloc, or pmr when jemalloc is not
#      built) in get_data mode (copy where the kernel lacks it);
#  2. mkfs.ext4 + copy a tree + remount + checksums + fsck on a qcow2 image served by qemu-nbd;
#  3. qemu-nbd (on a raw file, so the data persists) killed and restarted mid-IO: fio verify
#     completes with zero errors;
#  4. the server killed for good: IO fails at --timeout, no hang, the daemon stops cleanly;
#  4b. SIGTERM with the server away and --timeout 600: the daemon stops within 10 s, and the
#      read that waited for the server fails;
#  5. user recovery: the daemon (--recovery-reissue) SIGKILLed under fio verify writes, and
#     `--recover N --connect` to the same nbdkit takes the device over: fio ends with 0 errors
#     and the data written before the crash verifies. A server whose export changed size is
#     refused for the takeover; `ublk-pool del` removes the device then.
#  6. TCP: against `nbdkit memory` on 127.0.0.1 (multi-conn) the daemon opens one connection per
#     queue, both queues carry IO and fio verify passes; against the same export with multi-conn
#     switched off (nbdkit's multi-conn filter) it serves one queue over one connection and says why.
# Sockets live under /run: the guest's /tmp may be 9p, which cannot hold them.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../reliability/rel-lib.sh"

require_ublk
require_binaries "$nbd_bin" "$admin_bin"
for tool in nbdkit qemu-nbd qemu-img fio mkfs.ext4; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/setup.sh installs it)"
done
assert_clean "before the test"

sock_dir="$(mktemp -d /run/nbd-test.XXXXXX)"
server_pid=""
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -"${1:-TERM}" "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
trap 'rc=$?; [ -z "$fio_pid" ] || kill -KILL "$fio_pid" 2>/dev/null; stop_server KILL; rm -rf "$sock_dir"; (exit $rc); on_exit' EXIT

# start_server READY CMD...: starts an NBD server in the background and waits (20 s) until READY
# exists: its unix socket, or a pid file the server writes once it accepts (not empty).
start_server() {
  local ready="$1" i
  shift
  rm -f "$ready"
  "$@" >>"$work_dir/server.log" 2>&1 &
  server_pid=$!
  for ((i = 0; i < 200; i++)); do
    [[ -S "$ready" || -s "$ready" ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || { show "server log" "$work_dir/server.log"; fail "$1 exited at start"; }
    nap 0.1
  done
  fail "$1 did not create $ready"
}

sizes="512/10:4k/30:8k/10:64k/20:128k/10:512k/10:1m/10"

# ---- 1. fio verify against nbdkit memory, every mode ----
sock="$sock_dir/nbdkit.sock"
for mode in $(kernel_modes); do
  start_server "$sock" nbdkit -f -U "$sock" memory 64M
  daemon_start "$nbd_bin" --connect "unix:$sock" --mode "$mode" --queues 2 --depth 64
  expect_report "mode $mode" "export '' on unix:$sock: 67108864 bytes"
  run_fio "nbdkit_$mode" --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=randrw \
    --bssplit="$sizes" --blockalign=512 --iodepth=64 --numjobs=2 --size=8M --offset_increment=8M \
    --verify=crc32c --do_verify=1 --verify_fatal=1 --exitall_on_error=1
  daemon_stop
  # A unix socket cannot send zero-copy: the daemon does not try (no counters, no fallback line).
  expect_report "[^0-9]0 errors"
  if [[ "$(<"$daemon_err")$(<"$daemon_out")" =~ zero-copy|send_zc ]]; then fail "zero-copy send tried on a unix socket"; fi
  stop_server
done

# ---- 1b. the ops the export advertises reach the device: nbdkit memory takes FLUSH, FUA, TRIM
# and WRITE_ZEROES; `nbdkit -r` is read-only ----
start_server "$sock" nbdkit -f -U "$sock" memory 16M
daemon_start "$nbd_bin" --connect "unix:$sock"
queue_dir="/sys/block/${daemon_dev#/dev/}/queue"
[ "$(cat "$queue_dir/write_cache")" = "write back" ] || fail "the device has no volatile cache: FLUSH never reaches the server"
(($(cat "$queue_dir/discard_max_bytes") > 0)) || fail "the device advertises no DISCARD"
head -c 2M /dev/urandom | dd of="$daemon_dev" bs=1M oflag=direct status=none || fail "pattern write failed"
blkdiscard -o 0 -l 1M "$daemon_dev" || fail "blkdiscard failed"
blkdiscard -z -o 1M -l 1M "$daemon_dev" || fail "blkdiscard -z (WRITE_ZEROES) failed"
cmp -n 2M "$daemon_dev" /dev/zero || fail "the trimmed / zeroed range does not read back as zeroes"
run_fio nbd_flush --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=write --bs=4k --size=256k --fsync=1
daemon_stop
expect_report "[1-9][0-9]* flushes, [1-9][0-9]* discards" "[^0-9]0 errors"
stop_server
start_server "$sock" nbdkit -f -r -U "$sock" memory 16M
daemon_start "$nbd_bin" --connect "unix:$sock"
[ "$(cat "/sys/block/${daemon_dev#/dev/}/ro")" = 1 ] || fail "a read-only export gave a writable device"
dd if="$daemon_dev" of=/dev/null bs=1M count=1 iflag=direct status=none || fail "reading a read-only export failed"
daemon_stop
stop_server
log "the export's FLUSH, TRIM, WRITE_ZEROES and read-only flag reach the device"

# ---- 1c. buffers from an adapter's provider ----
provider=pmr
while IFS= read -r name; do [ "$name" = jemalloc ] && provider=jemalloc; done < <("$nbd_bin" --list-providers)
pmode=copy
for m in $(kernel_modes); do [ "$m" = get_data ] && pmode=get_data; done
start_server "$sock" nbdkit -f -U "$sock" memory 64M
daemon_start "$nbd_bin" --connect "unix:$sock" --mode "$pmode" --provider "$provider" --queues 2 --depth 64
run_fio "nbdkit_$provider" --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=randrw \
  --bssplit="$sizes" --blockalign=512 --iodepth=64 --numjobs=2 --size=8M --offset_increment=8M \
  --verify=crc32c --do_verify=1 --verify_fatal=1 --exitall_on_error=1
daemon_stop
expect_report "mode $pmode, provider $provider" "provider $provider: [1-9][0-9]* acquires, 0 failed" "[^0-9]0 errors"
stop_server
log "fio verify with buffers from the $provider provider ($pmode): 0 errors"

# ---- 2. a filesystem on a qcow2 image behind qemu-nbd ----
img="$work_dir/disk.qcow2"
qemu-img create -q -f qcow2 "$img" 128M
sock="$sock_dir/qemu.sock"
start_server "$sock" qemu-nbd --socket="$sock" --format=qcow2 --persistent --shared=4 "$img"
daemon_start "$nbd_bin" --connect "unix:$sock" --queues 2 --depth 32
tree="$work_dir/tree"
mnt="$work_dir/mnt"
mkdir -p "$tree/random" "$mnt"
cp -a /usr/include/linux/netfilter "$tree/headers"
for size in 1 4097 65536 1048577 2500000; do head -c "$size" /dev/urandom >"$tree/random/file-$size"; done
(cd "$tree" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$work_dir/sums"
mkfs.ext4 -q -F -b 4096 "$daemon_dev" || fail "mkfs.ext4 on $daemon_dev failed"
mount -t ext4 "$daemon_dev" "$mnt" || fail "mount failed"
cp -a "$tree/." "$mnt/" || { umount "$mnt"; fail "copying the tree in failed"; }
umount "$mnt" || fail "umount failed"
echo 3 >/proc/sys/vm/drop_caches
mount -t ext4 -o ro "$daemon_dev" "$mnt" || fail "mount again failed"
(cd "$mnt" && sha256sum --quiet -c "$work_dir/sums") || { umount "$mnt"; fail "checksums differ after a remount"; }
umount "$mnt"
fsck.ext4 -f -n "$daemon_dev" >"$work_dir/fsck.out" 2>&1 || { show fsck "$work_dir/fsck.out"; fail "fsck found problems"; }
log "qcow2 over qemu-nbd: $(wc -l <"$work_dir/sums") checksums match after a remount, fsck clean"
daemon_stop
expect_report "[^0-9]0 errors"
stop_server

# ---- 3. qemu-nbd killed and restarted mid-IO ----
raw="$work_dir/disk.raw"
truncate -s 64M "$raw"
serve_raw() { start_server "$sock" qemu-nbd --socket="$sock" --format=raw --persistent --shared=4 "$raw"; }
serve_raw
daemon_start "$nbd_bin" --connect "unix:$sock" --timeout 60 --depth 64
fio_out="$work_dir/fio.restart.out"
(cd "$work_dir" && fio --name=restart --output="$fio_out" --eta=never --verify_state_save=0 \
  --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=randwrite --bssplit="$sizes" \
  --blockalign=512 --iodepth=32 --size=24M --verify=crc32c --do_verify=1 --verify_fatal=1) &
fio_pid=$!
nap 3
stop_server KILL
log "qemu-nbd killed under IO"
nap 2
serve_raw
log "qemu-nbd restarted"
fio_rc=0
wait "$fio_pid" || fio_rc=$?
fio_pid=""
text="$(<"$fio_out")"
if ((fio_rc != 0)) || [[ "$text" =~ err=\ *[1-9]|verify:|bad\ magic ]] || ! [[ "$text" =~ err=\ *0 ]]; then
  show "fio restart" "$fio_out"
  show "daemon stderr" "$daemon_err"
  fail "fio across the server restart failed (exit $fio_rc)"
fi
expect_report "reconnected to unix:$sock"
log "fio verify across a server restart: 0 errors"

# ---- 4. the server gone for good: IO fails at --timeout ----
daemon_stop
daemon_start "$nbd_bin" --connect "unix:$sock" --timeout 3
stop_server KILL
t0=$SECONDS
if dd if="$daemon_dev" of=/dev/null bs=4k count=1 skip=123 iflag=direct 2>"$work_dir/dd.err"; then
  fail "a read succeeded with the server gone"
fi
((SECONDS - t0 <= 30)) || fail "the read took $((SECONDS - t0)) s to fail with --timeout 3"
log "read failed after $((SECONDS - t0)) s with the server gone (--timeout 3)"
daemon_stop
expect_report "failing [0-9]+ request\(s\) with EIO"

# ---- 4b. SIGTERM while the server is away: a read waiting for it fails at once, the device goes ----
serve_raw
daemon_start "$nbd_bin" --connect "unix:$sock" --timeout 600
stop_server KILL
dd if="$daemon_dev" of=/dev/null bs=4k count=1 skip=321 iflag=direct 2>"$work_dir/dd.wait.err" &
dd_pid=$!
nap 1
kill -0 "$dd_pid" 2>/dev/null || { show dd "$work_dir/dd.wait.err"; fail "a read with the server gone did not wait (--timeout 600)"; }
t0=$(now_us)
daemon_stop
stop_us=$(($(now_us) - t0))
((stop_us < 10000000)) || fail "SIGTERM took $(us_to_s "$stop_us") s with the server away"
dd_rc=0
wait "$dd_pid" || dd_rc=$?
((dd_rc != 0)) || fail "the read waiting at SIGTERM succeeded with no server"
expect_report "stopping without a connection: failing [1-9][0-9]* request\(s\) with EIO"
log "SIGTERM with the server away (--timeout 600): stopped in $(us_to_s "$stop_us") s, the waiting read failed"

# ---- 5. user recovery: a new daemon connects to the same export and takes the device over ----
stop_server
sock="$sock_dir/nbdkit.sock"
id=7
rmode=copy
for m in $(kernel_modes); do [ "$m" = get_data ] && rmode=get_data; done
start_server "$sock" nbdkit -f -U "$sock" memory 64M
daemon_start "$nbd_bin" --connect "unix:$sock" --mode "$rmode" --id "$id" --queues 2 --depth 64 --recovery-reissue
dev="$daemon_dev"
seed=(--filename="$dev" --direct=1 --ioengine=io_uring --rw=write --bs=64k --size=16M --verify=crc32c)
run_fio seed "${seed[@]}" --do_verify=0
# --rate_iops keeps fio going for seconds on any machine (1024 writes, then 1024 verify reads, per
# job), so that the kill always lands while it runs; unthrottled, an idle host finished first.
fio_start outage --rw=randwrite --bs=4k --iodepth=32 --numjobs=2 --offset=32M --size=4M --offset_increment=16M \
  --rate_iops=400 --verify=crc32c --do_verify=1 --verify_fatal=1
fio_wait_running 1
daemon_kill KILL
wait_device_state "$id" quiesced
[ -b "$dev" ] || fail "$dev vanished with its daemon"
kill -0 "$fio_pid" 2>/dev/null || { show fio "$fio_out"; fail "fio ended before the takeover: the kill came too late"; }
log "killed under fio: device $id is quiesced"
# The creation command line with --recover: --queues is an upper bound for ublk-pool-nbd.
daemon_start "$nbd_bin" --recover "$id" --connect "unix:$sock" --queues 2
[ "$daemon_dev" = "$dev" ] || fail "--recover $id printed $daemon_dev"
wait_device_state "$id" live
[ "$(device_field "$id" pid)" = "$daemon_pid" ] || fail "device $id does not report the new daemon's pid"
expect_report "taking over device $id" "$dev recovered: 2 queue\(s\) x depth 64, 67108864 bytes"
fio_wait_exit 180
text="$(<"$fio_out")"
if ((fio_rc != 0)) || [[ "$text" =~ err=\ *[1-9]|verify:|bad\ magic ]] || ! [[ "$text" =~ err=\ *0 ]]; then
  show fio "$fio_out"
  show "daemon stderr" "$daemon_err"
  fail "fio across the takeover failed (exit $fio_rc)"
fi
log "fio verify rode through the crash and the takeover: 0 errors"
run_fio seed_check "${seed[@]}" --verify_only=1 --verify_fatal=1
daemon_stop
expect_report "[^0-9]0 errors"

# The export changed while no daemon served the device: the takeover is refused, the device
# keeps waiting, and `ublk-pool del` removes it.
daemon_start "$nbd_bin" --connect "unix:$sock" --mode "$rmode" --id "$id" --recovery-reissue
daemon_kill KILL
wait_device_state "$id" quiesced
stop_server
start_server "$sock" nbdkit -f -U "$sock" memory 32M
rc=0
timeout 60 "$nbd_bin" --recover "$id" --connect "unix:$sock" >"$work_dir/refused.out" 2>"$work_dir/refused.err" || rc=$?
((rc == 1)) || { show stderr "$work_dir/refused.err"; fail "--recover onto a smaller export exited $rc, not 1"; }
grep -q "device $id has 67108864 bytes, the backend now 33554432: not taking it over" "$work_dir/refused.err" ||
  { show stderr "$work_dir/refused.err"; fail "the refusal does not name the sizes"; }
[ ! -s "$work_dir/refused.out" ] || fail "the refused takeover printed on stdout"
wait_device_state "$id" quiesced
admin del -n "$id" >/dev/null
assert_clean "after ublk-pool del -n $id"
stop_server
log "a takeover onto an export of another size is refused; ublk-pool del removes the device"

# ---- 6. TCP, one connection per queue where the server allows multi-conn ----
ip link set lo up || fail "cannot bring up the guest's loopback"
port=10809
# start_tcp_server ARGS...: nbdkit ARGS on 127.0.0.1:$port.
start_tcp_server() { start_server "$sock_dir/nbdkit.pid" nbdkit -f -P "$sock_dir/nbdkit.pid" -i 127.0.0.1 -p "$port" "$@"; }
# Established connections whose peer is the server's port: the daemon's side of each one.
daemon_connections() { ss -Htn state established "( dport = :$port )" | wc -l; }
tcp_verify() {  # NAME: fio verify with one job pinned to each guest CPU, so both queues see IO
  run_fio "$1" --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=randrw --bssplit="$sizes" \
    --blockalign=512 --iodepth=32 --numjobs=2 --size=8M --offset_increment=8M --cpus_allowed=0-1 \
    --cpus_allowed_policy=split --verify=crc32c --do_verify=1 --verify_fatal=1 --exitall_on_error=1
}

start_tcp_server memory 64M
# Every WRITE batch as a zero-copy send. Over loopback the kernel copies anyway: copied = sends.
daemon_start "$nbd_bin" --connect "tcp:127.0.0.1:$port" --queues 2 --depth 32 --send-zc 0
expect_report "flags [a-z,-]*multi-conn" "live: 2 queue\(s\)"
conns="$(daemon_connections)"
((conns == 2)) || fail "$conns connection(s) to the server for 2 queues, not 2"
tcp_verify tcp_multi_conn
daemon_stop
expect_report "[^0-9]0 errors" "queue 0: [1-9][0-9]* reads" "queue 1: [1-9][0-9]* reads" \
  "target nbd: send_zc_write_bytes [1-9][0-9]* send_zc_sends ([1-9][0-9]*) send_zc_copied [1-9][0-9]*"
if [[ "$(<"$daemon_err")" =~ zero-copy\ send\ refused ]]; then fail "zero-copy send refused over TCP"; fi
stop_server
log "tcp: 2 queues over 2 connections to nbdkit (multi-conn), fio verify passes with every WRITE batch sent zero-copy, both queues served"

start_tcp_server --filter=multi-conn memory 64M multi-conn-mode=disable
daemon_start "$nbd_bin" --connect "tcp:127.0.0.1:$port" --queues 2 --depth 32
expect_report "one queue, not 2: the server does not allow multiple connections" "live: 1 queue\(s\)" \
  "zero-copy send off: the server is on this host"
conns="$(daemon_connections)"
((conns == 1)) || fail "$conns connection(s) to a server without multi-conn, not 1"
tcp_verify tcp_single_conn
daemon_stop
expect_report "[^0-9]0 errors"
stop_server
log "tcp: a server without multi-conn gets one queue over one connection, and the daemon says why"
