#!/usr/bin/env bash
# cli_convention.sh BUILD_DIR SOURCE_DIR: every user-facing binary and script follows docs/cli.md
# (ctest label cli, on the host, with or without ublk): --help exits 0 and does nothing,
# --version prints "<binary> <version>", a bad command line is one line "<binary>: ..." and exit
# 2, arguments are checked before the kernel is asked anything, and memcpy_vs_getdata refuses
# before it touches --out.
set -euo pipefail
build="$1"
source_dir="$2"
bin="$build/bin"
fail() { echo "[cli] FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version="$(sed -n 's/^project(ublkpool VERSION \([0-9.]*\).*/\1/p' "$source_dir/CMakeLists.txt")"
[ -n "$version" ] || fail "no version in $source_dir/CMakeLists.txt"

# expect_usage_error PATTERN PROGRAM ARGS...: exit 2, nothing on stdout, one stderr line
# "<name>: ..." matching PATTERN.
expect_usage_error() {
  local pattern="$1" program="$2" rc=0
  shift 2
  local name="${program##*/}"
  name="${name%.sh}"
  timeout 60 "$program" "$@" >"$work/out" 2>"$work/err" </dev/null || rc=$?
  ((rc == 2)) || fail "$name $*: exit $rc, wanted 2; stderr: $(cat "$work/err")"
  [ ! -s "$work/out" ] || fail "$name $*: printed on stdout: $(head -3 "$work/out")"
  (($(wc -l <"$work/err") == 1)) || fail "$name $*: $(wc -l <"$work/err") lines on stderr: $(cat "$work/err")"
  grep -Eq "^$name: .*$pattern" "$work/err" || fail "$name $*: '$(cat "$work/err")' lacks /^$name: .*$pattern/"
  echo "[cli] $name $*: $(cat "$work/err")"
}

for name in ublk-pool ublk-pool-null ublk-pool-mem ublk-pool-nbd ublk-pool-loop memcpy_vs_getdata cost_model pool_bench adapter_bench \
            ublk-adopt-example soak; do
  program="$bin/$name"
  [ -x "$program" ] || fail "$program is missing"
  timeout 60 "$program" --help >"$work/help" 2>&1 </dev/null || fail "$name --help exited non-zero"
  grep -q -- "--version" "$work/help" || fail "$name --help does not list --version"
  out="$(timeout 60 "$program" --version)" || fail "$name --version exited non-zero"
  [ "$out" = "$name $version" ] || fail "$name --version printed '$out', wanted '$name $version'"
  expect_usage_error "unknown option '--no-such-flag'" "$program" --no-such-flag
done

for script in "$source_dir"/scripts/*.sh "$source_dir/tests/vm/run-in-vm.sh"; do
  # --help must print and do nothing: no build, no test run (a timeout of 10 s would show it).
  timeout 10 "$script" --help >"$work/help" 2>"$work/err" </dev/null || fail "${script##*/} --help failed: $(cat "$work/err")"
  grep -q "^usage: " "$work/help" || fail "${script##*/} --help prints no usage"
  [ ! -s "$work/err" ] || fail "${script##*/} --help wrote to stderr: $(cat "$work/err")"
done

# One wording for a bad size, the same suffixes everywhere.
size_words="want a size such as 64K, 512M or 1G \\(suffixes K, M, G, T\\)"
expect_usage_error "bad --size '12Q': $size_words" "$bin/ublk-pool-mem" --size 12Q
expect_usage_error "bad --size '12Q': $size_words" "$bin/ublk-adopt-example" --size 12Q
expect_usage_error "bad --size '12Q': $size_words" "$bin/soak" --size 12Q
expect_usage_error "bad --max-io '12Q': $size_words" "$bin/memcpy_vs_getdata" --max-io 12Q
expect_usage_error "bad --send-zc 'lots': $size_words, or off" "$bin/ublk-pool-nbd" --connect tcp:127.0.0.1:1 --send-zc lots
expect_usage_error "--depth needs a value" "$bin/ublk-pool-null" --depth
expect_usage_error "--mode needs a value" "$bin/memcpy_vs_getdata" --mode

# Arguments before the environment: on any host, with or without ublk.
expect_usage_error "unknown provider 'nope'" "$bin/ublk-pool-mem" --provider nope
expect_usage_error "provider plugin '/nonexistent.so': no such file" "$bin/ublk-pool-mem" --provider-lib /nonexistent.so
"$bin/ublk-pool-mem" --list-providers >"$work/providers" || fail "--list-providers exited non-zero"
grep -qx pool "$work/providers" || fail "--list-providers does not list pool: $(cat "$work/providers")"
"$bin/ublk-pool-null" --provider help | grep -qx pool || fail "--provider help does not list pool"

# Subcommands have help; a flag missing its value says so.
for command in features list del; do
  "$bin/ublk-pool" "$command" --help | grep -q "^usage: ublk-pool $command" || fail "ublk-pool $command --help"
done
expect_usage_error "-n needs a value" "$bin/ublk-pool" del -n
expect_usage_error "unknown command 'frob'" "$bin/ublk-pool" frob

# Conflicting flags are refused, not "last one wins".
expect_usage_error "--native and --vm conflict" "$bin/memcpy_vs_getdata" --native --vm 7.3
expect_usage_error "bad --vm '5.0': want 7.3 or 6.12" "$bin/memcpy_vs_getdata" --vm 5.0
expect_usage_error "bad --mode 'zero_copy'" "$bin/memcpy_vs_getdata" --mode zero_copy
expect_usage_error "--native and --vm conflict" "$source_dir/tests/vm/run-in-vm.sh" --native --vm 7.3 -- true

# memcpy_vs_getdata never loses results: a refused run leaves an earlier run as it was.
out="$work/results"
mkdir -p "$out/20260101-000000"
for file in report.txt results.csv inner.json; do echo "earlier $file" >"$out/20260101-000000/$file"; done
ln -s 20260101-000000 "$out/latest"
before="$(cd "$out" && find . -printf '%p %s %l\n' | sort)"
rc=0
if [ -e /dev/ublk-control ]; then
  # --native is possible here: refuse through a daemon that does not exist instead.
  "$bin/memcpy_vs_getdata" --native --out "$out" --daemon /nonexistent/ublk-pool-null 2>"$work/err" || rc=$?
else
  "$bin/memcpy_vs_getdata" --native --out "$out" 2>"$work/err" || rc=$?
fi
((rc == 1)) || fail "memcpy_vs_getdata refused with exit $rc, wanted 1: $(cat "$work/err")"
[ "$(cd "$out" && find . -printf '%p %s %l\n' | sort)" = "$before" ] ||
  fail "memcpy_vs_getdata changed --out before refusing: $(cd "$out" && find . | sort | tr '\n' ' ')"
echo "[cli] memcpy_vs_getdata refused (exit 1) and left --out as it was: $(cat "$work/err")"
echo "[cli] PASS"
