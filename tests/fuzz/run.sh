#!/usr/bin/env bash
# Builds the libpool fuzzer with clang into build-fuzz/ and fuzzes for SECONDS (default 60).
# Fails if the fuzzer finds a crash; the input is left in build-fuzz/artifacts/ (copy it into
# tests/fuzz/corpus/ once fixed, so that it is replayed forever). See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  echo "usage: tests/fuzz/run.sh [SECONDS] [extra libFuzzer flags...]   (default 60 s)"
  exit 0
fi
seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "run.sh: SECONDS must be a number, got '$seconds'" >&2; exit 2; }
shift || true

build=build-fuzz
cmake -S tests/fuzz -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" -j "$(nproc)"

# The regression corpus and the seeds first, without fuzzing: a known crash fails fast.
"$build/pool_fuzz_replay" --write-seeds "$build/seeds"
"$build/pool_fuzz_replay" tests/fuzz/corpus 2>/dev/null || {
  echo "run.sh: a regression input fails (rerun: POOL_FUZZ_TRACE=1 $build/pool_fuzz_replay tests/fuzz/corpus)" >&2
  exit 1
}

mkdir -p "$build/corpus" "$build/artifacts"
# -timeout: one input takes well under a second, but a loaded machine (VMs on 2 cores) has
# stretched that to 20 s. -rss_limit_mb: pools map up to ~34 MiB each outside malloc, plus ASan's shadow.
"$build/pool_fuzz" "$build/corpus" "$build/seeds" tests/fuzz/corpus \
  -max_total_time="$seconds" -max_len=4096 -timeout=120 -rss_limit_mb=4096 \
  -artifact_prefix="$build/artifacts/" -print_final_stats=1 "$@"
