#!/bin/sh
# Usage: fetch-kernel.sh [amd64|arm64]
# Fetches a distribution kernel of the architecture (Debian's name; amd64 by
# default) once into the cache and prints the path of the image to boot.
# The cache directory is kernel/ for amd64, kernel-<arch>/ for the others:
#   vmlinuz             the kernel image, readable by anyone
#   vmlinux             the same kernel decompressed (an ELF that QEMU boots
#                       through its PVH entry, about 3 s faster under TCG),
#                       when the image's compression could be undone here
#                       (amd64 only: QEMU unpacks an arm64 Image.gz itself)
#   modules/<release>/  the package's /lib/modules/<release> tree
#   release             the kernel release, e.g. 6.1.0-56-amd64
# Debian: linux-image-<arch> names the real linux-image-<release> package; a
# foreign architecture is added to apt first (dpkg --add-architecture).
# Ubuntu: linux-image-generic does, and the modules come in linux-modules-<release>.
set -eu

arch="${1:-amd64}"
case "$arch" in
  amd64) suffix="" ;;
  arm64) suffix="-arm64" ;;
  *) echo "fetch-kernel: unknown architecture $arch (amd64 or arm64)" >&2; exit 1 ;;
esac
cache="${SYSINIT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/effect-sysinit}/kernel$suffix"

# The image to boot: the decompressed kernel when there is one.
boot_image() {
  if [ -s "$cache/vmlinux" ]; then echo "$cache/vmlinux"; else echo "$cache/vmlinuz"; fi
}

# Decompresses the kernel inside a bzImage, as the kernel's extract-vmlinux does:
# find the compressed payload by its magic, decompress until the data ends.
extract_vmlinux() {
  for spec in 'xz \xfd7zXZ\x00' 'gzip \x1f\x8b\x08' 'zstd \x28\xb5\x2f\xfd'; do
    tool="${spec%% *}"
    magic="${spec#* }"
    command -v "$tool" >/dev/null || continue
    LC_ALL=C grep -obUaP "$magic" "$1" 2>/dev/null | cut -d: -f1 | while read -r offset; do
      tail -c +"$((offset + 1))" "$1" | "$tool" -dc >"$2" 2>/dev/null || true
      if [ "$(head -c 4 "$2" | od -An -tx1 | tr -d ' \n')" = "7f454c46" ]; then
        echo found
        break
      fi
    done | grep -q found && return 0
  done
  rm -f "$2"
  return 1
}

if [ -s "$cache/vmlinuz" ] && [ -s "$cache/release" ]; then
  boot_image
  exit 0
fi

for tool in apt-get apt-cache dpkg dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "fetch-kernel: $tool not found (needs Debian or Ubuntu)" >&2; exit 1; }
done
. "$(dirname "$0")/apt-arch.sh"
ensure_apt_arch "$arch" fetch-kernel

# The first dependency of a meta package that names a kernel image package.
real_package() {
  apt-cache depends "$1" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1
}

meta=""
for candidate in "linux-image-$arch:$arch" "linux-image-generic:$arch"; do
  if apt-cache show "$candidate" >/dev/null 2>&1; then meta="$candidate"; break; fi
done
if [ -z "$meta" ]; then
  echo "fetch-kernel: no kernel package known to apt, running apt-get update" >&2
  apt-get update -qq >&2
  for candidate in "linux-image-$arch:$arch" "linux-image-generic:$arch"; do
    if apt-cache show "$candidate" >/dev/null 2>&1; then meta="$candidate"; break; fi
  done
fi
[ -n "$meta" ] || { echo "fetch-kernel: neither linux-image-$arch nor linux-image-generic is available for $arch" >&2; exit 1; }

package="$(real_package "$meta")"
[ -n "$package" ] || { echo "fetch-kernel: cannot resolve the kernel package behind $meta" >&2; exit 1; }
package="${package%:$arch}"
release="${package#linux-image-}"
release="${release%-unsigned}"
packages="$package:$arch"
if apt-cache show "linux-modules-$release:$arch" >/dev/null 2>&1; then
  packages="$packages linux-modules-$release:$arch"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetch-kernel: downloading $packages" >&2
# apt-get download writes into the current directory; as root it drops to the
# _apt user, which must be able to write there.
chmod 0777 "$work"
(cd "$work" && apt-get download -qq $packages >&2)
for deb in "$work"/*.deb; do
  dpkg-deb -x "$deb" "$work/root"
done

image="$(ls "$work/root/boot/vmlinuz-"* 2>/dev/null | head -n 1)"
[ -n "$image" ] || { echo "fetch-kernel: no /boot/vmlinuz-* in $packages" >&2; exit 1; }
modules="$work/root/lib/modules/$release"
[ -d "$modules" ] || modules="$work/root/usr/lib/modules/$release"

mkdir -p "$cache"
rm -rf "$cache/modules.tmp"
mkdir -p "$cache/modules.tmp"
if [ -d "$modules" ]; then
  cp -a "$modules" "$cache/modules.tmp/$release"
fi
rm -rf "$cache/modules"
mv "$cache/modules.tmp" "$cache/modules"
cp "$image" "$cache/vmlinuz.tmp"
chmod 0644 "$cache/vmlinuz.tmp"
mv "$cache/vmlinuz.tmp" "$cache/vmlinuz"
rm -f "$cache/vmlinux"
if [ "$arch" != amd64 ]; then
  :
elif extract_vmlinux "$cache/vmlinuz" "$cache/vmlinux.tmp"; then
  mv "$cache/vmlinux.tmp" "$cache/vmlinux"
else
  echo "fetch-kernel: could not decompress $image; booting the compressed image (slower)" >&2
fi
echo "$release" >"$cache/release"
boot_image
