#!/usr/bin/env bash
# bad-input.sh: on a ublk kernel, both daemons refuse bad input with exactly one line on stderr,
# nothing on stdout, a non-zero exit (not a crash), and no device left behind; --help exits 0.
# A mode whose kernel feature is missing must be refused naming that feature.
source "$(dirname "$0")/lib.sh"

require_ublk
require_binaries "$mem_bin" "$null_bin"
assert_clean "before the test"

for bin in "$mem_bin" "$null_bin"; do
  help="$("$bin" --help 2>&1)" || fail "${bin##*/} --help exited non-zero"
  [[ "$help" == *--mode* ]] || fail "${bin##*/} --help does not describe --mode"
  assert_clean "after --help"
  expect_refusal "$bin" "bogus" -- --bogus
  expect_refusal "$bin" "size" -- --size 12Q
  expect_refusal "$bin" "" -- --size
  expect_refusal "$bin" "mode" -- --mode zero_copy
done
# Both daemons share one parser: the rest once.
expect_refusal "$mem_bin" "size" -- --size 0
expect_refusal "$mem_bin" "size" -- --size=-1G
expect_refusal "$mem_bin" "queues" -- --queues 0
expect_refusal "$mem_bin" "depth" -- --depth 100000
expect_refusal "$mem_bin" "logical" -- --logical-block 1000
expect_refusal "$mem_bin" "max-io" -- --max-io 1000
expect_refusal "$mem_bin" "provider" -- --provider no-such-provider --size 16M
expect_refusal "$mem_bin" "" -- stray-argument
expect_refusal "$mem_bin" "" -- --no-data

# Modes the kernel lacks (none on the VM kernels, which both have NEED_GET_DATA and USER_COPY).
offered=" $(kernel_modes | tr '\n' ' ') "
declare -A feature=([get_data]=NEED_GET_DATA [user_copy]=USER_COPY)
for mode in get_data user_copy; do
  if [[ "$offered" != *" $mode "* ]]; then
    expect_refusal "$mem_bin" "${feature[$mode]}" -- --mode "$mode" --size 16M
  else
    log "the kernel offers $mode; its refusal cannot be exercised here"
  fi
done

# Shared memory for zero copy: a file that is not there; a kernel without UBLK_F_SHMEM_ZC (6.12).
expect_refusal "$mem_bin" "shmem-file .*No such file" -- --shmem-file /nonexistent/buffers --size 16M
expect_refusal "$mem_bin" "bad --shmem-socket '': want the path" -- --shmem-socket "" --size 16M
if ! "$build_dir/bin/ublk-pool" features | grep -q SHMEM_ZC; then
  truncate -s 2M "$work_dir/shared"
  expect_refusal "$mem_bin" "UBLK_F_SHMEM_ZC \(Linux 7\.1 or later\)" -- --shmem-file "$work_dir/shared" --size 16M
  expect_refusal "$mem_bin" "--shmem needs UBLK_F_SHMEM_ZC \(Linux 7\.1 or later\)" -- --shmem --size 16M
fi
