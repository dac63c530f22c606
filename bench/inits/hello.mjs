// The program of configurations 2 and 3's peer: print a line, exit 0. With
// --timeline, when node started and when this first line ran, on console 0.
const at = Number(process.hrtime.bigint()) / 1e6
if (process.argv.includes("--timeline")) {
  process.stderr.write(
    `bench-mark node-started ${(at - performance.now()).toFixed(1)}\nbench-mark program-started ${at.toFixed(1)}\n`
  )
}
console.log("hello from a fresh VM")
