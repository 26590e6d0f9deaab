#!/usr/bin/env bash
# ram-disk-verify.sh: examples/ram-disk (its own target and buffer provider, built by
# install-check.sh against the installed libraries) serves a device in each buffer mode; fio
# writes random data with crc32c checksums in 512 B to 1 MiB requests, reads it back and checks it.
source "$(dirname "$0")/../integration/lib.sh"

ram_disk="$build_dir/install-check/ram-disk/ram_disk"
require_ublk
[ -x "$ram_disk" ] || fail "$ram_disk is missing: run tests/install/install-check.sh first"
assert_clean "before the test"

for mode in $(kernel_modes); do
  daemon_start "$ram_disk" "$mode" 64
  run_fio "ram_disk_$mode" --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=randwrite \
    --bssplit="512/10:4k/30:8k/10:64k/20:128k/10:512k/10:1m/10" --blockalign=512 --iodepth=16 \
    --size=16M --verify=crc32c --do_verify=1 --verify_fatal=1 --exitall_on_error=1
  daemon_stop
  expect_report "ram_disk: mode $mode: [1-9][0-9]* IOs, 0 errors"
done
