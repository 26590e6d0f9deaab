#!/usr/bin/env bash
# no-ublk.sh: on a host without /dev/ublk-control both daemons fail at once with one line that says
# how to get a ublk kernel. Where the host has ublk, the test hides /dev in a private mount
# namespace so that the refusal is still exercised. Runs on the host (ctest label cli).
set -euo pipefail
build_dir="${UBLKPOOL_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}"
fail() { echo "[no-ublk] FAIL: $*" >&2; exit 1; }

if [ -e /dev/ublk-control ] && [ "${1:-}" != --hidden ]; then
  # A fresh /dev without ublk-control, keeping /dev/null.
  exec unshare --mount bash -c '
    set -e
    keep=$(mktemp) && mount --bind /dev/null "$keep"
    mount -t tmpfs tmpfs /dev && touch /dev/null && mount --bind "$keep" /dev/null
    exec "$0" --hidden' "$0"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for name in ublk-pool-mem ublk-pool-null; do
  bin="$build_dir/bin/$name"
  [ -x "$bin" ] || fail "$bin is missing: build it first"
  "$bin" --help >"$work/help" 2>&1 || fail "$name --help exited non-zero without ublk"
  rc=0
  timeout 30 "$bin" --size 16M >"$work/out" 2>"$work/err" </dev/null || rc=$?
  ((rc != 0 && rc != 124 && rc < 128)) || fail "$name exited $rc without /dev/ublk-control"
  [ ! -s "$work/out" ] || fail "$name printed on stdout: $(cat "$work/out")"
  (($(wc -l <"$work/err") == 1)) || fail "$name printed $(wc -l <"$work/err") lines on stderr: $(cat "$work/err")"
  grep -Eq 'ublk_drv|ublk kernel|run-in-vm' "$work/err" || fail "$name does not say how to get ublk: $(cat "$work/err")"
  echo "[no-ublk] $name (exit $rc): $(cat "$work/err")"
done
echo "[no-ublk] PASS"
