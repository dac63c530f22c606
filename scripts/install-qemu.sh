#!/bin/sh
# Installs qemu-system-x86 when qemu-system-x86_64 is missing (Debian/Ubuntu, as root).
set -eu

if command -v qemu-system-x86_64 >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-qemu: qemu-system-x86_64 is missing; run as root or: sudo apt-get install -y qemu-system-x86" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
command -v qemu-system-x86_64 >/dev/null
