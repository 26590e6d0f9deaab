#!/usr/bin/env bash
# shmem.sh: zero copy from an application's shared memory (UBLK_F_SHMEM_ZC, 7.1+; run on 7.3).
# One boot, ublk-pool-mem with --shmem-file on a 2 MiB hugetlbfs file:
#   1. in each buffer mode, a client (shmem_client.py) maps the same file and does O_DIRECT
#      writes then reads from its pages through the device: every byte reads back, and between
#      two reads of the live stats every data IO was served in place (shmem_zc.ios), none fell
#      back, and the kernel copied nothing;
#   2. get_data: fio --mem=mmaphuge:FILE with crc32c verify passes, all in place;
#   3. the same device, fio from its own memory: verify passes, every IO falls back;
#      in every mode the mem target copied every WRITE in shared memory into its store
#      and counted it (shmem_copied_bytes): the application owns those pages;
#   4. --shmem: the C example (examples/shm-client) connects to the daemon's socket (found with
#      `ublk-pool list`), takes two arenas and writes and reads its blocks back through the device,
#      every data IO in place; then a client looping on IO is SIGKILLed: the daemon takes its two
#      arenas back (list: 0 live, reclaimed), keeps serving (another client and fio verify pass) and
#      logs no failed UNREG_BUF.
#   5. ublk-pool-loop with --shmem-file: fio --mem=mmaphuge with crc32c verify passes, every data
#      IO in place, its file IO by READ_FIXED/WRITE_FIXED from the shared pages (fixed_buffer_ios),
#      and the backing file holds what the device reads back.
# (6.12's refusal of --shmem-file is in bad-input.sh.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../reliability/rel-lib.sh"
require_ublk
shm_client="$build_dir/tests/bin/shm_client"
require_binaries "$mem_bin" "$loop_bin" "$admin_bin" "$shm_client"
assert_clean "before the test"

huge="$work_dir/huge"
mkdir -p "$huge"
echo 8 >/proc/sys/vm/nr_hugepages
(($(awk '/HugePages_Free/ {print $2}' /proc/meminfo) >= 2)) || fail "no free 2 MiB hugetlb pages in the guest"
mount -t hugetlbfs -o pagesize=2M none "$huge" || fail "mount hugetlbfs"
shared="$huge/app-buffers"
truncate -s 2M "$shared"
client="$(dirname "$0")/shmem_client.py"

# stats FILE: the live JSON of the running daemon's device.
stats() { admin stats -n "${daemon_dev#/dev/ublkb}" --json >"$1"; }
# delta KEY: KEY's growth from before.json to after.json.
delta() { echo $(($(json_number "$1" "$work_dir/after.json") - $(json_number "$1" "$work_dir/before.json"))); }
# target_counter NAME: a counter from the stopped daemon's report ("target mem: NAME N ...").
target_counter() {
  local report
  report="$(<"$daemon_out")"$'\n'"$(<"$daemon_err")"
  [[ "$report" =~ [[:space:]]$1\ ([0-9]+) ]] || fail "no target counter $1 in the daemon's report"
  echo "${BASH_REMATCH[1]}"
}
# shmem KEY FILE: a key of the "shmem_zc" object.
shmem() { python3 -c 'import json,sys; print(json.load(open(sys.argv[2]))["shmem_zc"][sys.argv[1]])' "$1" "$2"; }
# fio_verify_counted NAME FIO_ARGS...: fio crc32c verify (randrw, 4k-64k, 32M) on the device; sets
# ios (data IOs), in_place and fallback (shmem_zc) to what the daemon counted during it.
fio_verify_counted() {
  local name="$1"
  shift
  stats "$work_dir/before.json"
  run_fio "$name" --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=randrw --bs=4k-64k \
    --iodepth=8 --size=32M --verify=crc32c "$@"
  stats "$work_dir/after.json"
  ios=$(($(delta reads) + $(delta writes)))
  in_place=$(($(shmem ios "$work_dir/after.json") - $(shmem ios "$work_dir/before.json")))
  fallback=$(($(shmem fallback_ios "$work_dir/after.json") - $(shmem fallback_ios "$work_dir/before.json")))
}

for mode in $(kernel_modes); do
  daemon_start "$mem_bin" --mode "$mode" --size 64M --queues 2 --depth 32 --shmem-file "$shared"
  expect_report "zero copy from shared memory \(UBLK_F_SHMEM_ZC\): IO from $shared is served in place; other IO goes the $mode way"
  stats "$work_dir/before.json"
  python3 "$client" "$shared" "$daemon_dev" || fail "$mode: the shared-memory client's data did not read back"
  stats "$work_dir/after.json"
  ios=$(($(delta reads) + $(delta writes)))
  in_place=$(($(shmem ios "$work_dir/after.json") - $(shmem ios "$work_dir/before.json")))
  fallback=$(($(shmem fallback_ios "$work_dir/after.json") - $(shmem fallback_ios "$work_dir/before.json")))
  kernel=$(delta kernel_bytes)
  log "$mode: $ios data IOs, $in_place in place, $fallback fell back, kernel copied $kernel B"
  ((ios >= 128 && in_place == ios && fallback == 0)) || fail "$mode: not every IO of the client was served in place"
  ((kernel == 0)) || fail "$mode: the kernel copied $kernel bytes of IO in shared memory"
  client_writes=$(delta write_bytes)
  if [ "$mode" = get_data ]; then
    fio_verify_counted mmaphuge --mem="mmaphuge:$shared"
    log "fio --mem=mmaphuge: $ios data IOs, $in_place in place"
    ((ios > 0 && in_place == ios)) || fail "fio from the shared file: $in_place of $ios IOs in place"
    fio_verify_counted private
    log "fio from its own memory: $ios data IOs, $fallback fell back"
    ((ios > 0 && fallback == ios)) || fail "fio from private memory: $fallback of $ios IOs fell back"
  fi
  daemon_stop
  copied=$(target_counter shmem_copied_bytes)
  log "$mode: the mem target copied $copied B of WRITEs in shared memory into its store"
  ((client_writes > 0 && copied >= client_writes)) || fail "$mode: the mem target counted $copied B copied from shared memory, the client wrote $client_writes B"
