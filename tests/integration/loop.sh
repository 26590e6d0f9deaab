#!/usr/bin/env bash
# loop.sh: the loop target (ublk-pool-loop) on a real kernel, in one boot:
#   1. fio crc32c verify (randrw, 512 B..1 MiB, iodepth 64, 2 queues x 2 jobs) in every buffer
#      mode the kernel offers (zero_copy where it has AUTO_BUF_REG; elsewhere --mode zero_copy is
#      refused naming it), on a file in a tmpfs and on a file in an ext4 file system (an ext4
#      made on a ublk-pool-mem device); the steps after it run in the mode auto picks (zero_copy on
#      a kernel with AUTO_BUF_REG);
#   2. persistence: a pattern written, the daemon stopped, a new one on the same file verifies it;
#   3. DISCARD and WRITE_ZEROES read back as zeroes; FLUSH reaches the file (fio fsync=1 completes
#      and the report's fdatasync count equals its flush count);
#   4. mkfs.ext4 on the loop device, a tree copied in, remount, checksums, fsck;
#   5. SIGKILL under IO: fio ends with errors within 5 s, `ublk-pool del` leaves nothing; with
#      --recovery-reissue a new daemon (--recover N) takes over, fio rides through, data verifies.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../reliability/rel-lib.sh"

loop_bin="$build_dir/bin/ublk-pool-loop"
require_ublk
require_binaries "$loop_bin" "$mem_bin" "$admin_bin"
assert_clean "before the test"
modes=($(kernel_modes))
if [ -x "$build_dir/tests/bin/ublk_features" ]; then
  features="$("$build_dir/tests/bin/ublk_features")" || fail "ublk_features failed"
else
  features="$("$admin_bin" features)" || fail "ublk-pool features failed"
fi
auto_buf_reg=0
[[ "$features" =~ AUTO_BUF_REG ]] && auto_buf_reg=1
# zero_copy is the loop target's alone: kernel_modes (shared with the other targets) leaves it out.
((auto_buf_reg)) && modes+=(zero_copy)
log "modes: ${modes[*]}"

sizes="512/10:4k/30:8k/10:64k/20:128k/10:512k/10:1m/10"
tmpfs_dir="$work_dir/tmpfs"
ext4_dir="$work_dir/ext4"
mkdir -p "$tmpfs_dir" "$ext4_dir"
mount -t tmpfs -o size=256M tmpfs "$tmpfs_dir" || fail "mount a tmpfs"

verify_randrw() {  # NAME: fio crc32c verify over 2 x 8M of $daemon_dev
  run_fio "$1" --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=randrw --bssplit="$sizes" \
    --blockalign=512 --iodepth=64 --numjobs=2 --size=8M --offset_increment=8M --verify=crc32c --do_verify=1 \
    --verify_fatal=1 --exitall_on_error=1
}

# loop_stop: daemon_stop without its check that no device is left (the ext4 backing's mem
# device stays up under it).
loop_stop() {
  kill -TERM "$daemon_pid"
  local deadline=$((SECONDS + wait_s))
  while kill -0 "$daemon_pid" 2>/dev/null && ((SECONDS < deadline)); do nap 0.1; done
  kill -0 "$daemon_pid" 2>/dev/null && { dump_threads "$daemon_pid"; fail "the loop daemon ignored SIGTERM"; }
  wait "$daemon_pid" && daemon_rc=0 || daemon_rc=$?
  daemon_pid=""
  ((daemon_rc == 0)) || { show "daemon stderr" "$daemon_err"; fail "the loop daemon exited $daemon_rc"; }
  [ ! -e "$daemon_dev" ] || fail "$daemon_dev left after its daemon stopped"
}

# ---- 0. zero_copy on a kernel without AUTO_BUF_REG: one line naming it, exit 1
if ((!auto_buf_reg)); then
  refused=(--file "$tmpfs_dir/refused.img" --size 1M --mode zero_copy)
  expect_refusal "$loop_bin" "UBLK_F_AUTO_BUF_REG" -- "${refused[@]}"
  rc=0
  "$loop_bin" "${refused[@]}" >/dev/null 2>&1 </dev/null || rc=$?
  ((rc == 1)) || fail "--mode zero_copy without AUTO_BUF_REG exited $rc, not 1"
  rm -f "$tmpfs_dir/refused.img"
