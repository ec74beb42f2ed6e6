// Loading a TF.js graph model from disk in Node, shared by tests/js/run_graph_model.cjs and
// bench/profile_tfjs.cjs.
"use strict";
const fs = require("fs");
const path = require("path");

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

module.exports = { loadModel };
