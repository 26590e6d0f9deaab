#!/usr/bin/env bash
# soak: hours-long confidence, not a CI test. Mixed randrw with crc32c verify on ublk-pool-mem
# in each buffer mode, the daemon SIGKILLed and taken over with --recover every M seconds.
# Prints IO done and the daemon's RSS over time, then verify errors (must be 0), IO errors and
# restarts per mode. Exit 0 only when every mode passed (see usage).

usage() {
  cat <<'EOF'
usage: soak [options]
Mixed randrw (4k-128k, iodepth 32 x 2 jobs) with crc32c verify on ublk-pool-mem under user
recovery, in each buffer mode in turn; the daemon is SIGKILLed and replaced by
`ublk-pool-mem --recover N` every M seconds. Prints one line per sample (IO done, daemon RSS)
and a summary per mode.

  --minutes N          total run time, split evenly across the modes (default 10)
  --restart-every M    seconds between daemon kills, 0 for never (default 30)
  --mode LIST          comma-separated: copy,get_data,user_copy (default: every mode the
                       kernel offers)
  --policy P           reissue (--recovery-reissue: fio must see no error at all) |
                       requeue (--recovery: the IO in flight at a kill fails and is counted)
                       (default reissue)
  --size SIZE          device size, K/M/G/T suffix, a multiple of 256K, at least 4M (default 256M)
  --vm KERNEL          run inside tests/vm/run-in-vm.sh with KERNEL, 7.3 or 6.12 (default:
                       natively when /dev/ublk-control exists, else in a 7.3 VM)
  --build-dir DIR      the build tree with bin/ublk-pool-mem and bin/ublk-pool (default:
                       $UBLKPOOL_BUILD_DIR, else the tree soak was run from, else <repo>/build)
  --help               this text
  --version            the version

Needs root and a ublk kernel with user recovery (6.0 or later; natively, or the VM).
Exit 0 only if no mode had a verify error, under reissue fio saw no error either, and every
recovery succeeded; 1 otherwise; 2 for a bad command line (docs/cli.md).
EOF
}

bad_option() {
  echo "soak: $*" >&2
  exit 2
}

script_path="$(readlink -f "${BASH_SOURCE[0]}")"
script_dir="${script_path%/*}"
run_from_build=""
if [ -f "$script_dir/../../tests/integration/lib.sh" ]; then
  repo_dir="$(cd "$script_dir/../.." && pwd)"
elif [ -f "$script_dir/../CMakeCache.txt" ]; then
  # Copied into <build>/bin by the build: the sources are the tree that build was configured from.
  run_from_build="$(cd "$script_dir/.." && pwd)"
  cache_line="$(grep -m1 '^CMAKE_HOME_DIRECTORY:' "$run_from_build/CMakeCache.txt")" || true
  repo_dir="${cache_line#*=}"
fi
[ -n "${repo_dir:-}" ] && [ -f "$repo_dir/tests/integration/lib.sh" ] ||
  { echo "soak: cannot find the ublk-pool sources from $script_path" >&2; exit 1; }

minutes=10
restart_every=30
modes_arg=""
policy=reissue
size_arg=256M
vm_kernel=""
build_arg=""