fi

# ---- 1. verify in every mode, on tmpfs
for mode in "${modes[@]}"; do
  file="$tmpfs_dir/verify-$mode.img"
  daemon_start "$loop_bin" --file "$file" --size 32M --mode "$mode" --queues 2 --depth 64
  verify_randrw "tmpfs_$mode"
  daemon_stop
  expect_report "mode $mode" "[^0-9]0 errors" "loop: file $file, 33554432 bytes"
  [ "$mode" != zero_copy ] || expect_report "kernel 0 B \\(0.000 per byte\\)" "zero copy: [1-9][0-9]* IOs"
  rm -f "$file"
done

# ---- 2. persistence
file="$tmpfs_dir/persist.img"
seed=(--direct=1 --ioengine=io_uring --rw=write --bs=64k --size=8M --verify=crc32c)
daemon_start "$loop_bin" --file "$file" --size 16M
run_fio persist_write --filename="$daemon_dev" "${seed[@]}" --do_verify=0
daemon_stop
daemon_start "$loop_bin" --file "$file"
expect_report "16777216 bytes"
((!auto_buf_reg)) || expect_report "mode zero_copy: the kernel has UBLK_F_AUTO_BUF_REG"
run_fio persist_check --filename="$daemon_dev" "${seed[@]}" --verify_only=1 --verify_fatal=1
log "the data written through one daemon reads back through the next"

# ---- 3. DISCARD, WRITE_ZEROES, FLUSH
head -c 1M /dev/urandom >"$work_dir/pattern"
dd if="$work_dir/pattern" of="$daemon_dev" bs=1M count=1 oflag=direct status=none || fail "pattern write failed"
dd if="$work_dir/pattern" of="$daemon_dev" bs=1M count=1 seek=1 oflag=direct status=none || fail "pattern write failed"
blkdiscard -o 0 -l 1M "$daemon_dev" || fail "blkdiscard failed"
blkdiscard -z -o 1M -l 1M "$daemon_dev" || fail "blkdiscard -z (WRITE_ZEROES) failed"
cmp -n 2M "$daemon_dev" /dev/zero || fail "the discarded / zeroed range does not read back as zeroes"
cmp -n 1M "$file" /dev/zero || fail "the backing file was not punched"
daemon_stop
expect_report "[1-9][0-9]* discards" "[^0-9]0 errors"
log "DISCARD and WRITE_ZEROES read back as zeroes, in the device and in the file"

daemon_start "$loop_bin" --file "$file" --json
run_fio flush --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=write --bs=4k --size=1M --fsync=1
daemon_stop
flushes=$(json_number flushes "$daemon_out")
syncs=$(json_number fdatasyncs "$daemon_out")
# fio syncs after every write but the last one.
((flushes >= 255)) || fail "fio fsync=1 over 256 writes reached the daemon as $flushes flushes"
((syncs == flushes)) || fail "$flushes flushes but $syncs fdatasyncs"
log "FLUSH: $flushes flushes, $syncs fdatasyncs"

