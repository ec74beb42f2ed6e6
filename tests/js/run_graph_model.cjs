// Runs TF.js graph models from disk in Node with @tensorflow/tfjs: the TF.js side of the parity tests.
//
//   node run_graph_model.cjs JOB.json
//
// JOB: {"node_modules": DIR, "backend": "cpu"|"wasm",
//       "items": [{"model": ".../model.json", "path": "x.f32", "shape": [B, H, W, 3], "output": "y.f32"}, ...]}
// Inputs and outputs are raw little-endian float32. The last line of stdout is JSON:
// {"backend": ..., "ms": [milliseconds of each item]}. Any failure: exit 1, "error: ..." on stderr.
"use strict";
const fs = require("fs");

const { loadModel, startTf } = require("./load_graph_model.cjs");

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const tf = await startTf(job);

  const models = new Map();
  const ms = [];
  for (const item of job.items) {
    if (!models.has(item.model)) models.set(item.model, await loadModel(tf, item.model));
    const raw = fs.readFileSync(item.path);
    const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const x = tf.tensor(values, item.shape, "float32");
    const t0 = performance.now();
    const y = models.get(item.model).execute(x);
    const out = await y.data();
    ms.push(performance.now() - t0);
    if (y.shape.join(",") !== item.shape.join(",")) {
      throw new Error(`output shape ${y.shape} for input shape ${item.shape}`);
    }
    fs.writeFileSync(item.output, Buffer.from(out.buffer, out.byteOffset, out.byteLength));
    tf.dispose([x, y]);
  }
  console.log(JSON.stringify({ backend: tf.getBackend(), ms }));
}

main().catch((e) => {
  console.error(`error: ${e && e.message ? e.message : e}`);
  process.exit(1);
});
