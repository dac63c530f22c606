#!/bin/sh
# Installs what booting a VM needs besides the npm packages: QEMU and the kernel.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-qemu.sh
sh scripts/install-go.sh
sh scripts/fetch-kernel.sh >/dev/null