while (($#)); do
  opt="$1"
  value=""
  case "$opt" in
    --help | -h) usage; exit 0 ;;
    --version)
      version="$(sed -n 's/^project(ublkpool VERSION \([0-9.]*\).*/\1/p' "$repo_dir/CMakeLists.txt")"
      echo "soak ${version:-unknown}"
      exit 0 ;;
    --*=*) value="${opt#*=}"; opt="${opt%%=*}" ;;
    --minutes | --restart-every | --mode | --policy | --size | --vm | --build-dir)
      (($# >= 2)) || bad_option "$opt needs a value"
      value="$2"
      shift
      ;;
    *) bad_option "unknown option '$opt' (see --help)" ;;
  esac
  shift
  case "$opt" in
    --minutes) [[ "$value" =~ ^[1-9][0-9]{0,4}$ ]] || bad_option "bad --minutes '$value': want a whole number >= 1"; minutes="$value" ;;
    --restart-every) [[ "$value" =~ ^[0-9]{1,6}$ ]] || bad_option "bad --restart-every '$value': want whole seconds >= 0"; restart_every="$((10#$value))" ;;
    --mode) modes_arg="$value" ;;
    --policy) [[ "$value" =~ ^(reissue|requeue)$ ]] || bad_option "bad --policy '$value': want reissue or requeue"; policy="$value" ;;
    --size) size_arg="$value" ;;
    --vm) [[ "$value" =~ ^(7\.3|6\.12)$ ]] || bad_option "bad --vm '$value': want 7.3 or 6.12"; vm_kernel="$value" ;;
    --build-dir) [ -n "$value" ] || bad_option "bad --build-dir '': want a directory"; build_arg="$value" ;;
    *) bad_option "unknown option '$opt' (see --help)" ;;
  esac
done

# size_bytes SIZE: bytes of 123, 64K, 256M, 1G, 1T (the suffixes of every binary); empty when
# malformed.
size_bytes() {
  [[ "$1" =~ ^([0-9]{1,9})([KkMmGgTt]?)$ ]] || return 0
  local n=$((10#${BASH_REMATCH[1]}))
  case "${BASH_REMATCH[2]}" in
    K | k) n=$((n << 10)) ;;
    M | m) n=$((n << 20)) ;;
    G | g) n=$((n << 30)) ;;
    T | t) n=$((n << 40)) ;;
  esac
  echo "$n"
}
size="$(size_bytes "$size_arg")"
size_wording="want a size such as 64K, 512M or 1G (suffixes K, M, G, T)"
[ -n "$size" ] || bad_option "bad --size '$size_arg': $size_wording"
((size >= 4 << 20 && size % (256 << 10) == 0)) || bad_option "bad --size '$size_arg': $size_wording, at least 4M and a multiple of 256K"

