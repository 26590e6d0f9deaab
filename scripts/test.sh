#!/usr/bin/env bash
# The whole test suite: setup, build, unit tests, the same unit tests under ASan+UBSan and TSan,
# then the integration tests on a real ublk kernel (natively, or in a qemu VM).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/hugepages.sh reserve 32 || echo "test: could not reserve hugetlb pages; hugetlb tests will skip" >&2

scripts/build.sh default
echo "== unit tests, and the command-line tests on this host" >&2
ctest --test-dir build -L "^(unit|cli)$" --output-on-failure -j "$(nproc)"

echo "== the installed libraries: clang Release into a prefix, the examples built against it" >&2
tests/install/install-check.sh

echo "== unit tests under ASan+UBSan" >&2
scripts/build.sh asan
ctest --test-dir build-asan -L unit --output-on-failure -j "$(nproc)"

echo "== unit tests under TSan" >&2
scripts/build.sh tsan
ctest --test-dir build-tsan -L unit -LE no-tsan --output-on-failure -j "$(nproc)"

echo "== libpool fuzzer (clang libFuzzer + ASan/UBSan, 60 s)" >&2
tests/fuzz/run.sh 60

echo "== integration tests on a real ublk kernel" >&2
ctest --test-dir build -L vm --output-on-failure
