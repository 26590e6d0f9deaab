#!/usr/bin/env bash
# run-in-vm.sh [options] -- COMMAND [ARGS...]
#   Runs COMMAND on a kernel with ublk and exits with its exit code. Where the host kernel has
#   ublk (/dev/ublk-control exists, or `modprobe ublk_drv` works) the command runs natively.
#   Otherwise a ublk-capable Debian kernel boots under qemu (TCG), chrooted into the host's root
#   (shared read-only over virtio-9p), so the guest runs the host's binaries at the same paths.
#
#   Inside the guest: same cwd, PATH/HOME/TERM reset, UBLK* variables passed through, stdin is
#   /dev/null, stdout and stderr are merged onto the host's stdout. /tmp and /run are fresh tmpfs.
#
#   Files back from the guest: set UBLK_VM_RESULTS to a host directory; the guest sees it writable
#   at the same path (natively it simply is that directory).
#
#   Network (--net): the guest gets a virtio-net NIC on qemu's user networking (slirp), 10.0.2.15/24
#   with a default route, and UBLK_VM_HOST=10.0.2.2: connections to that address reach the host's
#   127.0.0.1 (a server the host started on 127.0.0.1:PORT is 10.0.2.2:PORT to the guest). Natively
#   UBLK_VM_HOST=127.0.0.1. Without --net the guest has no NIC and UBLK_VM_HOST is not set.
#   --net tap: the NIC is on a host tap device instead (tests/vm/tap.sh makes ublkvm-PID, a /30 in
#   10.234.0.0/16; removed again on every exit the script sees): the host kernel carries the
#   packets, qemu passes virtio-net headers, and the guest's NIC has checksum offload and
#   scatter-gather. UBLK_VM_HOST is the host's address on the tap; a server must listen there.
#   --net tap:NAME uses a device tap.sh made beforehand (the caller removes it), so that the
#   caller can start its server on the address first. UBLK_VM_NET=user|tap|native tells the job.
#
#   Exit status: the command's; 124 on timeout (qemu is killed); 77 (a skip, ctest's
#   SKIP_RETURN_CODE) when no VM could run the command at all: qemu missing, the kernel not
#   fetched, the initramfs not built, the guest never reaching the command; the line
#   "run-in-vm: SKIP: <reason>" says which. 125 when the harness failed otherwise (the guest died
#   mid-command, a path it cannot carry); 2 for a bad command line.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

