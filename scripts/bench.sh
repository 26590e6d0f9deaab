#!/usr/bin/env bash
# The main job: setup, build, then the end-to-end benchmark on a real ublk device
# (natively where the kernel has ublk, else in a qemu VM).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh default
if [ -x build/bin/memcpy_vs_getdata ]; then
  exec build/bin/memcpy_vs_getdata "$@"
fi
scripts/hugepages.sh reserve 32 || true
exec build/bin/pool_bench "$@"
