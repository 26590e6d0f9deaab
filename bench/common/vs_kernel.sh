# vs_kernel.sh: the measuring half of bench/*_vs_kernel: ublk-pool daemons in several modes against
# one kernel driver on the same backing, each fio job run on the kernel's device and then on every
# daemon's back to back (all devices up for the whole run), so that the host's load (TCG shares
# it) weighs on a ratio's two sides alike. Sourced after the caller has set:
#   work      a scratch folder         seconds   per fio job           size   fio's --size
#   jobs      ("RW BS QD" ...)          modes     the daemons' modes (set_modes fills it)
#   rounds    (optional) how many times each job runs on every device (default 1)
# and fills dev[MODE], pid[MODE], kernel_iops[I], ratio[MODE,I], rss[MODE].
declare -A dev=() pid=() ratio=() rss=()
kernel_iops=()

# set_modes BUILD_DIR [zero_copy]: copy, then each mode the kernel offers (zero_copy only if asked).
set_modes() {
  local features
  features="$("$1/bin/ublk-pool" features 2>/dev/null || true)"
  modes=(copy)
  [[ "$features" =~ NEED_GET_DATA ]] && modes+=(get_data)
  [[ "$features" =~ USER_COPY ]] && modes+=(user_copy)
  if [ "${2:-}" = zero_copy ] && [[ "$features" =~ AUTO_BUF_REG ]]; then modes+=(zero_copy); fi
  return 0
}

# out_file MODE: where MODE's daemon writes stdout ("get_data/pmr" -> dev.get_data-pmr).
out_file() { echo "$work/dev.${1/\//-}"; }

# start_daemon MODE COMMAND...: runs a daemon; dev[MODE] is the device it prints first.
start_daemon() {
  local mode="$1" out
  shift
  out="$(out_file "$mode")"
  "$@" >"$out" 2>"$out.err" &
  pid[$mode]=$!
  for _ in $(seq 300); do [ -s "$out" ] && break; sleep 0.1; done
  dev[$mode]="$(head -1 "$out")"
  [[ "${dev[$mode]}" == /dev/ublkb* ]] || { cat "$out.err" >&2; exit 1; }
}

# iops DEVICE JOB: one fio job on DEVICE; prints its IOPS.
iops() {
  local rw bs qd
  read -r rw bs qd <<<"$2"
  fio --name=b --filename="$1" --direct=1 --ioengine=io_uring --rw="$rw" --bs="$bs" --iodepth="$qd" --eta=never \
    --size="$size" --time_based --runtime="$seconds" --ramp_time=1 --output-format=json --output="$work/out.json"
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]; print(round(j["read"]["iops"]+j["write"]["iops"],1))' \
    "$work/out.json"
}

# median VALUES...: the middle value (the mean of the two middle ones for an even count).
median() { python3 -c 'import statistics, sys; print(round(statistics.median(map(float, sys.argv[1:])), 2))' "$@"; }

# measure KERNEL_DEVICE: every job on the kernel's device, then on each daemon's, `rounds` times
# (default 1). A ratio is taken within each round, from samples a few seconds apart, and the
# table shows the median over the rounds, of the kernel's IOPS and of each ratio.
measure() {
  local i r mode k
  local -a kernel_samples
  local -A ratio_samples
  for i in "${!jobs[@]}"; do
    kernel_samples=()
    ratio_samples=()
    for ((r = 0; r < ${rounds:-1}; r++)); do
      k="$(iops "$1" "${jobs[$i]}")"
      kernel_samples+=("$k")
      for mode in "${modes[@]}"; do
        ratio_samples[$mode]+=" $(python3 -c "print($(iops "${dev[$mode]}" "${jobs[$i]}")/$k)")"
      done
    done
    kernel_iops[$i]="$(median "${kernel_samples[@]}")"
    for mode in "${modes[@]}"; do
      # shellcheck disable=SC2086 # the samples are words
      ratio[$mode,$i]="$(python3 -c 'import statistics, sys; print(f"{statistics.median(map(float, sys.argv[1:])):.2f}")' ${ratio_samples[$mode]})"
    done
  done
}

# stop_daemons: each daemon's peak RSS, then SIGTERM; a daemon that fails its stop fails the run.
stop_daemons() {
  local mode
  for mode in "${modes[@]}"; do
    # With the transparent huge pages the pool gets (AnonHugePages now): a daemon started while
    # the guest still had free 2 MiB pages touches memory in 2 MiB steps, one started later in 4 KiB.
    rss[$mode]="$(awk '/VmHWM/ {print $2 $3}' "/proc/${pid[$mode]}/status")/$(awk '/AnonHugePages/ {print $2 $3}' "/proc/${pid[$mode]}/smaps_rollup")"
    kill -TERM "${pid[$mode]}"
    wait "${pid[$mode]}" || { cat "$(out_file "$mode").err" >&2; exit 1; }
  done
  pid=()
}

# print_table KERNEL_LABEL: a row per job (the kernel's IOPS, each mode's ratio), then the RSS row.
print_table() {
  local i m rw bs qd
  printf '%-16s %14s' job "$1"; for m in "${modes[@]}"; do printf ' %12s' "$m"; done; echo
  for i in "${!jobs[@]}"; do
    read -r rw bs qd <<<"${jobs[$i]}"
    printf '%-16s %9s IOPS' "$rw $bs qd$qd" "${kernel_iops[$i]}"
    for m in "${modes[@]}"; do printf ' %12s' "${ratio[$m,$i]}"; done
    echo
  done
  printf '%-16s %14s' "VmHWM/THP" "-"; for m in "${modes[@]}"; do printf ' %12s' "${rss[$m]}"; done; echo
}