usage() {
  cat <<USAGE
usage: run-in-vm.sh [options] -- COMMAND [ARGS...]
  --kernel 7.3|6.12   guest kernel if a VM boots (default 7.3: trixie-backports; 6.12:
                      bookworm-backports)
  --cpus N            guest CPUs (default 2)
  --mem SIZE          guest memory (default 2G)
  --timeout SECS      kill the VM after SECS seconds (default 600); exit 124
  --cache DIR         kernel/initramfs cache (default \$UBLK_VM_CACHE or $repo/build/vm)
  --vm 7.3|6.12       boot a VM with that kernel even when the host kernel has ublk
  --native            never boot a VM; fail when the host kernel has no ublk
  --net               give the guest a network link to the host: a virtio-net NIC on qemu's user
                      networking (slirp), 10.0.2.15/24; the command gets UBLK_VM_HOST=10.0.2.2,
                      the host's 127.0.0.1 as the guest sees it (natively UBLK_VM_HOST=127.0.0.1).
                      Needs virtio_net in the kernel cache (fetch-kernel.sh takes it; an older
                      cache lacks it: a skip, exit 77). Same as --net user
  --net tap           the NIC on a host tap device (tests/vm/tap.sh makes ublkvm-<pid> with a /30
                      in 10.234.0.0/16: the host the first address, the guest the second) with
                      virtio-net headers: checksum offload and scatter-gather in the guest.
                      UBLK_VM_HOST is the host's tap address (a server must listen on it, not on
                      127.0.0.1). The device is removed on exit (not after a SIGKILL: the next
                      tap run removes those whose PID is gone). Needs root and /dev/net/tun, else
                      a skip (exit 77). Natively the same as --net.
  --net tap:NAME      as --net tap, on a device made with \`tests/vm/tap.sh create ID\` (left for
                      the caller to delete): a server can listen on its address before the boot
  --net-tap           the same as --net tap
  --prepare           only fetch the kernel and build the initramfs (no command)
  -h, --help          this help
Environment: UBLK_VM_RESULTS=DIR shares host DIR writable with the guest at the same path.
The job gets UBLK_VM_KERNEL (7.3, 6.12 or native), and with --net UBLK_VM_HOST and UBLK_VM_NET
(user, tap or native).
Exit: the command's; 124 timeout; 77 no VM could run it (a skip: the reason is printed);
125 the harness failed; 2 bad command line.
USAGE
}

kernel=7.3
cpus=2
mem=2G
timeout_s=600
cache="${UBLK_VM_CACHE:-$repo/build/vm}"
where=auto
native_given=0
vm_given=0
prepare_only=0
net=""      # "", user or tap
tap_name="" # --net tap:NAME: the caller's device
usage_error() { echo "run-in-vm: $*" >&2; exit 2; }
# skip REASON: no VM could run the command; ctest counts exit 77 as a skip (SKIP_RETURN_CODE).
skip() { echo "run-in-vm: SKIP: $*" >&2; exit 77; }
while (($#)); do
  opt="$1"
  value=""
  case "$opt" in
    --) shift; break ;;
    -h | --help) usage; exit 0 ;;
    --native | --prepare) shift ;;
    --net-tap) opt=--net; value=tap; shift ;;
    --net)
      # An optional value as the next word: --net tap. A bare --net is user networking.
      shift
      if (($#)) && [[ "$1" =~ ^(user|tap|tap:.*)$ ]]; then value="$1"; shift; fi ;;
    --*=*) value="${opt#*=}"; opt="${opt%%=*}"; shift ;;
    --kernel | --cpus | --mem | --timeout | --cache | --vm)
      (($# >= 2)) || usage_error "$opt needs a value"
      value="$2"
      shift 2 ;;
    *) usage_error "unknown option '$opt' (see --help)" ;;
  esac
  case "$opt" in
    --kernel) kernel="$value" ;;
    --cpus) cpus="$value" ;;
    --mem) mem="$value" ;;
    --timeout) timeout_s="$value" ;;
    --cache) cache="$value" ;;
    --vm) kernel="$value"; where=vm; vm_given=1 ;;
    --native) where=native; native_given=1 ;;
    --prepare) prepare_only=1 ;;
    --net)
      case "${value:-user}" in
        user | tap) net="${value:-user}" ;;
        tap:ublkvm-*) net=tap; tap_name="${value#tap:}" ;;
        *) usage_error "bad --net '$value': want user, tap or tap:NAME (a device tests/vm/tap.sh made)" ;;
      esac ;;
    *) usage_error "unknown option '$opt' (see --help)" ;;
  esac
done
(($#)) || ((prepare_only)) || { echo "run-in-vm: no command given (see --help)" >&2; exit 2; }
case "$kernel" in 7.3 | 6.12) ;; *) usage_error "bad kernel '$kernel': want 7.3 or 6.12" ;; esac
[[ "$cpus" =~ ^[1-9][0-9]*$ ]] || usage_error "bad --cpus '$cpus': want a whole number >= 1"
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || usage_error "bad --timeout '$timeout_s': want whole seconds >= 1"
[[ "$mem" =~ ^[1-9][0-9]*[MG]$ ]] || usage_error "bad --mem '$mem': want a size such as 2G or 1536M"
[ "$vm_given" = 1 ] && [ "$native_given" = 1 ] && usage_error "--native and --vm conflict (pick one)"

host_has_ublk() {
  [ -e /dev/ublk-control ] && return 0
  modprobe ublk_drv 2>/dev/null && [ -e /dev/ublk-control ]
}

if [ "$where" != vm ] && host_has_ublk; then
  ((prepare_only)) && exit 0
  echo "run-in-vm: the host kernel $(uname -r) has ublk; running natively" >&2
  export UBLK_VM_KERNEL=native
  if [ -n "$net" ]; then
    export UBLK_VM_HOST=127.0.0.1 UBLK_VM_NET=native
  else
    unset UBLK_VM_HOST UBLK_VM_NET
  fi
  set +e
  timeout -k 10 "$timeout_s" "$@"
  rc=$?
  ((rc == 124)) && echo "run-in-vm: timed out after ${timeout_s}s" >&2
  exit "$rc"
fi
[ "$where" = native ] && { echo "run-in-vm: --native given but the host kernel $(uname -r) has no ublk" >&2; exit 125; }

command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is missing (apt-get install qemu-system-x86)"

kdir="$cache/kernel-$kernel"
"$here/fetch-kernel.sh" "$kernel" "$kdir" || skip "could not fetch the $kernel kernel into $kdir (see above; needs the Debian mirror)"
initrd="$kdir/initramfs.cpio.gz"
if [ ! -s "$initrd" ] || [ "$here/guest-init.sh" -nt "$initrd" ] || [ "$here/make-initramfs.sh" -nt "$initrd" ] ||
   [ "$kdir/version" -nt "$initrd" ]; then
  (
    flock 9
    "$here/make-initramfs.sh" "$kdir" "$initrd"
  ) 9>"$kdir.initramfs.lock" || skip "could not build the initramfs for the $kernel kernel (see above)"
fi
((prepare_only)) && { echo "run-in-vm: $(cut -d' ' -f1 "$kdir/version") ready in $kdir" >&2; exit 0; }
if [ -n "$net" ] && ! grep -q '^virtio_net\b' "$kdir/modules/load-order" && ! grep -qx virtio_net "$kdir/modules/builtin" 2>/dev/null; then
  skip "--net needs virtio_net, and the kernel cache $kdir lacks it (fetched before tests/vm/fetch-kernel.sh listed it): remove $kdir to fetch it again, or give --cache NEW_DIR"
fi

# The control share: the job script in, the exit status and the console log out.
ctl=$(mktemp -d "${TMPDIR:-/tmp}/ublk-vm.XXXXXX")
qemu_pid=""
tap_made=""  # the tap device this run made, removed on exit
relay_pid=""
cleanup() {
  # Every step, whatever the one before returned (errexit would stop at a failed kill or wait).
  set +e
  # qemu runs under timeout(1), which passes the TERM on to qemu.
  [ -n "$qemu_pid" ] && kill -TERM "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
  # A relay still blocked opening the console fifo (a TERM before qemu started) would never end.
  [ -n "$relay_pid" ] && kill -TERM "$relay_pid" 2>/dev/null
  [ -z "$tap_made" ] || "$here/tap.sh" delete "$tap_made"
  rm -rf "$ctl"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --net tap: the device, its host address (UBLK_VM_HOST) and the guest's.
if [ "$net" = tap ]; then
  if [ -n "$tap_name" ]; then
    [ -e "/sys/class/net/$tap_name" ] || { echo "run-in-vm: --net tap:$tap_name: no such device (tests/vm/tap.sh create makes one)" >&2; exit 125; }
    tap_line="$("$here/tap.sh" addrs "$tap_name")" || exit 125
    read -r tap_host tap_guest tap_prefix <<<"$tap_line"
  else
    # Named before it exists: a TERM while tap.sh runs must still remove it (tap.sh create names
    # it ublkvm-<the ID>; delete is quiet when it is not there).
    tap_made="ublkvm-$$"
    set +e
    tap_line="$("$here/tap.sh" create "$$" 2>"$ctl/tap.err")"
    tap_rc=$?
    set -e
    ((tap_rc == 0)) || skip "--net tap: no tap device ($(tail -n 1 "$ctl/tap.err"))"
    read -r tap_name tap_host tap_guest tap_prefix <<<"$tap_line"
  fi
fi

for path in "$ctl" "$PWD" ${UBLK_VM_RESULTS:+"$UBLK_VM_RESULTS"}; do
  [[ "$path" =~ ^/[A-Za-z0-9_./+@-]*$ ]] ||
    { echo "run-in-vm: path '$path' has characters the VM command line cannot carry" >&2; exit 125; }
done

{
  echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb LANG=C.UTF-8'
  printf 'export UBLK_VM_KERNEL=%q\n' "$kernel"
  while IFS= read -r name; do
    case "$name" in UBLK_VM_HOST | UBLK_VM_NET) ;; UBLK*) printf 'export %s=%q\n' "$name" "${!name}" ;; esac
  done < <(compgen -e)
  case "$net" in
    user) echo 'export UBLK_VM_HOST=10.0.2.2 UBLK_VM_NET=user' ;;
    tap) printf 'export UBLK_VM_HOST=%q UBLK_VM_NET=tap\n' "$tap_host" ;;
  esac
  printf 'cd %q || { echo "run-in-vm: the cwd %s is not visible in the guest (under the host /tmp?)"; exit 125; }\n' "$PWD" "$PWD"
  printf 'exec'
  printf ' %q' "$@"
  printf ' 2>&1\n'
} >"$ctl/job.sh"

# The guest's /tmp is a fresh tmpfs; the host /tmp directories the job needs are bound through:
# those holding the cwd, the checkout, UBLK*/UBLKPOOL_* paths and absolute /tmp arguments. (Binding
# every host /tmp directory cost seconds of boot under TCG on a busy /tmp.)
declare -A tmp_dirs=()
note_tmp_path() {
  [[ "$1" =~ ^/tmp/([A-Za-z0-9_.+@-]+)(/|$) ]] && tmp_dirs["${BASH_REMATCH[1]}"]=1
  return 0
}
note_tmp_path "$PWD"
note_tmp_path "$repo"
while IFS= read -r name; do
  case "$name" in UBLK*) note_tmp_path "${!name}" ;; esac
done < <(compgen -e)
for arg in "$@"; do note_tmp_path "$arg"; done
unset "tmp_dirs[${ctl#/tmp/}]"  # the control share is mounted there itself
tmp_list="$(IFS=,; echo "${!tmp_dirs[*]}")"

# mitigations=off: retpolines and friends cost a lot under TCG and protect nothing in a test VM.
append="console=ttyS0 quiet panic=-1 mitigations=off no_timer_check ublkvm_ctl=$ctl"
[ -n "$tmp_list" ] && append+=" ublkvm_tmp=$tmp_list"
# No NIC unless --net (-nic none also skips the iPXE option ROM). With --net: virtio-net on slirp,
# without its option ROM (romfile=), which only network boot would use. With --net tap: on the
# tap device, with virtio-net headers (vnet_hdr=on: qemu fails rather than run without them), so
# that qemu offers the guest checksum offload and TSO; vhost=off: TCG, and no /dev/vhost-net.
nic=(-nic none)
case "$net" in
  user)
    append+=" ublkvm_net=1"
    nic=(-netdev "user,id=net0" -device "virtio-net-pci,netdev=net0,romfile=") ;;
  tap)
    append+=" ublkvm_net=1 ublkvm_ip=$tap_guest/$tap_prefix ublkvm_gw=$tap_host"
    nic=(-netdev "tap,id=net0,ifname=$tap_name,script=no,downscript=no,vhost=off,vnet_hdr=on"
      -device "virtio-net-pci,netdev=net0,romfile=") ;;
esac
shares=(
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
  -virtfs "local,path=$ctl,mount_tag=vmctl,security_model=none"
)
if [ -n "${UBLK_VM_RESULTS:-}" ]; then
  mkdir -p "$UBLK_VM_RESULTS"
  UBLK_VM_RESULTS="$(cd "$UBLK_VM_RESULTS" && pwd)"
  append+=" ublkvm_results=$UBLK_VM_RESULTS"
  shares+=(-virtfs "local,path=$UBLK_VM_RESULTS,mount_tag=results,security_model=none")
fi

# Prints the job's output (between the guest's markers) and notes when the job started.
relay_console() {
  local phase=boot line
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line//$'\r'/}"
    printf '%s\n' "$line" >>"$ctl/console.log"
    case "$phase" in
      boot)
        if [[ "$line" == *"===ublkvm-start"* ]]; then
          phase=job
          echo "$EPOCHREALTIME" >"$ctl/started"
        fi ;;
      job)
        if [[ "$line" == *"===ublkvm-end"* ]]; then
          phase=done
          line="${line%%===ublkvm-end*}"
          [ -n "$line" ] && printf '%s\n' "$line"
        else
          printf '%s\n' "$line"
        fi ;;
    esac
  done
}

# boot_once THREADING: one VM run with TCG threading multi|single; sets qemu_rc, t0 and t1.
boot_once() {
  rm -f "$ctl/console" "$ctl/console.log" "$ctl/started" "$ctl/status"
  mkfifo "$ctl/console"
  relay_console <"$ctl/console" &
  relay_pid=$!
  t0=$EPOCHREALTIME
  timeout -k 5 "$timeout_s" qemu-system-x86_64 -accel "tcg,thread=$1" -cpu max -m "$mem" -smp "$cpus" \
    -nographic -no-reboot "${nic[@]}" \
    -kernel "$kdir/vmlinuz" -initrd "$initrd" -append "$append" \
    "${shares[@]}" </dev/null >"$ctl/console" 2>&1 &
  qemu_pid=$!
  set +e
  wait "$qemu_pid"
  qemu_rc=$?
  qemu_pid=""
  wait "$relay_pid"
  relay_pid=""
  set -e
  t1=$EPOCHREALTIME
}

# A guest kernel under multi-threaded TCG now and then oopses while it patches its own code during
# boot (int3 in sched_clock_cpu, seen on 6.12 and 7.3, twice in a row once). Such a boot never
# reached the job, so it is retried, up to twice, with single-threaded TCG, which runs both vCPUs
# on one host thread and so cannot race on patched code; a job that started is never rerun.
boot_once multi
for retry in 1 2; do
  [ ! -e "$ctl/started" ] && ((qemu_rc != 124 && qemu_rc != 137)) || break
  echo "run-in-vm: the guest did not reach the job (qemu exit $qemu_rc); console tail, then retry $retry with thread=single:" >&2
  tail -n 12 "$ctl/console.log" | sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' -e 's/^/  | /' >&2
  boot_once single
done

version=$(cut -d' ' -f1 "$kdir/version")
if [ ! -s "$ctl/status" ] && ((qemu_rc == 124 || qemu_rc == 137)); then
  echo "run-in-vm: TIMEOUT: the command did not finish within ${timeout_s}s on $version; qemu killed" >&2
  exit 124
fi
if [ ! -e "$ctl/started" ]; then
  echo "run-in-vm: BOOT FAILURE: $version did not reach the job (qemu exit $qemu_rc); console:" >&2
  # Without the firmware's terminal escapes.
  sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' -e 's/^/  | /' "$ctl/console.log" >&2
  skip "the $version VM did not boot to the command (3 tries; console above)"
fi
if [ ! -s "$ctl/status" ]; then
  echo "run-in-vm: the guest died before the job finished (qemu exit $qemu_rc); console tail:" >&2
  tail -n 40 "$ctl/console.log" | sed 's/^/  | /' >&2
  exit 125
fi
rc=$(cat "$ctl/status")
boot=$(awk -v a="$t0" -v b="$(cat "$ctl/started")" 'BEGIN { printf "%.1f", b - a }')
total=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
echo "run-in-vm: $version booted in ${boot}s; ran in ${total}s total; exit $rc" >&2
exit "$rc"
