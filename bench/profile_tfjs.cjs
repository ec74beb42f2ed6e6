// Kernel times of one frame of a TF.js graph model in Node on WebAssembly (one thread, SIMD), by op.
//
//   tfstyle export MODEL_DIR --format tfjs           # -> MODEL_DIR/tfjs/model.json
//   node bench/profile_tfjs.cjs MODEL_DIR/tfjs/model.json [SIZE=256] [FRAMES=10]
//
// Prints the wall-clock milliseconds per frame over FRAMES frames (after 3 warm-up frames), then
// tf.profile's kernel milliseconds of one more frame, summed per op, largest first. TF.js comes from
// src/tfstyle/web/node_modules (npm ci --ignore-scripts --prefix src/tfstyle/web).
"use strict";
const path = require("path");
const { createRequire } = require("module");

const { loadModel } = require("../tests/js/load_graph_model.cjs");

const req = createRequire(path.join(__dirname, "..", "src", "tfstyle", "web", "node_modules", "noop.js"));

async function main() {
  const [modelPath, sizeArg = "256", framesArg = "10"] = process.argv.slice(2);
  if (!modelPath) throw new Error("usage: node bench/profile_tfjs.cjs MODEL_JSON [SIZE] [FRAMES]");
  const size = Number(sizeArg);
  const frames = Number(framesArg);
  const tf = req("@tensorflow/tfjs");
  req("@tensorflow/tfjs-backend-wasm");
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false); // Node's workers are not the browser's
  if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend did not start");
  await tf.ready();
  const model = await loadModel(tf, modelPath);
  const x = tf.randomUniform([1, size, size, 3]);
  const frame = async () => {
    const y = model.execute(x);
    await y.data();
    y.dispose();
  };
  for (let i = 0; i < 3; i += 1) await frame();
  const t0 = performance.now();
  for (let i = 0; i < frames; i += 1) await frame();
  console.log(`${size}x${size}: ${((performance.now() - t0) / frames).toFixed(1)} ms per frame (wall clock)`);
  const prof = await tf.profile(frame);
  const byOp = new Map();
  for (const k of prof.kernels) {
    const [ms, n] = byOp.get(k.name) || [0, 0];
    byOp.set(k.name, [ms + k.kernelTimeMs, n + 1]);
  }
  const total = [...byOp.values()].reduce((s, [ms]) => s + ms, 0);
  console.log(`kernel time of one frame: ${total.toFixed(1)} ms`);
  for (const [name, [ms, n]] of [...byOp].sort((a, b) => b[1][0] - a[1][0])) {
    if (ms >= 0.05) console.log(`  ${name.padEnd(26)} ${ms.toFixed(1).padStart(7)} ms  ${String(n).padStart(3)} calls`);
  }
}

main().catch((e) => {
  console.error(`error: ${e.message || e}`);
  process.exit(1);
});
