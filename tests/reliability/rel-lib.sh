# Helpers for the reliability tests (sourced after tests/integration/lib.sh): background fio,
# crashes, and the admin CLI.
admin_bin="$build_dir/bin/ublk-pool"

fio_pid=""
fio_out=""
fio_rc=""

# fio_start NAME ARGS...: fio in the background on $daemon_dev; sets fio_pid and fio_out.
fio_start() {
  local name="$1"
  shift
  fio_out="$work_dir/fio.$name.out"
  # Requests completed before fio (the kernel's partition scan): fio_wait_running looks past them.
  local fields
  read -r -a fields <"/sys/block/${daemon_dev#/dev/}/stat" || true
  fio_io_baseline=$((${fields[0]:-0} + ${fields[4]:-0}))
  (cd "$work_dir" && exec fio --name="$name" --output="$fio_out" --eta=never --verify_state_save=0 \
    --filename="$daemon_dev" --direct=1 --ioengine=io_uring "$@" 2>"$fio_out.err") &
  fio_pid=$!
  log "fio $name started (pid $fio_pid): $*"
}

# fio_wait_running [SECONDS]: waits until IO flows on $daemon_dev (its /sys/block stat shows
# 256 requests completed since fio_start), then SECONDS more (default 1). Builtins only: every exec is slow in TCG.
fio_wait_running() {
  local deadline=$((SECONDS + wait_s)) stat_file="/sys/block/${daemon_dev#/dev/}/stat" fields
  while ((SECONDS < deadline)); do
    kill -0 "$fio_pid" 2>/dev/null || { show fio "$fio_out"; fail "fio exited before IO flowed"; }
    read -r -a fields <"$stat_file" || true
    if ((${fields[0]:-0} + ${fields[4]:-0} > fio_io_baseline + 256)); then
      nap "${1:-1}"
      return 0
    fi
    nap 0.1
  done
  fail "no IO reached $daemon_dev within ${wait_s}s"
}

# fio_wait_exit SECONDS: waits at most SECONDS for fio to end; sets fio_rc; echoes nothing.
# Fails (with the stacks of fio's threads) if fio is still running then.
fio_wait_exit() {
  local limit_us=$(($1 * 1000000)) start
  start=$(now_us)
  while kill -0 "$fio_pid" 2>/dev/null; do
    if (($(now_us) - start > limit_us)); then
      local p
      for p in /proc/[0-9]*/comm; do [[ "$(<"$p")" == fio ]] 2>/dev/null && dump_threads "$(basename "$(dirname "$p")")"; done
      kill -KILL "$fio_pid" 2>/dev/null || true
      fail "fio still running $1 s later (hang)"
    fi
    nap 0.05
  done
  wait "$fio_pid" && fio_rc=0 || fio_rc=$?
  fio_exit_us=$(($(now_us) - start))
  fio_pid=""
}

# daemon_kill SIGNAL: signals the daemon and reaps it; sets daemon_rc.
daemon_kill() {
  kill -"$1" "$daemon_pid"
  local deadline=$((SECONDS + wait_s))
  while kill -0 "$daemon_pid" 2>/dev/null && ((SECONDS < deadline)); do nap 0.05; done
  kill -0 "$daemon_pid" 2>/dev/null && { dump_threads "$daemon_pid"; fail "daemon $daemon_pid survived SIG$1"; }
  # (braces: bash's "Killed" job notice goes to the redirected stderr)
  { wait "$daemon_pid" && daemon_rc=0 || daemon_rc=$?; } 2>/dev/null
  daemon_pid=""
}

# dev_id: N of $daemon_dev.
dev_id() { echo "${daemon_dev#/dev/ublkb}"; }

# admin ARGS...: runs the admin CLI, fails on a non-zero exit; its stdout on stdout.
admin() {
  local rc=0 out="$work_dir/admin.out" err="$work_dir/admin.err"
  timeout 60 "$admin_bin" "$@" >"$out" 2>"$err" || rc=$?
  ((rc == 0)) || { show "ublk-pool $* stderr" "$err"; fail "ublk-pool $* exited $rc"; }
  cat "$out"
}

# json_number KEY FILE: the first numeric value of "KEY": in FILE.
json_number() {
  local text
  text="$(<"$2")"
  [[ "$text" =~ \"$1\":\ ?([0-9]+) ]] || fail "no \"$1\" in $2"
  echo "${BASH_REMATCH[1]}"
}

# Rounds microseconds to seconds with one decimal.
us_to_s() { printf '%d.%d' $(($1 / 1000000)) $(($1 / 100000 % 10)); }

# On exit, also stop a background fio.
return_status() { return "$1"; }
rel_on_exit() {
  local rc=$?
  [ -n "$fio_pid" ] && kill -KILL "$fio_pid" 2>/dev/null || true
  return_status "$rc" || on_exit
  on_exit
}
trap rel_on_exit EXIT

# device_field ID KEY: KEY ("state", "pid", ...) of device ID in `ublk-pool list --json`; empty
# when there is no such device.
device_field() {
  local json
  json="$(admin list --json)"
  [[ "$json" =~ \{[^\}]*\"id\":$1,[^\}]*\}  ]] || return 0
  local entry="${BASH_REMATCH[0]}"
  [[ "$entry" =~ \"$2\":\"?(-?[a-z_0-9]+)\"? ]] && echo "${BASH_REMATCH[1]}"
  return 0
}

# wait_device_state ID STATE [SECONDS]: waits until device ID is in STATE (default 10 s).
wait_device_state() {
  local deadline=$((SECONDS + ${3:-10})) state=""
  while ((SECONDS < deadline)); do
    state="$(device_field "$1" state)"
    [ "$state" = "$2" ] && return 0
    nap 0.1
  done
  fail "device $1 is '${state:-gone}', not $2, after ${3:-10} s"
}
