#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build, test and benchmark ublk-pool.
# Idempotent: when everything is present it only checks and returns.
set -euo pipefail
case "${1:-}" in
  -h | --help)
    cat <<'EOF_USAGE'
usage: scripts/setup.sh
Installs with apt-get (as root, else through sudo) the Debian 12 packages that building, testing
and benchmarking ublk-pool need; when all are present it only checks. Exit 0 when everything is
installed, 1 when apt-get failed, 2 for a bad command line.
EOF_USAGE
    exit 0 ;;
  "") ;;
  *) echo "setup.sh: unexpected argument '$1' (see --help)" >&2; exit 2 ;;
esac

packages=(
  build-essential cmake pkg-config ccache
  libgtest-dev libgmock-dev libbenchmark-dev
  liburing-dev libjemalloc-dev libboost-dev libmimalloc-dev nlohmann-json3-dev
  fio e2fsprogs gnuplot-nox python3
  clang libclang-rt-14-dev
  qemu-system-x86 busybox-static xz-utils zstd cpio
  nbdkit qemu-utils nbd-client
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all dependencies present" >&2
