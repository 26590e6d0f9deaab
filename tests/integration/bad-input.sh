#!/usr/bin/env bash
# bad-input.sh: on a ublk kernel, both daemons refuse bad input with exactly one line on stderr,
# nothing on stdout, a non-zero exit (not a crash), and no device left behind; --help exits 0.
# A mode whose kernel feature is missing must be refused naming that feature.
source "$(dirname "$0")/lib.sh"

require_ublk
require_binaries "$mem_bin" "$null_bin"
assert_clean "before the test"

# expect_refusal BIN [PATTERN] -- ARGS...: a clean one-line refusal, optionally matching PATTERN.
expect_refusal() {
  local bin="$1" pattern="$2"
  shift 3
  local out="$work_dir/refusal.out" err="$work_dir/refusal.err" rc=0 what="${bin##*/} $*"
  timeout 60 "$bin" "$@" >"$out" 2>"$err" </dev/null || rc=$?
  ((rc != 0)) || fail "$what exited 0"
  ((rc != 124)) || fail "$what hung (killed after 60s)"
  ((rc < 128)) || { show stderr "$err"; fail "$what died of signal $((rc - 128))"; }
  [ ! -s "$out" ] || { show stdout "$out"; fail "$what printed on stdout"; }
  local lines
  mapfile -t lines <"$err"
  ((${#lines[@]} == 1)) || { show stderr "$err"; fail "$what printed ${#lines[@]} lines on stderr, not one"; }
  [[ -z "$pattern" || "${lines[0]}" =~ $pattern ]] || { show stderr "$err"; fail "$what: the error lacks /$pattern/"; }
  assert_clean "after: $what"
  log "refused (exit $rc): $what: ${lines[0]}"
}

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