done

# 4. Shared-memory clients over the daemon's socket.
# shmem_field KEY: shmem_KEY of the running device in `ublk-pool list --json`.
shmem_field() {
  admin list --json | python3 -c 'import json,sys; d=[x for x in json.load(sys.stdin) if x["id"]==int(sys.argv[1])]; print(d[0].get("shmem_" + sys.argv[2]) or 0 if d else "")' "${daemon_dev#/dev/ublkb}" "$1"
}
# wait_shmem KEY VALUE: until the list shows it (20 s).
wait_shmem() {
  local deadline=$((SECONDS + 20)) value=""
  while ((SECONDS < deadline)); do
    value="$(shmem_field "$1")"
    [ "$value" = "$2" ] && return 0
    nap 0.2
  done
  show "daemon stderr" "$daemon_err"
  fail "ublk-pool list: shmem $1 is '$value', not $2, after 20 s"
}
daemon_start "$mem_bin" --size 64M --queues 2 --depth 32 --shmem
socket="$(shmem_field socket)"
[ -S "$socket" ] || fail "ublk-pool list shows no shared-memory socket (got '$socket')"
log "list: $(admin list)"
stats "$work_dir/before.json"
out="$("$shm_client" "$socket" "$daemon_dev" 2)" || fail "the C shared-memory client failed: $out"
log "$out"
[[ "$out" == *PASS* ]] || fail "the C client did not say PASS: $out"
stats "$work_dir/after.json"
ios=$(($(delta reads) + $(delta writes)))
in_place=$(($(shmem ios "$work_dir/after.json") - $(shmem ios "$work_dir/before.json")))
fallback=$(($(shmem fallback_ios "$work_dir/after.json") - $(shmem fallback_ios "$work_dir/before.json")))
log "C client: $ios data IOs, $in_place in place, $fallback fell back"
((ios >= 64 && in_place == ios && fallback == 0)) || fail "not every IO of the C client was served in place"
while IFS= read -r line; do
  if [[ "$line" == *"shared memory: client"*arena* ]]; then log "daemon: ${line#*: }"; fi
done <"$daemon_err"
wait_shmem clients 0
wait_shmem arenas_reclaimed 2
# A client killed in the middle of its IO.
"$shm_client" "$socket" "$daemon_dev" 0 >"$work_dir/looping.out" 2>&1 &
looper=$!
wait_shmem arenas 2
stats "$work_dir/before.json"
deadline=$((SECONDS + 20))
while ((SECONDS < deadline)); do
  stats "$work_dir/after.json"
  (($(delta writes) > 32)) && break
  nap 0.2
done
(($(delta writes) > 32)) || fail "the looping client did no IO"
log "killing the looping client after $(delta writes) WRITEs"
kill -KILL "$looper"
{ wait "$looper" || true; } 2>/dev/null
wait_shmem arenas 0
wait_shmem arenas_reclaimed 4
kill -0 "$daemon_pid" || fail "the daemon died with its client"
log "after the kill: $(admin list)"
out="$("$shm_client" "$socket" "$daemon_dev" 1)" || fail "a client after the killed one failed: $out"
log "$out"
run_fio after-kill --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=randrw --bs=4k-64k \
  --iodepth=8 --size=16M --verify=crc32c
if [[ "$(<"$daemon_err")" == *UNREG_BUF* ]]; then
  show "daemon stderr" "$daemon_err"
  fail "the daemon could not unregister an arena"
fi
daemon_stop
[ ! -e "$socket" ] || fail "the daemon left its socket $socket behind"

# 5. The loop target: file IO from the application's pages, by fixed buffers
backing="$work_dir/loop.img"
daemon_start "$loop_bin" --file "$backing" --size 32M --mode get_data --queues 2 --depth 32 --shmem-file "$shared"
fio_verify_counted loop_mmaphuge --mem="mmaphuge:$shared"
((ios > 0 && in_place == ios)) || fail "loop: $in_place of $ios IOs of fio from the shared file in place"
device_sum=$(head -c 32M "$daemon_dev" | md5sum) || fail "loop: reading the device back failed"
daemon_stop
fixed=$(target_counter fixed_buffer_ios)
file_sum=$(head -c 32M "$backing" | md5sum)
log "loop: $in_place IOs in place, $fixed file IOs by fixed buffer; device and file read back as $device_sum"
((fixed >= in_place)) || fail "loop: only $fixed of the $in_place shared-memory IOs went to the file by a fixed buffer"
[ "$device_sum" = "$file_sum" ] || fail "loop: the backing file ($file_sum) does not hold what the device reads ($device_sum)"
[ "$file_sum" != "$(head -c 32M /dev/zero | md5sum)" ] || fail "loop: the backing file holds only zeroes"
rm -f "$backing"

umount "$huge"
echo 0 >/proc/sys/vm/nr_hugepages
log PASS
