#!/usr/bin/env bash
# nbd-remote-host.sh RUN_IN_VM [RUN_IN_VM_OPTIONS...]: the host side of integration_nbd_remote_KERNEL.
#   Starts `nbdkit memory` (with the stats filter) on a free TCP port of the host's 127.0.0.1, boots
#   the VM with `RUN_IN_VM OPTIONS --net` and runs tests/integration/nbd-remote.sh PORT in it: the
#   guest reaches the server as $UBLK_VM_HOST:PORT (10.0.2.2 over virtio-net and qemu's user
#   networking; natively 127.0.0.1). Afterwards nbdkit is stopped and its stats must show the
#   guest's writes and reads. nbdkit runs with --exit-with-parent and is killed on every exit, so
#   none is left behind, whatever happens to the VM.
#
#   Exit: the guest script's (or run-in-vm.sh's: 77 a skip, 124 a timeout, 125 the harness);
#   1 when the server could not start or its stats show no IO.
set -euo pipefail

(($# >= 1)) || { echo "usage: nbd-remote-host.sh RUN_IN_VM [RUN_IN_VM_OPTIONS...]" >&2; exit 2; }
run_in_vm="$1"
shift
here="$(cd "$(dirname "$0")" && pwd)"
name="nbd-remote-host"
fail() { echo "[$name] FAIL: $*" >&2; exit 1; }
command -v nbdkit >/dev/null || fail "nbdkit is missing (scripts/setup.sh installs it)"

work="$(mktemp -d "${TMPDIR:-/tmp}/nbd-remote-host.XXXXXX")"
server_pid=""
vm_pid=""
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
# run-in-vm.sh runs in the background and is waited for, so that a TERM (ctest's timeout) is
# handled at once: the VM is stopped (run-in-vm.sh kills qemu on TERM), then nbdkit.
trap 'rc=$?; [ -z "$vm_pid" ] || { kill -TERM "$vm_pid" 2>/dev/null; wait "$vm_pid" 2>/dev/null; }; stop_server; rm -rf "$work"; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The port is free when asked, not reserved: another process may take it before nbdkit binds it,
# so a start that fails is tried again on another port.
port=""
for _ in 1 2 3 4 5; do
  port="$(free_port)"
  rm -f "$work/nbdkit.pid"
  nbdkit -f --exit-with-parent -P "$work/nbdkit.pid" -i 127.0.0.1 -p "$port" \
    --filter=stats memory 64M statsfile="$work/stats" >>"$work/nbdkit.log" 2>&1 &
  server_pid=$!
  for ((i = 0; i < 100; i++)); do
    [ -s "$work/nbdkit.pid" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -s "$work/nbdkit.pid" ] && break
  stop_server
  port=""
done
[ -n "$port" ] || { cat "$work/nbdkit.log" >&2; fail "nbdkit did not start on a TCP port of 127.0.0.1 (5 tries)"; }
echo "[$name] nbdkit memory 64M on 127.0.0.1:$port (pid $server_pid)"

set +e
"$run_in_vm" "$@" --net -- "$here/nbd-remote.sh" "$port" &
vm_pid=$!
wait "$vm_pid"
rc=$?
vm_pid=""
set -e
kill -0 "$server_pid" 2>/dev/null || { cat "$work/nbdkit.log" >&2; fail "nbdkit died during the run"; }
stop_server
((rc == 0)) || exit "$rc"

# The stats filter writes its file when nbdkit exits: the guest's IO must have reached this server.
[ -s "$work/stats" ] || fail "nbdkit wrote no stats"
stats="$(<"$work/stats")"
echo "[$name] nbdkit stats:"
grep -E '^(total|read|write|flush):' "$work/stats" | sed 's/^/  /'
[[ "$stats" =~ (^|$'\n')write:\ [1-9][0-9]*\ ops ]] || fail "nbdkit's stats show no writes from the guest"
[[ "$stats" =~ (^|$'\n')read:\ [1-9][0-9]*\ ops ]] || fail "nbdkit's stats show no reads from the guest"
echo "[$name] PASS: the guest's IO went to nbdkit on the host over the VM's network"
