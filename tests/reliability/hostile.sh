#!/usr/bin/env bash
# hostile.sh: bad control-path input to ublk-pool-mem, each refused with exactly one line on
# stderr, nothing on stdout, a non-zero exit (no crash, no hang) and no device or daemon left
# behind: a device id in use (by a live daemon), ids out of range, depth 0 and > 4096, more
# queues than CPUs and than ublk allows, a size that is not a multiple of the logical block,
# a max IO above 32M, and takeovers (--recover) of a device that is missing, live, or made
# without recovery (besides the daemon's one notice of the buffer mode it chose). The live
# daemon must be unharmed: fio verifies on it afterwards.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/rel-lib.sh"

require_ublk
require_binaries "$mem_bin" "$admin_bin"
assert_clean "before the test"

# refuse PATTERN -- ARGS...: ublk-pool-mem ARGS is refused cleanly (expect_refusal, lib.sh).
refuse() { expect_refusal "$mem_bin" "$@"; }

cpus=$(nproc)
daemon_start "$mem_bin" --mode get_data --id 3 --queues 1 --depth 16 --size 16M
refuse "in use by pid $daemon_pid" -- --id 3 --size 16M
refuse "id" -- --id 1048576 --size 16M
refuse "id" -- --id -2 --size 16M
refuse "depth" -- --depth 0 --size 16M
refuse "depth" -- --depth 4097 --size 16M
refuse "queues .*CPUs" -- --queues $((cpus + 1)) --size 16M
refuse "queues" -- --queues 4097 --size 16M
refuse "queues" -- --queues 0 --size 16M
refuse "multiple of --logical-block" -- --size 1000
refuse "multiple of --logical-block" -- --size 6K --logical-block 4096
refuse "max-io" -- --max-io 64M --size 16M
refuse "max-io" -- --max-io 33M --size 16M
refuse "on-exhaustion" -- --on-exhaustion sometimes --size 16M
# Copy mode gives every tag a max-IO buffer up front: a limit below depth x max IO is refused.
refuse "copy mode: the provider cannot give each tag" -- --mode copy --depth 128 --max-io 128K --pool-limit 4M \
  --hugepages none --size 16M
# Takeovers that cannot be: no such device, a live one, one made without recovery.
refuse "device 9 does not exist" -- --recover 9
refuse "device 3 was created without --recovery" -- --recover 3
# (Shape options with --recover are checked against the device: tests/integration/stats.sh.)
run_fio still_serving --filename="$daemon_dev" --direct=1 --rw=randwrite --bs=4k --size=2M --verify=crc32c \
  --do_verify=1 --verify_fatal=1
daemon_stop

daemon_start "$mem_bin" --mode get_data --id 4 --queues 1 --depth 16 --size 16M --recovery
refuse "device 4 is live, served by pid $daemon_pid" -- --recover 4
daemon_stop
