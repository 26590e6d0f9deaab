#!/usr/bin/env bash
# smoke.sh FEATURES_BIN KERNEL   (runs on the ublk kernel, through run-in-vm.sh)
#   Checks that the booted kernel is the wanted one, that /dev/ublk-control exists, and that the
#   driver reports the features the daemons' buffer modes need.
set -euo pipefail
(($# == 2)) || { echo "usage: smoke.sh FEATURES_BIN 7.3|6.12" >&2; exit 2; }
features_bin="$1"
want="$2"
fail() { echo "smoke: FAIL: $*" >&2; exit 1; }

running="$(uname -r)"
echo "smoke: kernel $running (wanted $want, harness ${UBLK_VM_KERNEL:-?})"
if [ "${UBLK_VM_KERNEL:-}" != native ]; then
  case "$running" in "$want".*) ;; *) fail "booted $running, not a $want kernel" ;; esac
fi
[ -c /dev/ublk-control ] || fail "/dev/ublk-control is missing"

report="$("$features_bin")" || fail "$features_bin failed"
echo "smoke: $report"
[[ "$report" =~ ^features\ 0x[0-9a-f]+ ]] || fail "unexpected report '$report'"
has() { [[ " $report " == *" $1 "* ]]; }

required=(NEED_GET_DATA)
# Both VM kernels offer user copy (6.5+); a native host may be older, so only the VM insists.
[ "${UBLK_VM_KERNEL:-}" != native ] && required+=(USER_COPY CMD_IOCTL_ENCODE)
for flag in "${required[@]}"; do has "$flag" || fail "the $running driver lacks $flag"; done
# The project's own control path (ublk-pool features), where it is built, must read the same flags.
admin="${features_bin%/*}/ublk-pool"
if [ -x "$admin" ]; then
  ours="$("$admin" features)" || fail "$admin features failed"
  [[ "$ours" =~ features:\ (0x[0-9a-f]+) ]] || fail "unexpected '$admin features' output: ${ours%%$'\n'*}"
  [ "${BASH_REMATCH[1]}" = "${report#features }" ] || [[ "$report" == "features ${BASH_REMATCH[1]} "* ]] ||
    fail "ublk-pool features says ${BASH_REMATCH[1]}, the kernel said ${report%% [A-Z]*}"
  echo "smoke: ublk-pool features agrees (${BASH_REMATCH[1]})"
fi
echo "smoke: PASS (${required[*]} present)"
