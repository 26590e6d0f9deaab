#!/usr/bin/env bash
# make-initramfs.sh KERNEL_DIR OUTPUT
#   Builds the test VM's initramfs (cpio newc, gzip): busybox-static, the kernel's uncompressed
#   modules from KERNEL_DIR/modules (see fetch-kernel.sh) and guest-init.sh as /init.
set -euo pipefail

(($# == 2)) || { echo "usage: make-initramfs.sh KERNEL_DIR OUTPUT" >&2; exit 2; }
kernel_dir="$1"
output="$2"
here="$(cd "$(dirname "$0")" && pwd)"
busybox=/bin/busybox

[ -s "$kernel_dir/modules/load-order" ] || { echo "make-initramfs: no modules in $kernel_dir (run fetch-kernel.sh first)" >&2; exit 1; }
# ldd fails on a static binary; `file` is not on a minimal Debian.
[ -x "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 ||
  { echo "make-initramfs: $busybox is missing or not static (apt-get install busybox-static)" >&2; exit 1; }

stage=$(mktemp -d "${TMPDIR:-/tmp}/initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,newroot,modules}
cp "$busybox" "$stage/bin/busybox"
cp "$kernel_dir"/modules/*.ko "$kernel_dir/modules/load-order" "$stage/modules/"
install -m 755 "$here/guest-init.sh" "$stage/init"
# The kernel opens /dev/console for PID 1 before /init can mount devtmpfs.
if [ "$(id -u)" -eq 0 ]; then mknod -m 600 "$stage/dev/console" c 5 1; fi

tmp="$output.tmp.$$"
(cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet --owner=0:0) | gzip -1 >"$tmp"
mv "$tmp" "$output"
