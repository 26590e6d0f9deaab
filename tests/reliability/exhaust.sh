#!/usr/bin/env bash
# exhaust.sh MODE: fio at iodepth 128 against a provider whose byte limit (--pool-limit 4M --hugepages none) is
# far below depth x max IO (128 x 128K = 16M).
#   --on-exhaustion fail: some IOs complete with -ENOMEM (the report counts them); fio goes on.
#   --on-exhaustion wait: no IO fails; IOs wait for buffers (the report counts the waits), and
#     fio's crc32c verify of everything written passes.
# In both the daemon exits 0 and every buffer is back (0 bytes in use). Then the same load
# without the limit: no failed acquire, no wait, verify passes.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/rel-lib.sh"

mode="${1:?usage: exhaust.sh get_data|user_copy}"
require_ublk
require_binaries "$mem_bin"
assert_clean "before the test"

shape=(--mode "$mode" --queues 2 --depth 128 --size 32M --max-io 128K --json)
load=(--direct=1 --ioengine=io_uring --bs=64k --iodepth=128 --size=16M)

report_number() { json_number "$1" "$daemon_out"; }
expect_all_back() {
  local in_use
  in_use=$(report_number bytes_in_use)
  ((in_use == 0)) || { show "daemon stderr" "$daemon_err"; fail "$in_use bytes still out with the provider"; }
}

daemon_start "$mem_bin" "${shape[@]}" --pool-limit 4M --hugepages none --on-exhaustion fail
fio_start exhaust_fail --rw=randrw --bs=64k --iodepth=128 --size=16M --time_based --runtime=3 \
  --continue_on_error=all
fio_wait_exit 120
daemon_stop
enomem=$(report_number enomem)
((enomem > 0)) || { show "daemon stderr" "$daemon_err"; fail "policy fail: no ENOMEM completion"; }
expect_all_back
log "policy fail: $enomem IOs failed with ENOMEM, fio exit $fio_rc, all buffers back"

daemon_start "$mem_bin" "${shape[@]}" --pool-limit 4M --hugepages none --on-exhaustion wait
run_fio exhaust_wait --filename="$daemon_dev" "${load[@]}" --rw=randwrite --verify=crc32c --do_verify=1 \
  --verify_fatal=1
daemon_stop
waits=$(report_number exhaustion_waits)
enomem=$(report_number enomem)
((enomem == 0)) || { show "daemon stderr" "$daemon_err"; fail "policy wait: $enomem IOs failed with ENOMEM"; }
((waits > 0)) || { show "daemon stderr" "$daemon_err"; fail "policy wait: no IO ever waited (the limit did not bite)"; }
expect_all_back
log "policy wait: $waits IOs waited for a buffer, none failed, verify passed, all buffers back"

daemon_start "$mem_bin" "${shape[@]}"
run_fio unlimited --filename="$daemon_dev" "${load[@]}" --rw=randwrite --verify=crc32c --do_verify=1 \
  --verify_fatal=1
daemon_stop
failures=$(report_number acquire_failures)
waits=$(report_number exhaustion_waits)
((failures == 0 && waits == 0)) || fail "without a limit: $failures failed acquires, $waits waits"
expect_all_back
log "no limit: no failed acquire, no wait, verify passed"
