#!/usr/bin/env bash
# The main job: setup, build, then the end-to-end benchmark on a real ublk device
# (natively where the kernel has ublk, else in a qemu VM).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  -h | --help)
    cat <<'EOF_USAGE'
usage: scripts/bench.sh [memcpy_vs_getdata options]
Installs what is missing (scripts/setup.sh), builds (scripts/build.sh default), then runs
build/bin/memcpy_vs_getdata with the options given (build/bin/memcpy_vs_getdata --help lists
them; e.g. --quick, --vm 6.12, --mode get_data,copy). Each run's results go to a new folder
build/bench-results/memcpy_vs_getdata/YYYYmmdd-HHMMSS, and .../latest points at the newest.
Without memcpy_vs_getdata in the build it runs build/bin/pool_bench (after reserving 32 hugetlb
pages) with the options given instead.
Exit: memcpy_vs_getdata's (0 all measured, 1 failed, 2 bad command line, 3 some cells failed).
EOF_USAGE
    exit 0 ;;
esac
scripts/setup.sh
scripts/build.sh default
if [ -x build/bin/memcpy_vs_getdata ]; then
  exec build/bin/memcpy_vs_getdata "$@"
fi
scripts/hugepages.sh reserve 32 || true
exec build/bin/pool_bench "$@"
