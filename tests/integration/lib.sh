# Shared helpers for the integration tests (sourced). They run on a ublk kernel: inside the VM
# through tests/vm/run-in-vm.sh, or natively. One daemon at a time.
#
#   UBLKPOOL_BUILD_DIR  the build tree whose bin/ublk-pool-{mem,null} are under test
#                       (default: <repo>/build)
#   UBLKPOOL_TEST_WAIT  seconds to wait for a device line or a daemon exit (default 120; TCG is slow)
#
# Under TCG with the root on 9p every exec costs a lot (hundreds of ms on a loaded host), so the
# helpers use bash builtins wherever they loop or poll: `nap` instead of sleep, [[ =~ ]] instead
# of grep, $(<file) instead of cat.

set -euo pipefail

lib_dir="$(cd "${BASH_SOURCE[0]%/*}" && pwd)"
repo_dir="$(cd "$lib_dir/../.." && pwd)"
build_dir="${UBLKPOOL_BUILD_DIR:-$repo_dir/build}"
mem_bin="$build_dir/bin/ublk-pool-mem"
null_bin="$build_dir/bin/ublk-pool-null"
nbd_bin="$build_dir/bin/ublk-pool-nbd"
loop_bin="$build_dir/bin/ublk-pool-loop"
test_name="${0##*/}"
test_name="${test_name%.sh}"
wait_s="${UBLKPOOL_TEST_WAIT:-120}"
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/$test_name.XXXXXX")"

daemon_pid=""
daemon_dev=""
daemon_out=""
daemon_err=""
daemon_rc=""

# A sleep without an exec: a read that times out on a pipe nobody writes to.
exec {nap_fd}<> <(:)
nap() { read -r -t "${1:-0.1}" -u "$nap_fd" _ || true; }

