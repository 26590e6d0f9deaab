#!/usr/bin/env bash
# fetch-kernel.sh KERNEL CACHE_DIR
#   Downloads a ublk-capable Debian kernel and keeps only what the test VM needs:
#   CACHE_DIR/vmlinuz, CACHE_DIR/modules/*.ko (uncompressed: the 9p client, ublk_drv, ext4 and what
#   they depend on; optional ones such as loop, nbd and virtio_net), CACHE_DIR/modules/load-order
#   (dependencies first; a second word tags a module "optional" or "net") and CACHE_DIR/version.
#   A no-op when CACHE_DIR is already complete.
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

# The guest needs these; their dependencies are resolved from each module's own modinfo.
modules=(9p 9pnet_virtio ublk_drv ext4)
# Loaded on demand through the crypto API (no depends= names them): 6.12's ext4 needs a crc32c
# driver, 7.3 has it in the library. Taken where the kernel ships them as modules. loop: the kernel's
# own loop driver, the baseline of bench/loop_vs_kernel; nbd: the kernel's NBD client, the baseline
# of bench/nbd_vs_kernel (a cache fetched before either was listed lacks it, and the bench says so).
optional_modules=(crc32c_generic crc32c_intel loop nbd)
# The NIC of run-in-vm.sh --net (virtio-net over qemu's user networking), with its dependencies
# (net_failover, failover): tagged "net" in load-order, the guest loads them only for --net. A
# cache fetched before virtio_net was listed lacks it, and run-in-vm.sh --net says so (a skip).
net_modules=(virtio_net)

# Bumped whenever the cache's contents change, so that older caches get fetched again.
cache_format=2

is_complete() {
  [ "$(cat "$cache/format" 2>/dev/null)" = "$cache_format" ] || return 1
  [ -s "$cache/vmlinuz" ] && [ -s "$cache/version" ] && [ -s "$cache/modules/load-order" ] || return 1
  local m
  for m in "${modules[@]}"; do grep -q "^$m\b" "$cache/modules/load-order" || return 1; done
  while read -r m _; do [ -s "$cache/modules/$m.ko" ] || return 1; done <"$cache/modules/load-order"
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

vmlinuz=$(find "$work/root" \( -path "*/modules/$abi/vmlinuz" -o -path "*/boot/vmlinuz-$abi" \) -type f | head -1 || true)
[ -n "$vmlinuz" ] || { echo "fetch-kernel: no vmlinuz for $abi in ${packages[*]}" >&2; exit 1; }

stage="$cache.partial"
rm -rf "$stage"
mkdir -p "$stage/modules"
cp "$vmlinuz" "$stage/vmlinuz"
# find_module NAME: the module's file (module names treat - and _ alike).
find_module() {
  local pattern="${1//[-_]/[-_]}"
  find "$work/root" -path "*/modules/$abi/*" \( -name "$pattern.ko" -o -name "$pattern.ko.xz" -o -name "$pattern.ko.zst" \) | head -1 || true
}
# place_module NAME [optional]: puts NAME's dependencies, then NAME, into load-order (depth first,
# each once). The guest tolerates an optional module that refuses to load (say, no SSE4.2).
declare -A placed=()
place_module() {
  local name="${1//-/_}" tag="${2:-}" ko raw dep
  [ -n "${placed[$name]:-}" ] && return 0
  placed[$name]=1
  ko=$(find_module "$name")
  [ -n "$ko" ] || { echo "fetch-kernel: module $name not found in ${packages[*]}" >&2; exit 1; }
  raw="$stage/modules/$name.ko"
  case "$ko" in
    *.xz) xz -dc "$ko" >"$raw" ;;
    *.zst) zstd -qdc "$ko" >"$raw" ;;
    *) cp "$ko" "$raw" ;;
  esac
  # .modinfo holds NUL-separated key=value strings; depends= names the modular dependencies.
  for dep in $(tr '\0' '\n' <"$raw" | sed -n 's/^depends=//p' | head -1 | tr ',' ' '); do
    place_module "$dep" "$tag"
  done
  echo "$name${tag:+ $tag}" >>"$stage/modules/load-order"
}
for m in "${optional_modules[@]}"; do [ -n "$(find_module "$m")" ] && place_module "$m" optional; done
# A net module the kernel has built in is named in modules/builtin instead (nothing to load).
: >"$stage/modules/builtin"
for m in "${net_modules[@]}"; do
  if [ -n "$(find_module "$m")" ]; then
    place_module "$m" net
  elif find "$work/root" -path "*/modules/$abi/modules.builtin" -exec grep -q "/$m.ko\$" {} \; -print | grep -q .; then
    echo "$m" >>"$stage/modules/builtin"
  fi
done
for m in "${modules[@]}"; do place_module "$m"; done
echo "$abi $image_version" > "$stage/version"
echo "$cache_format" > "$stage/format"
rm -rf "$cache"
mv "$stage" "$cache"
echo "fetch-kernel: cached $abi in $cache" >&2
