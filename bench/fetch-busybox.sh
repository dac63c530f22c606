#!/bin/sh
# Fetches Debian's static busybox once into the cache and prints its path,
# without installing it: apt-get download and dpkg-deb -x, as the kernel
# script does.
set -eu

cache="${SYSINIT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/effect-sysinit}/busybox"
if [ -x "$cache/busybox" ]; then
  echo "$cache/busybox"
  exit 0
fi
for tool in apt-get dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "fetch-busybox: $tool not found (needs Debian or Ubuntu)" >&2; exit 1; }
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# As root, apt-get download drops to the _apt user, which must be able to write here.
chmod 0777 "$work"
if ! (cd "$work" && apt-get download -qq busybox-static >&2); then
  echo "fetch-busybox: busybox-static unknown to apt, running apt-get update" >&2
  apt-get update -qq >&2
  (cd "$work" && apt-get download -qq busybox-static >&2)
fi
dpkg-deb -x "$work"/busybox-static_*.deb "$work/root"
mkdir -p "$cache"
cp "$work/root/bin/busybox" "$cache/busybox.tmp"
chmod 0755 "$cache/busybox.tmp"
mv "$cache/busybox.tmp" "$cache/busybox"
echo "$cache/busybox"
