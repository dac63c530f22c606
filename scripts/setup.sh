#!/bin/sh
# Usage: setup.sh [amd64|arm64]…
# Installs what booting a VM of each architecture (amd64 by default) needs
# besides the npm packages: QEMU and the default kernel (after npm ci: the
# fetch runs on the packages' Node 24). An arm64 guest's node, koffi and
# libraries are fetched by the runner on first use.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-qemu.sh "${@:-amd64}"
sh scripts/install-go.sh
for arch in "${@:-amd64}"; do
  node_modules/.bin/node scripts/fetch-kernel.ts "$arch" >/dev/null
done
