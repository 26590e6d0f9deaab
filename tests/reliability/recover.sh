#!/usr/bin/env bash
# recover.sh MODE POLICY: user recovery (POLICY requeue | reissue | fail-io, i.e. --recovery,
# --recovery-reissue, --recovery-fail-io) on a mem device in buffer mode MODE.
#   1. 16M written (crc32c headers) and acknowledged; then fio at iodepth 32 x 2 jobs on 2
#      queues elsewhere on the device, and the daemon gets SIGKILL in the middle of it.
#   2. The device stays: `ublk-pool list` shows it quiesced (fail_io for fail-io), its data in
#      /dev/shm. While no daemon serves it, new IO waits (requeue, reissue) or fails at once
#      (fail-io: fio ends with errors within 5 s).
#   3. `ublk-pool-mem --recover N` takes it over: live again with the new pid. The IO of the
#      outage completes: reissue - fio ends without a single error; requeue - a read issued
#      during the outage completes.
#   4. fio verify of the 16M written before the crash passes; new IO with verify passes.
#   5. SIGTERM: the device and its /dev/shm data are gone, the daemon exits 0.
#   6. Crashed again and not recovered: `ublk-pool del -n N` removes the device and its data.
source "$(dirname "$0")/../integration/lib.sh"
source "$(dirname "$0")/rel-lib.sh"

mode="${1:?usage: recover.sh copy|get_data|user_copy requeue|reissue|fail-io}"
policy="${2:?usage: recover.sh MODE requeue|reissue|fail-io}"
case "$policy" in
  requeue) flag=--recovery quiet_state=quiesced ;;
  reissue) flag=--recovery-reissue quiet_state=quiesced ;;
  fail-io) flag=--recovery-fail-io quiet_state=fail_io ;;
  *) fail "unknown policy '$policy'" ;;
esac
id=5
store="/dev/shm/ublk-pool-mem-$id"
require_ublk
require_binaries "$mem_bin" "$admin_bin"
assert_clean "before the test"

daemon_start "$mem_bin" --mode "$mode" --id "$id" --queues 2 --depth 64 --size 64M --max-io 128K "$flag"
dev="$daemon_dev"
[ -f "$store" ] || fail "no $store: the data is not kept outside the daemon"
seed=(--filename="$dev" --direct=1 --ioengine=io_uring --rw=write --bs=64k --size=16M --verify=crc32c)
run_fio seed "${seed[@]}" --do_verify=0

fio_start outage --rw=randrw --bs=4k --iodepth=32 --numjobs=2 --offset=32M --size=16M --offset_increment=16M \
  --time_based --runtime=6
fio_wait_running 1
daemon_kill KILL
killed_us=$(now_us)
wait_device_state "$id" "$quiet_state"
[ -b "$dev" ] || fail "$dev vanished with its daemon"
log "killed: device $id is $quiet_state, $dev still there"

probe_out="$work_dir/probe.out"
case "$policy" in
  fail-io)
    fio_wait_exit 30
    since_kill_us=$(($(now_us) - killed_us))  # an upper bound: it includes the state polling
    ((since_kill_us < 5000000)) || { show fio "$fio_out"; fail "fio took $(us_to_s "$since_kill_us") s (> 5 s) to fail"; }
    text="$(<"$fio_out")"
    ((fio_rc != 0)) || [[ "$text" =~ err=\ *[1-9] ]] || { show fio "$fio_out"; fail "fio saw no error"; }
    log "fio had failed within $(us_to_s "$since_kill_us") s of the kill (exit $fio_rc)"
    if dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct 2>"$probe_out"; then
      fail "a read of the daemonless fail-io device succeeded"
    fi
    ;;
  *)
    # A read issued now waits for the next daemon.
    dd if="$dev" of="$probe_out" bs=64k count=1 iflag=direct 2>"$work_dir/probe.err" &
    probe_pid=$!
    nap 1
    kill -0 "$probe_pid" 2>/dev/null || { show dd "$work_dir/probe.err"; fail "a read with no daemon did not wait"; }
    ;;
esac

daemon_start "$mem_bin" --recover "$id"
[ "$daemon_dev" = "$dev" ] || fail "--recover $id printed $daemon_dev"
wait_device_state "$id" live
pid="$(device_field "$id" pid)"
[ "$pid" = "$daemon_pid" ] || fail "device $id reports pid $pid, the new daemon is $daemon_pid"
log "recovered by pid $daemon_pid"

case "$policy" in
  reissue)
    fio_wait_exit 60
    text="$(<"$fio_out")"
    ((fio_rc == 0)) && ! [[ "$text" =~ err=\ *[1-9] ]] || { show fio "$fio_out"; fail "fio saw errors (exit $fio_rc)"; }
    log "fio rode through the crash: no error"
    ;;
  requeue)
    fio_wait_exit 60
    log "fio ended (exit $fio_rc: the requests in flight at the kill failed)"
    ;;
esac
if [ -n "${probe_pid:-}" ]; then
  wait "$probe_pid" || { show dd "$work_dir/probe.err"; fail "the read issued during the outage failed"; }
  [ "$(stat -c %s "$probe_out")" = 65536 ] || fail "the read issued during the outage returned $(stat -c %s "$probe_out") bytes"
  log "the read issued during the outage completed after the takeover"
fi

run_fio seed_check "${seed[@]}" --verify_only=1 --verify_fatal=1
run_fio new_io --filename="$dev" --direct=1 --ioengine=io_uring --rw=randwrite --bs=4k --offset=16M --size=8M \
  --iodepth=16 --verify=crc32c --do_verify=1 --verify_fatal=1
daemon_stop
[ ! -e "$store" ] || fail "$store left after the device was removed"

# A crashed device nobody will recover: `ublk-pool del` removes it and its data.
daemon_start "$mem_bin" --mode "$mode" --id "$id" --queues 1 --depth 16 --size 16M "$flag"
daemon_kill KILL
wait_device_state "$id" "$quiet_state"
admin del -n "$id" >/dev/null
assert_clean "after ublk-pool del -n $id of the unrecovered device"
[ ! -e "$store" ] || fail "$store left after ublk-pool del -n $id"
log "ublk-pool del removed the unrecovered device and its data"
