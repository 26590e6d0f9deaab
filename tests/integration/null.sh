#!/usr/bin/env bash
# null.sh: the null target in every buffer mode this kernel offers, and in auto mode, each with and
# without --no-data, under a short mixed fio run. Checks the IOs complete without error and the
# daemon reports the mode it ran in (auto must pick get_data when the kernel has NEED_GET_DATA).
source "$(dirname "$0")/lib.sh"

require_ublk
require_binaries "$null_bin"
assert_clean "before the test"

modes=($(kernel_modes))
auto_expect=copy
[[ " ${modes[*]} " == *" user_copy "* ]] && auto_expect=user_copy
[[ " ${modes[*]} " == *" get_data "* ]] && auto_expect=get_data
log "kernel modes: ${modes[*]}; auto should choose $auto_expect"

null_case() {
  local mode="$1" report_mode="$2"
  shift 2
  daemon_start "$null_bin" --mode "$mode" --size 1G --queues 2 --depth 32 "$@"
  run_fio "null_${mode}${1:-}" --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=randrw \
    --bssplit=4k/50:64k/30:1m/20 --iodepth=16 --numjobs=2 --size=256M --io_size=4M --group_reporting
  daemon_stop
  expect_report "mode $report_mode" "[^0-9]0 errors"
}

for mode in "${modes[@]}"; do
  null_case "$mode" "$mode"
  null_case "$mode" "$mode" --no-data
done
null_case auto "$auto_expect"
