#!/usr/bin/env bash
# The whole test suite: setup, build, unit tests, the same unit tests under ASan+UBSan and TSan,
# then the integration tests on a real ublk kernel (natively, or in a qemu VM).
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  -h | --help)
    cat <<'EOF_USAGE'
usage: scripts/test.sh
The README's test command, and CI's: installs what is missing (scripts/setup.sh), reserves 32
2 MiB hugetlb pages when root (given back on exit), builds the default, asan and tsan presets,
runs the unit and command-line tests (ctest -L unit, -L cli; the docs check among them), the unit
tests under ASan+UBSan and TSan, the libpool fuzzer for 60 s, then the VM tests (ctest -L vm:
natively where the host has ublk, else in a qemu VM; a VM that cannot boot is a skip).
Ends with how many tests were skipped, and why.
With CI=true as root, hugetlb pages that cannot be reserved fail the run (the hugetlb tests would
skip, and the pool's first backing choice would go untested).
Exit 0 when every test passed or skipped, non-zero otherwise; 2 for a bad command line.
EOF_USAGE
    exit 0 ;;
  "") ;;
  *) echo "test.sh: unexpected argument '$1' (see --help)" >&2; exit 2 ;;
esac

logs=$(mktemp -d "${TMPDIR:-/tmp}/ublkpool-test.XXXXXX")
knob=/proc/sys/vm/nr_hugepages
reserved=0

# The skipped tests of every ctest run so far, each with the first line that says why.
skip_summary() {
  local count
  count=$(cat "$logs"/*.skips 2>/dev/null | wc -l)
  echo "== $count test(s) skipped" >&2
  cat "$logs"/*.skips 2>/dev/null | sed 's/^/  /' >&2 || true
}

finish() {
  local rc=$?
  skip_summary
  if ((reserved > 0)); then
    echo $(($(cat "$knob") - reserved)) >"$knob" 2>/dev/null &&
      echo "test: gave back the $reserved hugetlb page(s) reserved for the run" >&2
  fi
  rm -rf "$logs"
  exit "$rc"
}
trap finish EXIT

# run_ctest NAME BUILD_DIR ARGS...: ctest, then its skipped tests noted for the summary. ctest
# names them in its console summary ("(Skipped)"); the reason is the test's own line, from
# LastTest.log: run-in-vm.sh's "SKIP: ..." or the line after GoogleTest's "...: Skipped".
run_ctest() {
  local name="$1" dir="$2"
  shift 2
  local rc=0
  ctest --test-dir "$dir" "$@" 2>&1 | tee "$logs/$name.out" || rc=${PIPESTATUS[0]}
  local skipped log="$dir/Testing/Temporary/LastTest.log"
  skipped=$(sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (Skipped)$/\1/p' "$logs/$name.out")
  for test in $skipped; do
    reason=""
    [ -f "$log" ] && reason=$(awk -v t="$test" '
      / Testing: / { mine = ($3 == t); inout = 0; next }
      mine && /^Output:$/ { inout = 1; next }
      mine && /^<end of output>$/ { inout = 0; next }
      mine && inout && /SKIP: / { sub(/.*SKIP: /, ""); print; exit }
      mine && inout && prev ~ /: Skipped$/ { print; exit }
      mine && inout { prev = $0 }' "$log")
    echo "$name: $test: ${reason:-(no reason printed)}" >>"$logs/$name.skips"
  done
  return "$rc"
}

scripts/setup.sh
if [ -w "$knob" ]; then
  if added=$(scripts/hugepages.sh reserve 32); then
    reserved=$added
  elif [ "${CI:-}" = true ]; then
    echo "test: FAIL: could not reserve 32 hugetlb pages as root in CI: the hugetlb tests would skip" >&2
    exit 1
  else
    echo "test: could not reserve hugetlb pages; the hugetlb tests will skip" >&2
  fi
else
  echo "test: not root: no hugetlb pages reserved; the hugetlb tests will skip" >&2
fi

scripts/build.sh default
echo "== unit tests, and the command-line tests on this host" >&2
run_ctest host build -L "^(unit|cli)$" --output-on-failure -j "$(nproc)"

echo "== the installed libraries: clang Release into a prefix, the examples built against it" >&2
tests/install/install-check.sh

echo "== unit tests under ASan+UBSan" >&2
scripts/build.sh asan
run_ctest asan build-asan -L unit --output-on-failure -j "$(nproc)"

echo "== unit tests under TSan" >&2
scripts/build.sh tsan
run_ctest tsan build-tsan -L unit -LE no-tsan --output-on-failure -j "$(nproc)"

echo "== libpool fuzzer (clang libFuzzer + ASan/UBSan, 60 s)" >&2
tests/fuzz/run.sh 60

echo "== integration tests on a real ublk kernel" >&2
run_ctest vm build -L vm --output-on-failure
