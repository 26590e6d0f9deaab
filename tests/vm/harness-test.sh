#!/usr/bin/env bash
# harness-test.sh RUN_IN_VM KERNEL   (runs on the host)
#   Checks run-in-vm.sh's own contract: the command's exit code comes back, the guest keeps the
#   cwd, the results share brings files back, and a timeout kills the VM with exit 124.
set -euo pipefail
run="$1"
kernel="$2"
fail() { echo "harness-test: FAIL: $*" >&2; exit 1; }

results=$(mktemp -d "$PWD/harness-results.XXXXXX")
trap 'rm -rf "$results"' EXIT
set +e
out=$(UBLK_VM_RESULTS="$results" "$run" --kernel "$kernel" -- bash -c \
  'echo "cwd=$PWD"; echo "guest $(uname -r)" > "$UBLK_VM_RESULTS/from-guest"; echo to-stderr >&2; exit 7')
rc=$?
set -e
echo "$out"
((rc == 77)) && { echo "harness-test: SKIP: no VM could run the command (run-in-vm.sh exit 77, reason above)" >&2; exit 77; }
((rc == 7)) || fail "exit code $rc, wanted the command's 7"
grep -qx "cwd=$PWD" <<<"$out" || fail "the guest did not run in $PWD"
grep -qx "to-stderr" <<<"$out" || fail "the command's stderr did not come back"
[ -s "$results/from-guest" ] || fail "nothing came back through UBLK_VM_RESULTS"
echo "harness-test: results share: $(cat "$results/from-guest")"

set +e
"$run" --kernel "$kernel" --timeout 2 -- sleep 600
rc=$?
set -e
if [ -e /dev/ublk-control ]; then
  ((rc == 124)) || fail "native timeout gave exit $rc, wanted 124"
else
  ((rc == 124)) || fail "a VM timeout gave exit $rc, wanted 124"
fi
echo "harness-test: PASS"