modes=()
if [ -n "$modes_arg" ]; then
  IFS=, read -r -a modes <<<"$modes_arg"
  for mode in "${modes[@]}"; do
    [[ "$mode" =~ ^(copy|get_data|user_copy)$ ]] || bad_option "bad --mode '$modes_arg': want a comma list of copy, get_data, user_copy"
  done
  ((${#modes[@]})) || bad_option "bad --mode '$modes_arg': want at least one mode"
fi

build_dir="${build_arg:-${UBLKPOOL_BUILD_DIR:-${run_from_build:-$repo_dir/build}}}"
[ -d "$build_dir" ] || bad_option "--build-dir: no directory '$build_dir'"
build_dir="$(cd "$build_dir" && pwd)"

# No ublk here (or a VM wanted): the same command again inside a VM, where it runs natively.
if [ -n "$vm_kernel" ] || [ ! -c /dev/ublk-control ]; then
  if [ -n "${UBLK_SOAK_IN_VM:-}" ]; then
    echo "soak: no /dev/ublk-control inside the VM either" >&2
    exit 1
  fi
  vm_args=(--kernel "${vm_kernel:-7.3}" --timeout $((minutes * 60 + 300)))
  [ -n "$vm_kernel" ] && vm_args+=(--vm "$vm_kernel")
  inner=(--minutes "$minutes" --restart-every "$restart_every" --policy "$policy" --size "$size_arg"
    --build-dir "$build_dir")
  [ -n "$modes_arg" ] && inner+=(--mode "$modes_arg")
  cd "$repo_dir"  # the VM keeps the cwd, and a host /tmp cwd would not exist in it
  UBLK_SOAK_IN_VM=1 exec "$repo_dir/tests/vm/run-in-vm.sh" "${vm_args[@]}" -- "$script_path" "${inner[@]}"
fi

export UBLKPOOL_BUILD_DIR="$build_dir"
source "$repo_dir/tests/integration/lib.sh"
source "$repo_dir/tests/reliability/rel-lib.sh"

require_ublk
require_binaries "$mem_bin" "$admin_bin"
# In our own throwaway VM, the kernel's "I/O error" line per failed request (requeue) would
# bury the samples on the console.
[ -n "${UBLK_SOAK_IN_VM:-}" ] && { dmesg -n 1 2>/dev/null || true; }
offered=" $(kernel_modes | tr '\n' ' ')"
if ((${#modes[@]} == 0)); then
  read -r -a modes <<<"$offered"
fi
for mode in "${modes[@]}"; do
  [[ "$offered" == *" $mode "* ]] || fail "the kernel does not offer mode $mode (it offers:$offered)"
done
assert_clean "before the soak (it needs the machine's ublk to itself)"

case "$policy" in
  reissue) recovery_flag=--recovery-reissue continue_on=verify ;;
  requeue) recovery_flag=--recovery continue_on=all ;;
esac
share_s=$((minutes * 60 / ${#modes[@]}))
((share_s >= 10)) || fail "$((minutes * 60)) s across ${#modes[@]} modes leaves less than 10 s each"
region=$((size / 2))  # one per fio job, side by side (offset_increment)
sample_every_s=10
# How long fio may run past its runtime (the final verify pass, outages) before it counts as hung.
hang_grace_s=900

# mib SECTORS: sectors of 512 B as MiB with one decimal.
mib() { printf '%d.%d' $(($1 / 2048)) $(($1 * 10 / 2048 % 10)); }
kib_to_mib() { printf '%d.%d' $(($1 / 1024)) $(($1 * 10 / 1024 % 10)); }

# Per-mode state, read by sample/restart.
stat_file=""
sectors_base_read=0 sectors_base_written=0 sectors_last_read=0 sectors_last_written=0
sectors_read=0 sectors_written=0
rss_kib=0 anon_kib=0 rss_min_kib=-1 rss_max_kib=0 anon_max_kib=0
restarts=0 outage_max_us=0 mode_started_us=0

# Cumulative sectors read/written on the device; a counter that went back (a new gendisk)
# continues from where the old one stopped.
read_io_done() {
  local fields
  read -r -a fields <"$stat_file" || return 0
  local r="${fields[2]:-0}" w="${fields[6]:-0}"
  ((r < sectors_last_read)) && sectors_base_read=$((sectors_base_read + sectors_last_read))
  ((w < sectors_last_written)) && sectors_base_written=$((sectors_base_written + sectors_last_written))
  sectors_last_read=$r sectors_last_written=$w
  sectors_read=$((sectors_base_read + r)) sectors_written=$((sectors_base_written + w))
}

# The daemon's VmRSS and RssAnon (its data lives in /dev/shm and counts in VmRSS as it is touched;
# RssAnon is the daemon's own memory).
read_rss() {
  local key value rest
  rss_kib=0 anon_kib=0
  while read -r key value rest; do
    case "$key" in
      VmRSS:) rss_kib=$value ;;
      RssAnon:) anon_kib=$value ;;
    esac
  done <"/proc/$daemon_pid/status" || true
  ((rss_min_kib < 0 || rss_kib < rss_min_kib)) && rss_min_kib=$rss_kib
  ((rss_kib > rss_max_kib)) && rss_max_kib=$rss_kib
  ((anon_kib > anon_max_kib)) && anon_max_kib=$anon_kib
  return 0
}

# sample WHAT: one progress line.
sample() {
  read_io_done
  read_rss
  log "$(printf '%-7s %-9s t=%4ds restarts=%-3d read=%9s MiB written=%9s MiB rss=%7s MiB (anon %s MiB)' \
    "$1" "$mode" $((($(now_us) - mode_started_us) / 1000000)) "$restarts" "$(mib "$sectors_read")" \
    "$(mib "$sectors_written")" "$(kib_to_mib "$rss_kib")" "$(kib_to_mib "$anon_kib")")"
}

# restart ID: SIGKILL the daemon, wait for the device to be quiesced, take it over with --recover.
restart() {
  local id="$1" dev="$daemon_dev" killed_us
  read_io_done
  killed_us=$(now_us)
  daemon_kill KILL
  wait_device_state "$id" quiesced 60
  [ -b "$dev" ] || fail "$dev vanished with its daemon"
  daemon_start "$mem_bin" --recover "$id"
  [ "$daemon_dev" = "$dev" ] || fail "--recover $id printed $daemon_dev, not $dev"
  wait_device_state "$id" live 60
  local outage_us=$(($(now_us) - killed_us))
  ((outage_us > outage_max_us)) && outage_max_us=$outage_us
  restarts=$((restarts + 1))
  log "restart $restarts of $mode: device $id recovered by pid $daemon_pid, $(us_to_s "$outage_us") s after the kill"
}

# count_lines REGEX FILE: lines of FILE matching the extended REGEX.
count_lines() {
  local n=0 line
  [ -f "$2" ] || { echo 0; return 0; }
  while IFS= read -r line; do [[ "$line" =~ $1 ]] && n=$((n + 1)); done <"$2"
  echo "$n"
}

summary=()
all_ok=1

soak_mode() {
  mode="$1"
  sectors_base_read=0 sectors_base_written=0 sectors_last_read=0 sectors_last_written=0
  sectors_read=0 sectors_written=0 rss_min_kib=-1 rss_max_kib=0 anon_max_kib=0
  restarts=0 outage_max_us=0
  log "==== $mode: ${share_s}s of fio, $policy, a kill every ${restart_every}s"
  daemon_start "$mem_bin" --mode "$mode" --queues 2 --depth 64 --size "$size" --max-io 128K "$recovery_flag"
  local id dev="$daemon_dev"
  id="$(dev_id)"
  stat_file="/sys/block/ublkb$id/stat"
  [ -f "/dev/shm/ublk-pool-mem-$id" ] || fail "no /dev/shm/ublk-pool-mem-$id: the data would not outlive a kill"

  # Reads of a mixed job are not verified; the writes are, 256 at a time (verify_backlog) and
  # all again after the runtime. continue_on_error=verify keeps counting past a bad block.
  # serialize_overlap: once the random map wraps, fio may have two writes to one range in
  # flight; a block device may apply those in any order, even torn, and fio's write log (a list
  # under a random map) would report that as corruption.
  fio_start "soak-$mode" --rw=randrw --rwmixread=50 --bssplit=4k/40:16k/25:64k/20:128k/15 \
    --iodepth=32 --numjobs=2 --size="$region" --offset_increment="$region" --group_reporting --serialize_overlap=1 \
    --verify=crc32c --do_verify=1 --verify_backlog=256 --verify_fatal=0 \
    --continue_on_error="$continue_on" --time_based --runtime="$share_s"
  fio_wait_running 0
  mode_started_us=$(now_us)
  sample start

  local now next_sample=$((mode_started_us + sample_every_s * 1000000)) next_restart=0
  local give_up=$((mode_started_us + (share_s + hang_grace_s) * 1000000))
  ((restart_every > 0)) && next_restart=$((mode_started_us + restart_every * 1000000))
  while kill -0 "$fio_pid" 2>/dev/null; do
    now=$(now_us)
    if ((now > give_up)); then
      dump_threads "$daemon_pid"
      fail "fio on $mode still running ${hang_grace_s}s past its runtime (hang)"
    fi
    if ((next_restart && now >= next_restart)); then
      restart "$id"
      sample restart
      next_restart=$(($(now_us) + restart_every * 1000000))
      next_sample=$(($(now_us) + sample_every_s * 1000000))
    elif ((now >= next_sample)); then
      sample run
      next_sample=$((now + sample_every_s * 1000000))
    fi
    nap 0.5
  done
  fio_wait_exit 10
  sample end
  local seconds=$((($(now_us) - mode_started_us) / 1000000))

  # Each bad block is one "verify: bad <header field>" or "<checksum>: verify failed" line on
  # fio's stderr (with --output some of them also land in the output file, interleaved).
  local complaint='verify: bad|verify failed at file' verify_errs errs_in_out text total=0 first_err=""
  verify_errs=$(count_lines "$complaint" "$fio_out.err")
  errs_in_out=$(count_lines "$complaint" "$fio_out")
  ((errs_in_out > verify_errs)) && verify_errs=$errs_in_out
  text="$(<"$fio_out")"
  [[ "$text" =~ err=\ *([0-9]+) ]] && first_err="${BASH_REMATCH[1]}"
  [[ "$text" =~ errors\ +:\ total=([0-9]+) ]] && total="${BASH_REMATCH[1]}"
  local io_errs=$((total - verify_errs)) io_lines
  io_lines=$(count_lines 'io_u error' "$fio_out.err")
  ((io_lines > io_errs)) && io_errs=$io_lines
  ((io_errs < 0)) && io_errs=0
  ((io_errs == 0 && verify_errs == 0 && ${first_err:-0} != 0)) && io_errs=1

  local verdict=pass why=()
  [ -n "$first_err" ] || why+=("fio printed no job result")
  ((verify_errs == 0)) || why+=("$verify_errs verify errors")
  ((sectors_written > 0)) || why+=("nothing written")
  if [ "$policy" = reissue ]; then
    ((io_errs == 0)) || why+=("$io_errs IO errors under reissue")
    ((fio_rc == 0)) || why+=("fio exited $fio_rc")
  else
    ((fio_rc < 128)) || why+=("fio died of signal $((fio_rc - 128))")
    ((fio_rc == 0 || io_errs + verify_errs > 0)) || why+=("fio exited $fio_rc with no error counted")
  fi
  if ((${#why[@]})); then
    verdict=FAIL
    all_ok=0
    grep -h -m 20 -E "$complaint|io_u error" "$fio_out.err" "$fio_out" >"$work_dir/complaints" || true
    show "fio soak-$mode: the first complaints" "$work_dir/complaints"
    grep -v -E "$complaint|^ +(Expected|Received) CRC" "$fio_out" >"$work_dir/fio-report" || true
    show "fio soak-$mode (without the complaints)" "$work_dir/fio-report"
    log "FAIL $mode: $(IFS=';'; echo "${why[*]}")"
  fi
  daemon_stop
  [ ! -e "/dev/shm/ublk-pool-mem-$id" ] || fail "/dev/shm/ublk-pool-mem-$id left after $dev was removed"
  ((rss_min_kib >= 0)) || rss_min_kib=0
  summary+=("$(printf '%-9s %5d %8d %9s %10s %11s %6d %6d %4d %9s %9s %9s  %s' "$mode" "$seconds" "$restarts" \
    "$(us_to_s "$outage_max_us")" "$(mib "$sectors_read")" "$(mib "$sectors_written")" "$verify_errs" "$io_errs" \
    "$fio_rc" "$(kib_to_mib "$rss_min_kib")" "$(kib_to_mib "$rss_max_kib")" "$(kib_to_mib "$anon_max_kib")" "$verdict")")
}

log "soak: ${minutes} min over ${modes[*]} ($policy, kill every ${restart_every}s, $((size >> 20)) MiB device," \
  "kernel $(uname -r), $(nproc) CPUs)"
for mode in "${modes[@]}"; do soak_mode "$mode"; done

echo
echo "soak summary: policy $policy, kill every ${restart_every}s, $((size >> 20)) MiB, kernel $(uname -r)" \
  "(${UBLK_VM_KERNEL:-native}), $(nproc) CPUs, $(date -u '+%Y-%m-%d %H:%M UTC')"
printf '%-9s %5s %8s %9s %10s %11s %6s %6s %4s %9s %9s %9s  %s\n' mode secs restarts outage_s \
  read_MiB written_MiB verify io_err fio rss_min rss_max anon_max result
printf '%s\n' "${summary[@]}"
((all_ok)) || fail "verify errors$([ "$policy" = reissue ] && echo " or fio errors") (see above)"
log "soak passed: 0 verify errors$([ "$policy" = reissue ] && echo ", 0 fio errors"), every recovery succeeded"
