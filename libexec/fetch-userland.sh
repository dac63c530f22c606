#!/bin/sh
# Usage: fetch-userland.sh ARCH NODE_VERSION KOFFI_VERSION
# Fetches once what the guest of a foreign architecture (Debian's name: arm64)
# runs besides the kernel, and prints the directory that holds it:
#   node             node of the npm package node-linux-<node arch>@NODE_VERSION
#                    (the same version as the host's guest node; else the
#                    newest of the same major version)
#   koffi.node       koffi's native binary, @koromix/koffi-linux-<node arch>@KOFFI_VERSION
#   sysroot/         Debian's libc6, libstdc++6 and libgcc-s1 of ARCH, unpacked:
#                    the libraries node needs, at their paths in the guest
#   versions         what was fetched; a different request fetches again
# The directory is userland-<arch>/ in the cache. npm and apt-get download
# need no root; a foreign architecture is added to apt first (as root).
set -eu

arch="${1:?usage: fetch-userland.sh ARCH NODE_VERSION KOFFI_VERSION}"
node_version="${2:?node version}"
koffi_version="${3:?koffi version}"
case "$arch" in
  arm64) node_arch=arm64 ;;
  amd64) node_arch=x64 ;;
  *) echo "fetch-userland: unknown architecture $arch (arm64 or amd64)" >&2; exit 1 ;;
esac
dir="${SYSINIT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/effect-sysinit}/userland-$arch"
wanted="node-linux-$node_arch@$node_version @koromix/koffi-linux-$node_arch@$koffi_version libc6 libstdc++6 libgcc-s1"

if [ -x "$dir/node" ] && [ -s "$dir/koffi.node" ] && [ "$(cat "$dir/versions" 2>/dev/null)" = "$wanted" ]; then
  echo "$dir"
  exit 0
fi

for tool in npm tar apt-get dpkg dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "fetch-userland: $tool not found (needs npm, and Debian or Ubuntu)" >&2; exit 1; }
done
. "$(dirname "$0")/apt-arch.sh"
ensure_apt_arch "$arch" fetch-userland

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 0777 "$work"
echo "fetch-userland: fetching node-linux-$node_arch@$node_version, koffi's $node_arch binary and Debian's $arch libc" >&2
# The same version as the host's node when npm has it, else the newest of its major version.
if ! (cd "$work" && npm pack --silent "node-linux-$node_arch@$node_version" >/dev/null 2>&1); then
  (cd "$work" && npm pack --silent "node-linux-$node_arch@${node_version%%.*}" >/dev/null)
fi
(cd "$work" && npm pack --silent "@koromix/koffi-linux-$node_arch@$koffi_version" >/dev/null)
mkdir "$work/node" "$work/koffi"
tar -xzf "$work"/node-linux-*.tgz -C "$work/node"
tar -xzf "$work"/koromix-koffi-linux-*.tgz -C "$work/koffi"
(cd "$work" && apt-get download -qq "libc6:$arch" "libstdc++6:$arch" "libgcc-s1:$arch" >&2)
mkdir "$work/sysroot"
for deb in "$work"/*.deb; do
  dpkg-deb -x "$deb" "$work/sysroot"
done
# Only the shared libraries and the loader: no locales, docs or gconv modules.
rm -rf "$work/sysroot/usr/share" "$work/sysroot/usr/lib/$(ls "$work/sysroot/usr/lib" | grep -- '-linux-gnu$' | head -n 1)/gconv"

# Made beside the cache directory, then put in its place: a run that fetches
# at the same time finds either the old directory or a whole new one.
new="$dir.tmp.$$"
mkdir -p "$new"
cp "$work/node/package/bin/node" "$new/node"
cp "$work/koffi/package/linux_$node_arch/koffi.node" "$new/koffi.node"
mv "$work/sysroot" "$new/sysroot"
echo "$wanted" >"$new/versions"
rm -rf "$dir"
mv -T "$new" "$dir" 2>/dev/null || rm -rf "$new"
[ -x "$dir/node" ] || { echo "fetch-userland: $dir has no node" >&2; exit 1; }
echo "$dir"