# ---- 4. a file system on the loop device
tree="$work_dir/tree"
mnt="$work_dir/mnt"
mkdir -p "$tree/random" "$mnt"
cp -a /usr/include/linux/netfilter "$tree/headers"
for size in 1 4097 300000 2500000; do head -c "$size" /dev/urandom >"$tree/random/file-$size"; done
(cd "$tree" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$work_dir/sums"
daemon_start "$loop_bin" --file "$tmpfs_dir/fs.img" --size 64M --queues 2
mkfs.ext4 -q -F -b 4096 "$daemon_dev" || fail "mkfs.ext4 failed"
mount -t ext4 "$daemon_dev" "$mnt" || fail "mount failed"
cp -a "$tree/." "$mnt/" || { umount "$mnt"; fail "copy failed"; }
umount "$mnt" || fail "umount failed"
echo 3 >/proc/sys/vm/drop_caches
mount -t ext4 -o ro "$daemon_dev" "$mnt" || fail "remount failed"
(cd "$mnt" && sha256sum --quiet -c "$work_dir/sums") || { umount "$mnt"; fail "checksums differ after a remount"; }
umount "$mnt"
fsck.ext4 -f -n "$daemon_dev" >"$work_dir/fsck.out" 2>&1 || { show fsck "$work_dir/fsck.out"; fail "fsck found problems"; }
daemon_stop
log "ext4 on the loop device: checksums match after a remount, fsck clean"
rm -f "$tmpfs_dir"/*.img

# ---- 5. SIGKILL under IO, then recovery
id=9
file="$tmpfs_dir/kill.img"
# On 6.12 the kernel notices a daemon that died with every tag in flight only when a request
# times out: the daemons' --io-timeout (2 s by default) is what bounds fio's end there.
daemon_start "$loop_bin" --file "$file" --size 32M --id "$id" --queues 2 --depth 64
fio_start kill --rw=randrw --bs=4k --iodepth=64 --numjobs=2 --size=16M --offset_increment=16M --time_based --runtime=120
fio_wait_running 1
daemon_kill KILL
fio_wait_exit 40
((fio_exit_us < 5000000)) || { show fio "$fio_out"; fail "fio took $(us_to_s "$fio_exit_us") s (> 5 s) to end"; }
((fio_rc != 0)) || [[ "$(<"$fio_out")" =~ err=\ *[1-9] ]] || { show fio "$fio_out"; fail "fio reported no error"; }
log "SIGKILL: fio ended $(us_to_s "$fio_exit_us") s later, exit $fio_rc"
admin del -n "$id" >/dev/null
assert_clean "after ublk-pool del -n $id"

daemon_start "$loop_bin" --file "$file" --id "$id" --queues 2 --depth 64 --recovery-reissue
dev="$daemon_dev"
seed=(--filename="$dev" --direct=1 --ioengine=io_uring --rw=write --bs=64k --size=8M --verify=crc32c)
run_fio recover_seed "${seed[@]}" --do_verify=0
fio_start outage --rw=randrw --bs=4k --iodepth=32 --numjobs=2 --offset=16M --size=8M --offset_increment=8M \
  --time_based --runtime=6
fio_wait_running 1
daemon_kill KILL
wait_device_state "$id" quiesced
daemon_start "$loop_bin" --recover "$id" --file "$file"
[ "$daemon_dev" = "$dev" ] || fail "--recover $id printed $daemon_dev"
fio_wait_exit 60
((fio_rc == 0)) && ! [[ "$(<"$fio_out")" =~ err=\ *[1-9] ]] || { show fio "$fio_out"; fail "fio saw errors across the takeover"; }
run_fio recover_check "${seed[@]}" --verify_only=1 --verify_fatal=1
daemon_stop
log "--recovery-reissue: fio rode through a SIGKILL, the data verifies after --recover $id"

# ---- 1b. verify in every mode on a file in ext4 (on a mem device: the guest has no kernel loop)
daemon_start "$mem_bin" --size 160M
mem_pid="$daemon_pid" mem_dev="$daemon_dev" mem_out="$daemon_out" mem_err="$daemon_err"
daemon_pid=""
mkfs.ext4 -q -F "$mem_dev" || fail "mkfs.ext4 $mem_dev failed"
mount -t ext4 "$mem_dev" "$ext4_dir" || fail "mount $mem_dev failed"
for mode in "${modes[@]}"; do
  file="$ext4_dir/verify-$mode.img"
  daemon_start "$loop_bin" --file "$file" --size 32M --mode "$mode" --queues 2 --depth 64
  expect_report "O_DIRECT"
  verify_randrw "ext4_$mode"
  loop_stop
  expect_report "mode $mode" "[^0-9]0 errors"
  rm -f "$file"
done
umount "$ext4_dir" || fail "umount the ext4 backing"
daemon_pid="$mem_pid" daemon_dev="$mem_dev" daemon_out="$mem_out" daemon_err="$mem_err"
daemon_stop
umount "$tmpfs_dir"
