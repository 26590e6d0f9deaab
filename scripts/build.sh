#!/usr/bin/env bash
# Configures and builds a CMake preset (default: "default", into build/).
set -euo pipefail
cd "$(dirname "$0")/.."
usage() {
  cat <<'EOF_USAGE'
usage: scripts/build.sh [PRESET]
Configures and builds a CMake preset of CMakePresets.json: default (RelWithDebInfo, into build/,
every binary in build/bin), asan (ASan+UBSan unit tests, build-asan/) or tsan (build-tsan/).
Exit 0 when the build succeeded, 1 when it failed, 2 for a bad command line.
EOF_USAGE
}
case "${1:-default}" in
  -h | --help) usage; exit 0 ;;
  default | asan | tsan) preset="${1:-default}" ;;
  *) echo "build.sh: bad preset '$1': want default, asan or tsan" >&2; exit 2 ;;
esac
(($# <= 1)) || { echo "build.sh: unexpected argument '$2' (see --help)" >&2; exit 2; }
# A clean clone (CI) builds the same sources under another path: compare paths relative to the
# checkout so that ccache (CMakeLists.txt) hits across clones.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
