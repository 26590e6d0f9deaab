#!/usr/bin/env bash
# kill.sh MODE: the daemon dies (SIGKILL) under fio at iodepth 64 on 2 queues, without recovery.
# fio must end with errors within 5 s of the kill (no hang). The dead daemon's device is then
# removed: the first time by `ublk-pool del -n N`, the second time by the next daemon started
# with the same --id. Afterwards no /dev/ublk* node and no daemon are left.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/rel-lib.sh"

mode="${1:?usage: kill.sh copy|get_data|user_copy}"
id=7
require_ublk
require_binaries "$mem_bin" "$admin_bin"
assert_clean "before the test"

kill_under_io() {
  daemon_start "$mem_bin" --mode "$mode" --id "$id" --queues 2 --depth 64 --size 32M --max-io 128K
  fio_start "kill_$1" --rw=randrw --bs=4k --iodepth=64 --numjobs=2 --size=16M --offset_increment=16M \
    --time_based --runtime=120
  fio_wait_running 1
  daemon_kill KILL
  fio_wait_exit 30
  log "fio ended $(us_to_s "$fio_exit_us") s after SIGKILL, exit $fio_rc"
  ((fio_exit_us < 5000000)) || { show fio "$fio_out"; fail "fio took $(us_to_s "$fio_exit_us") s (> 5 s) to end"; }
  local text
  text="$(<"$fio_out")"
  ((fio_rc != 0)) || [[ "$text" =~ err=\ *[1-9] ]] || { show fio "$fio_out"; fail "fio reported no error"; }
}

kill_under_io del
log "after the kill: $(admin list | tr '\n' ' ')"
admin del -n "$id" >/dev/null
assert_clean "after ublk-pool del -n $id"

kill_under_io restart
daemon_start "$mem_bin" --mode "$mode" --id "$id" --queues 1 --depth 16 --size 16M
run_fio after_restart --filename="$daemon_dev" --direct=1 --rw=randwrite --bs=4k --size=4M --verify=crc32c \
  --do_verify=1 --verify_fatal=1
daemon_stop
