#!/usr/bin/env bash
# stats.sh: live statistics, the advice, the service restart path, the log. One boot:
#   1. ublk-pool-null (get_data, 2 queues): during a fio run of 4k and 64k requests the stats
#      socket (shown by `ublk-pool list`) is read twice: every counter grew, and the requests
#      between the two reads are all in the 4K and 64K buckets, both of them. `stats --prometheus`
#      passes a strict format check (prometheus_check.py), `stats --watch 1 --count 2` prints two
#      rate lines with writes, `tune` prints its advice and a restart line. SIGTERM removes the socket.
#   1b. ublk-pool-loop on a tmpfs file: every request it served was timed (backend_latency), and
#      its Prometheus output has the latency histogram; the null target's has none.
#   2. The two workloads of the advice test, recorded: 4k random and 1m sequential on
#      ublk-pool-null; each exit report (--json) is printed after "recorded <name>:".
#   3. The service path: `ublk-pool-mem --id 6 --recover-or-create --recovery-reissue ...` creates
#      the device; data written; SIGKILL; a takeover with a conflicting --depth is refused; the
#      same command line again takes the device over and the data verifies. --log FILE: after the
#      file is moved away, SIGHUP starts a new one.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../reliability/rel-lib.sh"
check_prometheus="$(dirname "$0")/prometheus_check.py"
require_ublk
require_binaries "$null_bin" "$mem_bin" "$loop_bin" "$admin_bin"
assert_clean "before the test"

# stats_json FILE: the live JSON of $daemon_dev into FILE.
stats_json() { admin stats -n "$(dev_id)" --json >"$1"; }

