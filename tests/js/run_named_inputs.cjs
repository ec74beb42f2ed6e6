// Runs TF.js graph models of several named inputs from disk in Node (the arbitrary-style export's
// transformer takes "image" and "style"): the TF.js side of its parity tests.
//
//   node run_named_inputs.cjs JOB.json
//
// JOB: {"node_modules": DIR, "backend": "cpu"|"wasm",
//       "items": [{"model": ".../model.json", "inputs": {NAME: {"path": "x.f32", "shape": [...]}, ...},
//                  "output": "y.f32"}, ...]}
// Raw little-endian float32 in and out. The last line of stdout is JSON: {"backend": ..., "shapes": [...]}.
"use strict";
const fs = require("fs");

const { loadModel, startTf } = require("./load_graph_model.cjs");

function readTensor(tf, spec) {
  const raw = fs.readFileSync(spec.path);
  return tf.tensor(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)),
                   spec.shape, "float32");
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const tf = await startTf(job);
  const shapes = [];
  for (const item of job.items) {
    const model = await loadModel(tf, item.model);
    const feeds = {};
    for (const [name, spec] of Object.entries(item.inputs)) feeds[name] = readTensor(tf, spec);
    const y = model.execute(feeds);
    const out = await y.data();
    shapes.push(y.shape);
    fs.writeFileSync(item.output, Buffer.from(out.buffer, out.byteOffset, out.byteLength));
    tf.dispose([y, ...Object.values(feeds)]);
  }
  console.log(JSON.stringify({ backend: tf.getBackend(), shapes }));
}

main().catch((e) => {
  console.error(`error: ${e && e.message ? e.message : e}`);
  process.exit(1);
});
