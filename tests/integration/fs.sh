#!/usr/bin/env bash
# fs.sh [MODE]: a real filesystem on the mem target (default mode get_data): mkfs.ext4, mount, copy
# a file tree in, unmount, mount again and check every file's sha256, unmount, then fsck -fn must
# find the filesystem clean.
source "$(dirname "$0")/lib.sh"

mode="${1:-get_data}"
require_ublk
require_binaries "$mem_bin"
assert_clean "before the test"

tree="$work_dir/tree"
mnt="$work_dir/mnt"
mkdir -p "$tree/random" "$mnt"
# Real small files (a header directory, ~90 files), plus random files whose sizes straddle block
# and extent boundaries. Small on purpose: every file crosses 9p under TCG.
cp -a /usr/include/linux/netfilter "$tree/headers"
for size in 1 511 4096 4097 65536 300000 1048577 2500000; do
  head -c "$size" /dev/urandom >"$tree/random/file-$size"
done
(cd "$tree" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$work_dir/sums"
files=$(wc -l <"$work_dir/sums")
log "tree: $files files, $(du -sk "$tree" | cut -f1) KiB"

cleanup_mount() { mountpoint -q "$mnt" && umount "$mnt" || true; }

daemon_start "$mem_bin" --mode "$mode" --size 96M --queues 2 --depth 32
mkfs.ext4 -q -F -b 4096 "$daemon_dev" || fail "mkfs.ext4 $daemon_dev failed"
mount -t ext4 "$daemon_dev" "$mnt" || fail "mount $daemon_dev failed"
cp -a "$tree/." "$mnt/" || { cleanup_mount; fail "copying the tree in failed"; }
umount "$mnt" || fail "umount after the copy failed"
log "copied in and unmounted"

# Mounting again drops the page cache of the old mount: the checksums read the device.
mount -t ext4 -o ro "$daemon_dev" "$mnt" || fail "mount $daemon_dev again failed"
if ! (cd "$mnt" && sha256sum --quiet -c "$work_dir/sums"); then
  cleanup_mount
  fail "checksums differ after a remount"
fi
umount "$mnt" || fail "the final umount failed"
log "all $files checksums match after a remount"

fsck_out="$work_dir/fsck.out"
if ! fsck.ext4 -f -n "$daemon_dev" >"$fsck_out" 2>&1; then
  show "fsck.ext4 -f -n" "$fsck_out"
  fail "fsck.ext4 -f -n found problems"
fi
log "fsck clean: $(tail -n 1 "$fsck_out")"

daemon_stop
expect_report "mode $mode" "[^0-9]0 errors"
