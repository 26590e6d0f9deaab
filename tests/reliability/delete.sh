#!/usr/bin/env bash
# delete.sh MODE: the device goes away while fio runs at iodepth 64 on 2 queues (like ublksrv's
# generic/001): once by SIGTERM to the daemon, once by `ublk-pool del -n N` from outside. fio
# must end (IO errors are expected) without a hang, the daemon must exit 0 on its own, its
# stats report must show every buffer back with the provider (0 bytes in use), and no device or
# daemon may be left.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/rel-lib.sh"

mode="${1:?usage: delete.sh copy|get_data|user_copy}"
require_ublk
require_binaries "$mem_bin" "$admin_bin"
assert_clean "before the test"

delete_under_io() {
  local how="$1"
  daemon_start "$mem_bin" --json --mode "$mode" --queues 2 --depth 64 --size 32M --max-io 128K
  fio_start "delete_$how" --rw=randrw --bssplit=4k/50:64k/40:128k/10 --iodepth=64 --numjobs=2 --size=16M \
    --offset_increment=16M --time_based --runtime=120
  fio_wait_running 1
  local pid="$daemon_pid"
  case "$how" in
    sigterm) kill -TERM "$pid" ;;
    del) admin del -n "$(dev_id)" >/dev/null ;;
  esac
  fio_wait_exit 30
  log "fio ended $(us_to_s "$fio_exit_us") s after the delete, exit $fio_rc"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do nap 0.1; done
  kill -0 "$pid" 2>/dev/null && { dump_threads "$pid"; fail "the daemon did not exit after the delete"; }
  wait "$pid" && daemon_rc=0 || daemon_rc=$?
  daemon_pid=""
  ((daemon_rc == 0)) || { show "daemon stderr" "$daemon_err"; fail "the daemon exited $daemon_rc"; }
  local in_use
  in_use=$(json_number bytes_in_use "$daemon_out")
  ((in_use == 0)) || { show "daemon stderr" "$daemon_err"; fail "$in_use bytes still out with the provider"; }
  expect_report '"reads":[1-9]' '"writes":[1-9]'
  log "daemon exit 0, provider bytes in use 0"
  assert_clean "after the delete ($how)"
}

delete_under_io sigterm
delete_under_io del