# bucket FILE LABEL: the count of one request-size bucket in a stats JSON.
bucket() {
  local text
  text="$(<"$1")"
  [[ "$text" =~ \{\"count\":([0-9]+),\"le\":\"$2\" ]] || fail "no bucket $2 in $1"
  echo "${BASH_REMATCH[1]}"
}

# -- 1. live stats during fio
daemon_start "$null_bin" --mode get_data --queues 2 --depth 64 --size 256M --verbose
id="$(dev_id)"
socket="/run/ublk-pool/ublkb$id.sock"
[ -S "$socket" ] || fail "no stats socket at $socket"
list="$(admin list)"
[[ "$list" == *"stats $socket"* ]] || fail "ublk-pool list does not show $socket: $list"
log "list: $list"

# The block layer would merge neighbouring requests into sizes fio never asked for, and split
# requests not aligned to their size (seen: 64k requests at 4k-aligned offsets in 8k-32k pieces).
echo 2 >"/sys/block/ublkb$id/queue/nomerges"
fio_start mixed --rw=randrw --bssplit=4k/50:64k/50 --blockalign=64k --iodepth=16 --time_based --runtime=120
fio_wait_running 1
stats_json "$work_dir/s1.json"
nap 2
stats_json "$work_dir/s2.json"
for key in reads writes read_bytes write_bytes get_data acquires kernel_bytes; do
  a="$(json_number "$key" "$work_dir/s1.json")" b="$(json_number "$key" "$work_dir/s2.json")"
  ((b > a)) || fail "$key did not grow between the two reads: $a then $b"
  log "  $key: $a -> $b"
done
total=0 fio_sizes=0 others=""
for label in 512 1K 2K 4K 8K 16K 32K 64K 128K 256K 512K 1M '>1M'; do
  d=$(($(bucket "$work_dir/s2.json" "$label") - $(bucket "$work_dir/s1.json" "$label")))
  total=$((total + d))
  case "$label" in
    4K | 64K) ((d > 0)) || fail "no <=$label requests counted during the 4k/64k fio run"; fio_sizes=$((fio_sizes + d)) ;;
    *) ((d == 0)) || others+=" <=$label:+$d" ;;
  esac
done
q=/sys/block/ublkb$id/queue
log "  between the reads: $fio_sizes of $total requests in the 4K and 64K buckets; others:${others:- none}" \
  "(max_segments $(<$q/max_segments), max_segment_size $(<$q/max_segment_size), nomerges $(<$q/nomerges))"
[ -z "$others" ] || fail "requests of sizes fio did not ask for:$others"
python3 - "$work_dir/s2.json" <<'PY' || fail "the per-queue counters do not add up to the device's"
import json, sys
doc = json.load(open(sys.argv[1]))
queues = doc["queues"]
assert len(queues) == 2, f"{len(queues)} queues in the stats"
for key in ("reads", "writes", "read_bytes", "write_bytes"):
    assert sum(q["ios"][key] for q in queues) == doc["ios"][key], key
PY
log "  the two queues' counters add up to the device's"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["backend_latency"]["requests"] == 0' "$work_dir/s2.json" ||
  fail "the null target has no backend, yet its requests were timed"
admin stats -n "$id" --prometheus >"$work_dir/metrics.txt"
python3 "$check_prometheus" "$work_dir/metrics.txt" || { show metrics "$work_dir/metrics.txt"; fail "the Prometheus output is not valid"; }
grep -q '^ublkpool_request_size_bytes_bucket{device="/dev/ublkb'"$id"'",le="4096"} [1-9]' "$work_dir/metrics.txt" ||
  fail "no 4K requests in the Prometheus histogram"

admin stats -n "$id" --watch 1 --count 2 >"$work_dir/watch.txt"
show watch "$work_dir/watch.txt" 2>&1
lines=0
while read -r t dev rs ws rest; do
  [ "$t" = time ] && continue
  [[ "$ws" =~ ^[0-9.]+$ ]] && [ "${ws%.*}" -gt 0 ] || fail "watch line without writes: $t $dev $rs $ws $rest"
  lines=$((lines + 1))
done <"$work_dir/watch.txt"
((lines == 2)) || fail "--watch 1 --count 2 printed $lines rate lines"
kill -INT "$fio_pid"
fio_wait_exit 60
admin tune -n "$id" >"$work_dir/tune.txt"
show tune "$work_dir/tune.txt" 2>&1
grep -q "^restart with:" "$work_dir/tune.txt" || fail "tune printed no restart line"
grep -q "^  ublk-pool-null --mode " "$work_dir/tune.txt" || fail "tune's restart line does not name the daemon"
daemon_stop
[ ! -e "$socket" ] || fail "$socket is left after the daemon stopped"

# -- 1b. a target with a backend is timed: ublk-pool-loop on a file in this VM's tmpfs
mkdir -p "$work_dir/tmpfs"
mount -t tmpfs -o size=80M tmpfs "$work_dir/tmpfs" || fail "mount a tmpfs"
truncate -s 64M "$work_dir/tmpfs/backing.img"
daemon_start "$loop_bin" --file "$work_dir/tmpfs/backing.img" --mode get_data --queues 1 --depth 32
run_fio timed --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=randrw --bs=4k --iodepth=8 --size=16M
stats_json "$work_dir/loop.json"
admin stats -n "$(dev_id)" --prometheus >"$work_dir/loop-metrics.txt"
python3 "$check_prometheus" "$work_dir/loop-metrics.txt" || { show metrics "$work_dir/loop-metrics.txt"; fail "the Prometheus output of loop is not valid"; }
grep -q '^ublkpool_backend_latency_seconds_count{device="/dev/ublkb[0-9]*"} [1-9]' "$work_dir/loop-metrics.txt" ||
  fail "no backend latency histogram in the loop daemon's Prometheus output"
python3 - "$work_dir/loop.json" <<'PY' || { show stats "$work_dir/loop.json"; fail "the loop target's backend latency does not match its requests"; }
import json, sys
doc = json.load(open(sys.argv[1]))
b, ios = doc["backend_latency"], doc["ios"]
served = sum(ios[k] for k in ("reads", "writes", "flushes", "discards", "other"))
assert served > 0 and b["requests"] == served, f"{b['requests']} timed of {served} served"
assert sum(x["count"] for x in b["buckets"]) == served
assert 0 < b["mean_us"] < 10_000_000 and b["p50_le_us"] <= b["p99_le_us"], b
print(f"  loop backend latency: {b['requests']} requests, mean {b['mean_us']:.0f} us, p50 <= {b['p50_le_us']} us, p99 <= {b['p99_le_us']} us")
PY
daemon_stop
umount "$work_dir/tmpfs"

# -- 2. the recorded workloads
record() {
  local name="$1"
  shift
  daemon_start "$null_bin" --mode get_data --queues 1 --depth 64 --size 256M --json
  run_fio "$name" --filename="$daemon_dev" --direct=1 --ioengine=io_uring "$@"
  daemon_stop
  local line
  while IFS= read -r line; do [[ "$line" == \{* ]] && echo "recorded $name: $line"; done <"$daemon_out"
}
record rand4k --rw=randrw --bs=4k --iodepth=32 --time_based --runtime=4
record seq1m --rw=write --bs=1m --iodepth=8 --size=128M --loops=4

# -- 3. the service path
id=6
svc=("$mem_bin" --id "$id" --recover-or-create --recovery-reissue --mode get_data --queues 2 --depth 64 --size 64M
  --log "$work_dir/mem.log")
daemon_start "${svc[@]}"
grep -q "taking over" "$work_dir/mem.log" && fail "the first start took over a device instead of creating it"
run_fio seed --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=write --bs=64k --size=16M --verify=crc32c \
  --do_verify=0
mv "$work_dir/mem.log" "$work_dir/mem.log.1"
kill -HUP "$daemon_pid"
for ((i = 0; i < 50; i++)); do [ -s "$work_dir/mem.log" ] && break; nap 0.1; done
grep -q "SIGHUP: log reopened" "$work_dir/mem.log" || fail "SIGHUP did not start a new log"
kill -0 "$daemon_pid" || fail "the daemon died of SIGHUP"
dev="$daemon_dev"
daemon_kill KILL
wait_device_state "$id" quiesced
expect_refusal "$mem_bin" "--depth 32 conflicts with device $id, created with 64" -- --recover "$id" --depth 32
daemon_start "${svc[@]}"
[ "$daemon_dev" = "$dev" ] || fail "the restart printed $daemon_dev, not $dev"
grep -q "taking over device $id" "$work_dir/mem.log" || { show log "$work_dir/mem.log"; fail "the restart did not take the device over"; }
wait_device_state "$id" live
run_fio check --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=read --bs=64k --size=16M --verify=crc32c
daemon_stop
