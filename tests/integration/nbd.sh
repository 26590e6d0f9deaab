#!/usr/bin/env bash
# nbd.sh: ublk-pool-nbd against real NBD servers from Debian's packages, in one boot:
#  1. fio crc32c verify (randrw, 512 B to 1 MiB, iodepth 64, 2 queues) against `nbdkit memory`
#     over a unix socket, in every buffer mode the kernel offers;
#  1b. the export's FLUSH/TRIM/WRITE_ZEROES and read-only flag reach the device;
#  2. mkfs.ext4 + copy a tree + remount + checksums + fsck on a qcow2 image served by qemu-nbd;
#  3. qemu-nbd (on a raw file, so the data persists) killed and restarted mid-IO: fio verify
#     completes with zero errors;
#  4. the server killed for good: IO fails at --timeout, no hang, the daemon stops cleanly.
# Sockets live under /run: the guest's /tmp may be 9p, which cannot hold them.
source "$(dirname "$0")/lib.sh"

require_ublk
require_binaries "$nbd_bin"
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
trap 'rc=$?; stop_server KILL; rm -rf "$sock_dir"; (exit $rc); on_exit' EXIT

# start_server SOCKET CMD...: starts an NBD server in the background; waits for its socket.
start_server() {
  local sock="$1" i
  shift
  rm -f "$sock"
  "$@" >>"$work_dir/server.log" 2>&1 &
  server_pid=$!
  for ((i = 0; i < 200; i++)); do
    [ -S "$sock" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || { show "server log" "$work_dir/server.log"; fail "$1 exited at start"; }
    nap 0.1
  done
  fail "$1 did not create $sock"
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
  expect_report "[^0-9]0 errors"
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
