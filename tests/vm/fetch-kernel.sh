#!/usr/bin/env bash
# fetch-kernel.sh KERNEL CACHE_DIR
#   Downloads a ublk-capable Debian kernel and keeps only what the test VM needs:
#   CACHE_DIR/vmlinuz, CACHE_DIR/modules/{netfs,9pnet,9pnet_virtio,9p,ublk_drv}.ko (uncompressed)
#   and CACHE_DIR/version. A no-op when CACHE_DIR is already complete.
#
#   KERNEL 7.3: linux-image-amd64 from trixie-backports (image -> linux-binary + linux-modules).
#   KERNEL 6.12: linux-image-amd64 from bookworm-backports (one package holds everything).
#
# apt runs against a temporary sources list (same archive as the machine's apt) with its own lists
# and cache dirs, so the machine's apt configuration and state are never touched.
set -euo pipefail

usage() { echo "usage: fetch-kernel.sh 7.3|6.12 CACHE_DIR" >&2; exit 2; }
(($# == 2)) || usage
kernel="$1"
cache="$2"

case "$kernel" in
  7.3)  suite=trixie-backports ;;
  6.12) suite=bookworm-backports ;;
  *) echo "fetch-kernel: unknown kernel '$kernel' (want 7.3 or 6.12)" >&2; exit 2 ;;
esac

modules=(netfs 9pnet 9pnet_virtio 9p ublk_drv)

is_complete() {
  [ -s "$cache/vmlinuz" ] && [ -s "$cache/version" ] || return 1
  local m
  for m in "${modules[@]}"; do [ -s "$cache/modules/$m.ko" ] || return 1; done
}

is_complete && exit 0

mkdir -p "$(dirname "$cache")"
# Two test runs may ask for the same kernel at once: the second waits and then finds it cached.
exec 9>"$cache.lock"
flock 9
is_complete && exit 0

# The archive the machine's apt already uses (deb822 or one-line format).
archive_uri() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($i !~ /security/) { print $i; exit } else break } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  echo "http://deb.debian.org/debian"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/fetch-kernel.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/parts" "$work/debs" "$work/root"
uri=$(archive_uri)
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb [signed-by=$keyring] $uri $suite main" > "$work/sources.list"

apt_opts=(
  -o "Dir::Etc::SourceList=$work/sources.list"
  -o "Dir::Etc::SourceParts=$work/parts"
  -o "Dir::State::Lists=$work/lists"
  -o "Dir::Cache=$work/cache"
  -o "APT::Sandbox::User=root"
)

echo "fetch-kernel: resolving the $kernel kernel from $uri $suite" >&2
apt-get "${apt_opts[@]}" -qq update >&2

candidate() { apt-cache "${apt_opts[@]}" policy "$1" | awk '/Candidate:/ { print $2 }'; }
depends_of() {  # package=version -> one dependency name per line (alternatives included)
  apt-cache "${apt_opts[@]}" show "$1" | awk -F': ' '/^Depends:/ { print $2; exit }' |
    tr ',|' '\n\n' | sed -e 's/([^)]*)//g' -e 's/^ *//' -e 's/ *$//' | grep -v '^$'
}

# The concrete image package: what the linux-image-amd64 metapackage points at when that is the
# wanted series, else the newest linux-image-KERNEL.*-amd64 the suite lists.
meta_version=$(candidate linux-image-amd64)
image=""
if [ -n "$meta_version" ] && [ "$meta_version" != "(none)" ]; then
  image=$(depends_of "linux-image-amd64=$meta_version" | grep -E "^linux-image-${kernel//./\\.}\.[0-9]+[^ ]*-amd64$" | head -1 || true)
fi
if [ -z "$image" ]; then
  image=$(apt-cache "${apt_opts[@]}" pkgnames "linux-image-$kernel." |
    grep -E "^linux-image-${kernel//./\\.}\.[0-9]+\+[^-]+-amd64$" | sort -V | tail -1 || true)
fi
[ -n "$image" ] || { echo "fetch-kernel: no linux-image-$kernel.*-amd64 in $suite at $uri" >&2; exit 1; }
abi=${image#linux-image-}
image_version=$(candidate "$image")

# Newer packaging splits the image into linux-binary-ABI (vmlinuz) and linux-modules-ABI.
packages=("$image")
while read -r dep; do
  case "$dep" in linux-binary-"$abi" | linux-modules-"$abi") packages+=("$dep") ;; esac
done < <(depends_of "$image=$image_version")

echo "fetch-kernel: downloading ${packages[*]} ($image_version)" >&2
(cd "$work/debs" && apt-get "${apt_opts[@]}" -qq download "${packages[@]}" >&2)
for deb in "$work/debs"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done

vmlinuz=$(find "$work/root" \( -path "*/modules/$abi/vmlinuz" -o -path "*/boot/vmlinuz-$abi" \) -type f | head -1)
[ -n "$vmlinuz" ] || { echo "fetch-kernel: no vmlinuz for $abi in ${packages[*]}" >&2; exit 1; }

stage="$cache.partial"
rm -rf "$stage"
mkdir -p "$stage/modules"
cp "$vmlinuz" "$stage/vmlinuz"
for m in "${modules[@]}"; do
  ko=$(find "$work/root" -path "*/modules/$abi/*" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" \) | head -1)
  [ -n "$ko" ] || { echo "fetch-kernel: module $m not found in ${packages[*]}" >&2; exit 1; }
  case "$ko" in
    *.xz) xz -dc "$ko" > "$stage/modules/$m.ko" ;;
    *.zst) zstd -qdc "$ko" > "$stage/modules/$m.ko" ;;
    *) cp "$ko" "$stage/modules/$m.ko" ;;
  esac
done
echo "$abi $image_version" > "$stage/version"
rm -rf "$cache"
mv "$stage" "$cache"
echo "fetch-kernel: cached $abi in $cache" >&2