now_us() { local t="$EPOCHREALTIME"; echo $((10#${t/./})); }
started_us=$(now_us)
elapsed() { local us=$(($(now_us) - started_us)); printf '%d.%d' $((us / 1000000)) $((us / 100000 % 10)); }

log() { printf '[%s %6ss] %s\n' "$test_name" "$(elapsed)" "$*"; }

fail() {
  printf '[%s %6ss] FAIL: %s\n' "$test_name" "$(elapsed)" "$*" >&2
  exit 1
}

# show TITLE FILE: prints a file indented, as failure context.
show() {
  local title="$1" file="$2" line
  [ -s "$file" ] || return 0
  echo "---- $title" >&2
  while IFS= read -r line || [ -n "$line" ]; do echo "  | $line" >&2; done <"$file"
}

require_binaries() {
  local bin
  for bin in "$@"; do
    [ -x "$bin" ] || fail "$bin is missing: build it first (cmake --build $build_dir)"
  done
}

require_ublk() {
  [ -c /dev/ublk-control ] || fail "/dev/ublk-control is missing: run this through tests/vm/run-in-vm.sh"
}

# Prints the ublk device nodes that exist, one a line.
ublk_devices() {
  local dev
  for dev in /dev/ublk[bc][0-9]*; do [ -e "$dev" ] && echo "$dev"; done
  return 0
}

# Prints the pids of running daemons, one a line.
daemon_processes() {
  local comm name
  for comm in /proc/[0-9]*/comm; do
    name=""
    { read -r name <"$comm"; } 2>/dev/null || true
    case "$name" in ublk-pool-mem | ublk-pool-null | ublk-pool-nbd | ublk-pool-loop) comm="${comm#/proc/}"; echo "${comm%/comm}" ;; esac
  done
}

# Fails unless no ublk device node and no daemon process is left; waits briefly for devtmpfs.
assert_clean() {
  local what="${1:-afterwards}" i devices procs
  for ((i = 0; i < 50; i++)); do
    devices="$(ublk_devices)"
    procs="$(daemon_processes)"
    [ -z "$devices$procs" ] && return 0
    nap 0.1
  done
  [ -z "$devices" ] || fail "ublk devices left $what: ${devices//$'\n'/ }"
  fail "daemons left $what: pids ${procs//$'\n'/ }"
}

# Where a stuck process's threads wait in the kernel: the evidence a hang report needs.
dump_threads() {
  local task comm wchan
  echo "---- kernel stacks of pid $1" >&2
  for task in /proc/"$1"/task/*; do
    comm="" wchan=""
    { read -r comm <"$task/comm"; read -r wchan <"$task/wchan"; } 2>/dev/null || true
    echo "  | thread ${task##*/} ($comm) wchan=$wchan" >&2
    show "stack of ${task##*/}" "$task/stack" 2>&1 | tail -n +2 >&2 || true
  done
  local devices
  devices="$(ublk_devices)"
  echo "  | devices: ${devices//$'\n'/ }" >&2
}

on_exit() {
  local rc=$?
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    echo "[$test_name] cleanup: daemon $daemon_pid still running; sending SIGTERM" >&2
    kill -TERM "$daemon_pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do kill -0 "$daemon_pid" 2>/dev/null || break; nap 0.1; done
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$work_dir"
  if ((rc == 0)); then
    log "PASS"
  else
    echo "[$test_name] exit $rc" >&2
  fi
  exit "$rc"
}
trap on_exit EXIT

# daemon_start BINARY ARGS...: starts the daemon and waits for its one /dev/ublkbN line.
# Sets daemon_pid, daemon_dev, daemon_out (its stdout file) and daemon_err (its stderr file).
daemon_start() {
  local bin="$1"
  shift
  [ -z "$daemon_pid" ] || fail "daemon_start: a daemon is already running"
  daemon_out="$work_dir/daemon.$RANDOM.out"
  daemon_err="${daemon_out%.out}.err"
  log "start: ${bin##*/} $*"
  : >"$daemon_out"
  "$bin" "$@" >"$daemon_out" 2>"$daemon_err" </dev/null &
  daemon_pid=$!
  local deadline=$((SECONDS + wait_s)) line=""
  while ((SECONDS < deadline)); do
    line=""
    read -r line <"$daemon_out" || true
    [[ "$line" == /dev/ublkb* ]] && break
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
      wait "$daemon_pid" && daemon_rc=0 || daemon_rc=$?
      daemon_pid=""
      show "daemon stdout" "$daemon_out"
      show "daemon stderr" "$daemon_err"
      fail "${bin##*/} $* exited $daemon_rc before printing its device"
    fi
    nap 0.1
  done
  [[ "$line" =~ ^/dev/ublkb[0-9]+$ ]] || {
    show "daemon stdout" "$daemon_out"
    show "daemon stderr" "$daemon_err"
    fail "no /dev/ublkbN line within ${wait_s}s (first line: '$line')"
  }
  daemon_dev="$line"
  [ -b "$daemon_dev" ] || fail "the daemon printed $daemon_dev but it is not a block device"
  log "live: $daemon_dev (pid $daemon_pid)"
}

# daemon_stop: SIGTERM; expects exit 0 within the wait, exactly one device line on stdout, and
# no device or daemon left.
daemon_stop() {
  [ -n "$daemon_pid" ] || fail "daemon_stop: no daemon running"
  kill -TERM "$daemon_pid"
  local deadline=$((SECONDS + wait_s))
  while kill -0 "$daemon_pid" 2>/dev/null && ((SECONDS < deadline)); do nap 0.1; done
  if kill -0 "$daemon_pid" 2>/dev/null; then
    show "daemon stderr" "$daemon_err"
    dump_threads "$daemon_pid"
    fail "the daemon (pid $daemon_pid) did not exit within ${wait_s}s of SIGTERM"
  fi
  wait "$daemon_pid" && daemon_rc=0 || daemon_rc=$?
  daemon_pid=""
  if ((daemon_rc != 0)); then
    show "daemon stderr" "$daemon_err"
    fail "the daemon exited $daemon_rc after SIGTERM"
  fi
  local line dev_lines=0
  while IFS= read -r line; do [[ "$line" == /dev/ublkb* ]] && dev_lines=$((dev_lines + 1)); done <"$daemon_out"
  ((dev_lines == 1)) || { show "daemon stdout" "$daemon_out"; fail "stdout held $dev_lines device lines, not exactly one"; }
  assert_clean "after stopping the daemon of $daemon_dev"
  log "stopped: $daemon_dev"
}

# expect_report REGEX...: each extended regex must match the last daemon's stats report (text on
# stderr, or JSON on stdout with --json).
expect_report() {
  local report pattern
  report="$(<"$daemon_err")"$'\n'"$(<"$daemon_out")"
  for pattern in "$@"; do
    [[ "$report" =~ $pattern ]] || { show "daemon stderr" "$daemon_err"; fail "the daemon report lacks /$pattern/"; }
  done
}

# The buffer modes this kernel offers, from its GET_FEATURES.
kernel_modes() {
  local report
  if [ -x "$build_dir/tests/bin/ublk_features" ]; then
    report="$("$build_dir/tests/bin/ublk_features")" || fail "ublk_features failed"
  else
    report="$("$build_dir/bin/ublk-pool" features)" || fail "ublk-pool features failed"
  fi
  echo copy
  [[ "$report" =~ NEED_GET_DATA ]] && echo get_data
  [[ "$report" =~ USER_COPY ]] && echo user_copy
  return 0
}

# run_fio NAME ARGS...: runs fio, prints its bandwidth lines, fails on a non-zero exit, on any job
# error or on any verify complaint.
run_fio() {
  local name="$1"
  shift
  local out="$work_dir/fio.$name.out" rc=0 text line
  (cd "$work_dir" && fio --name="$name" --output="$out" --eta=never --verify_state_save=0 "$@") || rc=$?
  text="$(<"$out")"
  if ((rc != 0)) || [[ "$text" =~ err=\ *[1-9]|verify:|bad\ magic|verify\ failed ]]; then
    show "fio $name" "$out"
    [ -n "$daemon_err" ] && show "daemon stderr" "$daemon_err"
    fail "fio $name failed (exit $rc)"
  fi
  [[ "$text" =~ err=\ *0 ]] || { show "fio $name" "$out"; fail "fio $name printed no job result"; }
  while IFS= read -r line; do
    [[ "$line" =~ ^\ *(read|write):\ (IOPS=[^,]*,\ BW=[^ ]*) ]] && log "  fio $name ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
  done <<<"$text"
  return 0
}

# expect_refusal BIN [PATTERN] -- ARGS...: BIN ARGS is refused cleanly: a non-zero exit (no
# crash, no hang), nothing on stdout, exactly one line on stderr (besides a daemon's notice of
# the buffer mode it chose), matching PATTERN if given, and the devices and daemons exactly as
# they were before.
expect_refusal() {
  local bin="$1" pattern="$2"
  shift 3
  local out="$work_dir/refusal.out" err="$work_dir/refusal.err" rc=0 what="${bin##*/} $*"
  local devices_before procs_before line lines=()
  devices_before="$(ublk_devices)"
  procs_before="$(daemon_processes)"
  timeout 60 "$bin" "$@" >"$out" 2>"$err" </dev/null || rc=$?
  ((rc != 0)) || fail "$what exited 0"
  ((rc != 124)) || fail "$what hung (killed after 60 s)"
  ((rc < 128)) || { show stderr "$err"; fail "$what died of signal $((rc - 128))"; }
  [ ! -s "$out" ] || { show stdout "$out"; fail "$what printed on stdout"; }
  # The daemon's "mode M: why" line is information; a refusal ("mode M needs ...") is not.
  while IFS= read -r line; do [[ "$line" =~ ^${bin##*/}:\ mode\ [a-z_]+:\  ]] || lines+=("$line"); done <"$err"
  ((${#lines[@]} == 1)) || { show stderr "$err"; fail "$what printed ${#lines[@]} lines on stderr, not one"; }
  [[ -z "$pattern" || "${lines[0]}" =~ $pattern ]] || { show stderr "$err"; fail "$what: the error lacks /$pattern/"; }
  [ "$(ublk_devices)" == "$devices_before" ] || fail "$what left devices: $(ublk_devices | tr '\n' ' ')"
  [ "$(daemon_processes)" == "$procs_before" ] || fail "$what left a daemon"
  log "refused (exit $rc): $what: ${lines[0]}"
}
