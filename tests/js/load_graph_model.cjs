// Loading a TF.js graph model from disk in Node, shared by tests/js/run_graph_model.cjs,
// tests/js/run_named_inputs.cjs and bench/profile_tfjs.cjs.
"use strict";
const fs = require("fs");
const path = require("path");
const { createRequire } = require("module");

/** TF.js from the job's node_modules on the job's backend, ready. */
async function startTf(job) {
  const req = createRequire(path.join(path.resolve(job.node_modules), "noop.js"));
  const tf = req("@tensorflow/tfjs");
  if (job.backend === "wasm") {
    req("@tensorflow/tfjs-backend-wasm");
    // Node's worker threads are not the browser's: run the single-threaded SIMD build here.
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  }
  if (!(await tf.setBackend(job.backend))) throw new Error(`backend ${job.backend} did not start`);
  await tf.ready();
  return tf;
}

/** Load a graph model the way tf.io.http does: the manifest's shards, concatenated per group. */
async function loadModel(tf, modelPath) {
  const dir = path.dirname(modelPath);
  const modelJSON = JSON.parse(fs.readFileSync(modelPath, "utf8"));
  const artifacts = await tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
    const specs = [];
    const buffers = [];
    for (const group of manifest) {
      specs.push(...group.weights);
      for (const p of group.paths) {
        const b = fs.readFileSync(path.join(dir, p));
        buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      }
    }
    return [specs, buffers];
  });
  return tf.loadGraphModel({ load: async () => artifacts });
}

module.exports = { loadModel, startTf };
