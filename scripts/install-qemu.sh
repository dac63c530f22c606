#!/bin/sh
# Usage: install-qemu.sh [amd64|arm64]…
# Installs QEMU's system emulator for each guest architecture (amd64 by
# default) whose binary is missing: qemu-system-x86 for amd64,
# qemu-system-arm for arm64 (Debian/Ubuntu, as root). Does nothing when all
# are there.
set -eu

missing=""
for arch in "${@:-amd64}"; do
  case "$arch" in
    amd64) binary=qemu-system-x86_64 package=qemu-system-x86 ;;
    arm64) binary=qemu-system-aarch64 package=qemu-system-arm ;;
    *) echo "install-qemu: unknown architecture $arch (amd64 or arm64)" >&2; exit 1 ;;
  esac
  command -v "$binary" >/dev/null || missing="$missing $package"
done
[ -n "$missing" ] || exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-qemu: missing QEMU; run as root or: sudo apt-get install -y$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
