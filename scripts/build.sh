#!/usr/bin/env bash
# Configures and builds a CMake preset (default: "default", into build/).
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
# A clean clone (CI) builds the same sources under another path: compare paths relative to the
# checkout so that ccache (CMakeLists.txt) hits across clones.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
