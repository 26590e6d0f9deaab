#!/usr/bin/env bash
# nbd-faults.sh: ublk-pool-nbd against tests' fake NBD server (fake-nbd-server), in one boot.
#  - Each kind of malformed reply, once, in the middle of a direct-IO write and read back: the
#    daemon survives; where the stream broke (bad magic, unknown cookie, short reply, dropped
#    connection) it reconnects and resends, and the data reads back intact; where the server
#    answered with an error (error reply, a READ ended early) that IO fails and the next succeeds.
#  - Bad arguments are refused in one line with no device left: unreachable address, unknown
#    export, a TLS-only server, and a server that does not allow multi-conn gets one queue.
source "$(dirname "$0")/lib.sh"

fake_bin="${UBLKPOOL_FAKE_NBD:-$build_dir/tests/ublk/targets/nbd/fake-nbd-server}"
require_ublk
require_binaries "$nbd_bin" "$fake_bin"
assert_clean "before the test"

sock_dir="$(mktemp -d /run/nbd-faults.XXXXXX)"
sock="$sock_dir/fake.sock"
server_pid=""
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
trap 'rc=$?; stop_server; rm -rf "$sock_dir"; (exit $rc); on_exit' EXIT

start_fake() {
  local i
  rm -f "$sock"
  "$fake_bin" --socket "$sock" --size $((32 << 20)) "$@" >>"$work_dir/server.log" 2>&1 &
  server_pid=$!
  for ((i = 0; i < 200; i++)); do [ -S "$sock" ] && return 0; nap 0.1; done
  fail "fake-nbd-server did not create $sock"
}

pattern="$work_dir/pattern"
head -c $((4 << 20)) /dev/urandom >"$pattern"

# fault KIND RECOVERS: the 40th request (of the 64 KiB writes and reads) goes wrong.
fault() {
  local kind="$1" recovers="$2"
  start_fake --misbehave "$kind" --after 40 --times 1
  daemon_start "$nbd_bin" --connect "unix:$sock" --timeout 20 --depth 16
  local wrote=0 read_ok=0
  dd if="$pattern" of="$daemon_dev" bs=64k oflag=direct 2>"$work_dir/dd.err" && wrote=1
  cmp -s "$pattern" <(dd if="$daemon_dev" bs=64k count=64 iflag=direct 2>/dev/null) && read_ok=1
  kill -0 "$daemon_pid" 2>/dev/null || fail "$kind: the daemon died"
  if [ "$recovers" = yes ]; then
    ((wrote && read_ok)) || { show "daemon stderr" "$daemon_err"; fail "$kind: data did not survive the fault"; }
    expect_report "connection lost" "reconnected"
  else
    ((wrote == 0 || read_ok == 0)) || fail "$kind: the injected error reached nobody"
    # The fault was once: everything works again.
    dd if="$pattern" of="$daemon_dev" bs=64k oflag=direct 2>/dev/null || fail "$kind: writing after the fault failed"
    cmp -s "$pattern" <(dd if="$daemon_dev" bs=64k count=64 iflag=direct 2>/dev/null) ||
      fail "$kind: reading back after the fault failed"
  fi
  daemon_stop
  stop_server
  log "$kind: survived (recovers: $recovers)"
}

fault bad-magic yes
fault unknown-cookie yes
fault short-reply yes
fault drop yes
fault error-reply no
fault incomplete-read no

# ---- refusals ----
expect_refusal "$nbd_bin" "cannot connect to unix:/run/nowhere.sock" -- --connect unix:/run/nowhere.sock
start_fake --export real
expect_refusal "$nbd_bin" "no export 'other'" -- --connect "unix:$sock" --export other
stop_server
start_fake --tls-only
expect_refusal "$nbd_bin" "requires TLS" -- --connect "unix:$sock"
stop_server
expect_refusal "$nbd_bin" "want unix:PATH or tcp:HOST:PORT" -- --connect nbd://host/export

# ---- no multi-conn: one queue, and why ----
start_fake --no-multi-conn
daemon_start "$nbd_bin" --connect "unix:$sock" --queues 4
expect_report "one queue, not 4: the server does not allow multiple connections" "1 queue\(s\)"
daemon_stop
stop_server
