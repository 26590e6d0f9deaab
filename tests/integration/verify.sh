#!/usr/bin/env bash
# verify.sh MODE: fio writes random data with crc32c checksums to the mem target, then reads it all
# back and checks it, for one buffer mode, over three device shapes:
#   1 queue,  iodepth 1,  512 B logical blocks, requests from 512 B to 1 MiB
#   2 queues, iodepth 32, 512 B logical blocks, requests from 512 B to 1 MiB (two fio jobs)
#   1 queue,  iodepth 32, 4 KiB logical blocks, requests from 4 KiB to 1 MiB
# Any mismatch makes fio fail (verify_fatal); the daemon must report the mode it was asked for.
source "$(dirname "$0")/lib.sh"

mode="${1:?usage: verify.sh copy|get_data|user_copy|auto}"
require_ublk
require_binaries "$mem_bin"
assert_clean "before the test"

sizes_512="512/10:4k/30:8k/10:64k/20:128k/10:512k/10:1m/10"
sizes_4k="4k/40:8k/10:64k/20:128k/10:512k/10:1m/10"
span=8M

verify_case() {
  local queues="$1" iodepth="$2" block="$3" jobs="$4" sizes="$5"
  local name="${mode}_q${queues}_qd${iodepth}_lb${block}"
  daemon_start "$mem_bin" --mode "$mode" --queues "$queues" --depth 64 --size 64M --max-io 1M \
    --logical-block "$block"
  run_fio "$name" --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=randwrite \
    --bssplit="$sizes" --blockalign="$block" --iodepth="$iodepth" --numjobs="$jobs" --size="$span" \
    --offset_increment="$span" --verify=crc32c --do_verify=1 --verify_fatal=1 --exitall_on_error=1
  daemon_stop
  expect_report "mode $mode" "[^0-9]0 errors"
}

verify_case 1 1 512 1 "$sizes_512"
verify_case 2 32 512 2 "$sizes_512"
verify_case 1 32 4096 1 "$sizes_4k"
