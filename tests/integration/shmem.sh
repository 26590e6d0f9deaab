#!/usr/bin/env bash
# shmem.sh: zero copy from an application's shared memory (UBLK_F_SHMEM_ZC, 7.1+; run on 7.3).
# One boot, ublk-pool-mem with --shmem-file on a 2 MiB hugetlbfs file:
#   1. in each buffer mode, a client (shmem_client.py) maps the same file and does O_DIRECT
#      writes then reads from its pages through the device: every byte reads back, and between
#      two reads of the live stats every data IO was served in place (shmem_zc.ios), none fell
#      back, and the kernel copied nothing;
#   2. get_data: fio --mem=mmaphuge:FILE with crc32c verify passes, all in place;
#   3. the same device, fio from its own memory: verify passes, every IO falls back.
# (6.12's refusal of --shmem-file is in bad-input.sh.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../reliability/rel-lib.sh"
require_ublk
require_binaries "$mem_bin" "$admin_bin"
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
# shmem KEY FILE: a key of the "shmem_zc" object.
shmem() { python3 -c 'import json,sys; print(json.load(open(sys.argv[2]))["shmem_zc"][sys.argv[1]])' "$1" "$2"; }

for mode in $(kernel_modes); do
  daemon_start "$mem_bin" --mode "$mode" --size 64M --queues 2 --depth 32 --shmem-file "$shared"
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
  if [ "$mode" = get_data ]; then
    stats "$work_dir/before.json"
    run_fio mmaphuge --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=randrw --bs=4k-64k \
      --iodepth=8 --size=32M --verify=crc32c --mem="mmaphuge:$shared"
    stats "$work_dir/after.json"
    ios=$(($(delta reads) + $(delta writes)))
    in_place=$(($(shmem ios "$work_dir/after.json") - $(shmem ios "$work_dir/before.json")))
    log "fio --mem=mmaphuge: $ios data IOs, $in_place in place"
    ((ios > 0 && in_place == ios)) || fail "fio from the shared file: $in_place of $ios IOs in place"
    stats "$work_dir/before.json"
    run_fio private --filename="$daemon_dev" --direct=1 --ioengine=io_uring --rw=randrw --bs=4k-64k \
      --iodepth=8 --size=32M --verify=crc32c
    stats "$work_dir/after.json"
    ios=$(($(delta reads) + $(delta writes)))
    fallback=$(($(shmem fallback_ios "$work_dir/after.json") - $(shmem fallback_ios "$work_dir/before.json")))
    log "fio from its own memory: $ios data IOs, $fallback fell back"
    ((ios > 0 && fallback == ios)) || fail "fio from private memory: $fallback of $ios IOs fell back"
  fi
  daemon_stop
done
umount "$huge"
echo 0 >/proc/sys/vm/nr_hugepages
log PASS
