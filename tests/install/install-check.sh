#!/usr/bin/env bash
# install-check.sh [WORK_DIR]: the libraries as a user gets them. A clang Release build of the
# libraries only (no tests, benchmarks or daemons) is installed into WORK_DIR/prefix; then the
# examples are built out of tree against that prefix: examples/c-pool and examples/shm-client with
# pkg-config (and run here, shm_client without a daemon: its one-line failure), examples/ram-disk
# with find_package(ublkpool) (run on a ublk kernel by the VM test
# install_ram_disk_verify_7.3, which takes this binary: WORK_DIR/ram-disk/ram_disk).
#   WORK_DIR  default <repo>/build/install-check (not /tmp: the VM sees the host's files, not its /tmp)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="${1:-$repo/build/install-check}"
prefix="$work/prefix"
log() { printf '[install-check %4ds] %s\n' "$SECONDS" "$*" >&2; }
fail() { printf '[install-check %4ds] FAIL: %s\n' "$SECONDS" "$*" >&2; exit 1; }

# The same ccache keys as scripts/build.sh, so a second run (and another clone) is mostly hits.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$repo}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-true}"
rm -rf "$prefix" "$work/c-pool" "$work/shm-client" "$work/ram-disk"
mkdir -p "$work"

log "clang Release build of the libraries into $work/libraries"
cmake -S "$repo" -B "$work/libraries" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DUBLKPOOL_WERROR=ON \
  -DUBLKPOOL_BUILD_TESTS=OFF -DUBLKPOOL_BUILD_BENCH=OFF -DUBLKPOOL_BUILD_DAEMONS=OFF \
  -DUBLKPOOL_BUILD_ADAPTERS=ON -DUBLKPOOL_INSTALL=ON >/dev/null
cmake --build "$work/libraries" -j "$(nproc)" >/dev/null
cmake --install "$work/libraries" --prefix "$prefix" >/dev/null
libdir="$(cd "$prefix" && echo lib*/libublkpool.so | xargs dirname)"
log "installed into $prefix (libraries in $libdir)"

# The names a user links and loads.
for lib in libublkpool libublkpool-ublk libublkpool-adapters; do
  [ -f "$prefix/$libdir/$lib.a" ] || fail "$lib.a is not installed"
  soname="$(readelf -d "$prefix/$libdir/$lib.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')"
  [[ "$soname" == "$lib.so.0.2" ]] || fail "$lib.so has SONAME '$soname', not $lib.so.0.2"
done
[ -f "$prefix/include/ublkpool/pool/pool.h" ] || fail "pool/pool.h is not under include/ublkpool"
[ -f "$prefix/include/ublkpool/pool/version.h" ] || fail "the generated pool/version.h is not installed"
[ ! -e "$prefix/include/pool" ] || fail "a generic include/pool was installed"

log "examples/c-pool with pkg-config"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
[[ "$(pkg-config --modversion ublkpool)" == 0.2.0 ]] || fail "pkg-config ublkpool: wrong version"
pkg-config --exists ublkpool-ublk || fail "pkg-config ublkpool-ublk: not found"
mkdir -p "$work/c-pool"
make -s -C "$repo/examples/c-pool" O="$work/c-pool" >/dev/null
out="$(LD_LIBRARY_PATH="$prefix/$libdir" "$work/c-pool/pool_demo")" || { echo "$out" >&2; fail "pool_demo failed"; }
echo "$out" | sed 's/^/  | /' >&2
[[ "$out" == *"libublkpool 0.2.0"* ]] || fail "pool_demo did not print ublkpool_version()"
# The static library: libublkpool.a, and what pkg-config --static adds for the C++ runtime.
cc -O2 -o "$work/c-pool/pool_demo_static" "$repo/examples/c-pool/pool_demo.c" $(pkg-config --cflags ublkpool) \
  "$prefix/$libdir/libublkpool.a" $(pkg-config --static --libs-only-l ublkpool | sed 's/-lublkpool\b//')
"$work/c-pool/pool_demo_static" >/dev/null || fail "pool_demo linked statically failed"

log "examples/shm-client with pkg-config"
mkdir -p "$work/shm-client"
make -s -C "$repo/examples/shm-client" O="$work/shm-client" >/dev/null
rc=0
err="$(LD_LIBRARY_PATH="$prefix/$libdir" "$work/shm-client/shm_client" "$work/no-daemon.sock" /dev/null 2>&1)" || rc=$?
((rc == 1)) && [[ "$err" == *"no-daemon.sock"* ]] || fail "shm_client without a daemon: exit $rc, '$err'"

log "examples/ram-disk with find_package(ublkpool)"
cmake -S "$repo/examples/ram-disk" -B "$work/ram-disk" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/ram-disk" >/dev/null
[ -x "$work/ram-disk/ram_disk" ] || fail "ram_disk was not built"
if [ ! -e /dev/ublk-control ]; then
  # No ublk here: it must say so and exit 1 (it serves a device in the VM test).
  rc=0
  err="$("$work/ram-disk/ram_disk" 2>&1 >/dev/null)" || rc=$?
  ((rc == 1)) && [[ "$err" == ram_disk:* ]] || fail "ram_disk without ublk: exit $rc, '$err'"
fi
# find_package refuses a version this is not (0.x: the minor must match).
if cmake -S "$repo/examples/ram-disk" -B "$work/ram-disk-0.3" -DCMAKE_PREFIX_PATH="$prefix" \
     -DUBLKPOOL_EXAMPLE_VERSION=0.3 >/dev/null 2>&1; then
  fail "find_package(ublkpool 0.3) accepted 0.2.0"
fi
rm -rf "$work/ram-disk-0.3"
log "PASS"
