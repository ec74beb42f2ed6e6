// LiteRT.js for the app: start the runtime once, compile .tflite files, run one signature on
// float32 arrays. Nothing here knows what a model is for (a style network, the arbitrary-style
// transformer, a style-prediction network): app.js decides what goes in and comes out.
//
// The runtime's files sit in litert/ (copied from npm by tfstyle web): the module, its helper
// (index.html's import map resolves the bare name "@litertjs/wasm-utils") and two of LiteRT.js's
// four WebAssembly builds: threads (a cross-origin isolated page in a browser with relaxed SIMD, as
// tfstyle web --serve gives), else "compat" (SIMD only: every other browser with SIMD). The relaxed-
// SIMD build without threads would serve only pages hosted without the isolation headers, for 9 MB
// more; the JSPI build serves WebNN and WebGPU/WASM partitioning, which the page does not use.
import { litertThreads, litertUnsupportedReason } from "./logic.js";

// A WebAssembly module with one SIMD instruction (i8x16.popcnt of a v128.const): validates only where
// the browser has WebAssembly SIMD.
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8,
  0, 65, 0, 253, 15, 253, 98, 11]);

let started = null; // the promise of the one LiteRT.js runtime a page may load

/** {wasm, simd}: the WebAssembly features LiteRT.js depends on. */
export function wasmFeatures() {
  const wasm = typeof WebAssembly === "object" && typeof WebAssembly.validate === "function";
  let simd = false;
  try {
    simd = wasm && WebAssembly.validate(SIMD_PROBE);
  } catch {
    simd = false;
  }
  return { wasm, simd };
}

/**
 * Start LiteRT.js for `accelerator` ("wasm" or "webgpu"). Resolves to
 * {lib, accelerator, threads, build} or rejects with the reason (an Error, one line).
 */
export async function startLiteRt(accelerator, requestedThreads) {
  const reason = litertUnsupportedReason(wasmFeatures());
  if (reason) throw new Error(reason);
  if (!started) {
    started = (async () => {
      let lib;
      try {
        lib = await import("./litert/litert-core.js");
      } catch (e) {
        throw new Error(`LiteRT.js did not load (litert/ is missing from the site?): ${e.message || e}`);
      }
      const relaxed = Boolean(await lib.supportsFeature("relaxedSimd"));
      const threads = litertThreads(requestedThreads, navigator.hardwareConcurrency, window.crossOriginIsolated,
        relaxed);
      const dir = new URL("litert/", window.location.href).href;
      if (threads > 1) await lib.loadLiteRt(dir, { threads: true });
      else await lib.loadLiteRt(`${dir}litert_wasm_compat_internal.js`);
      return { lib, threads, build: threads > 1 ? "threads" : "SIMD" };
    })();
    started.catch(() => { started = null; });
  }
  const rt = await started;
  if (accelerator === "webgpu") {
    // LiteRT.js asks the browser for a WebGPU device while it starts; none: no WebGPU here.
    if (!rt.lib.getWebGpuDevice()) throw new Error("no WebGPU adapter in this browser");
    return { ...rt, accelerator, env: undefined };
  }
  // On WebAssembly, an environment without the WebGPU device: with the device in it, the same
  // model ran markedly slower in headless Chromium (docs/browser-litert.md).
  const env = await rt.lib.Environment.create({ webGpuDevice: null });
  return { ...rt, accelerator, env };
}

/** The WebGPU adapter: "hardware", "software" (SwiftShader or another fallback adapter) or null. */
export async function probeWebGPU() {
  try {
    if (!navigator.gpu) return null;
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return null;
    const info = adapter.info || {};
    const software = adapter.isFallbackAdapter || info.isFallbackAdapter
      || /swiftshader|llvmpipe|software/i.test(`${info.vendor} ${info.architecture} ${info.description}`);
    return software ? "software" : "hardware";
  } catch {
    return null;
  }
}

/**
 * Fetch and compile a .tflite file. Resolves to a model: signatures (name -> {inputs, outputs},
 * each a list of {dtype, shape}), run(signature, Float32Array, shape, read), and delete().
 */
export async function compile(rt, url, fetchOrFail) {
  const bytes = new Uint8Array(await (await fetchOrFail(url)).arrayBuffer());
  const options = { accelerator: rt.accelerator };
  if (rt.env) options.environment = rt.env;
  if (rt.accelerator === "wasm") options.cpuOptions = { numThreads: rt.threads };
  const model = await rt.lib.loadAndCompile(bytes, options);
  const signatures = {};
  for (const [name, runner] of Object.entries(model.signatures)) {
    const describe = (list) => list.map((t) => ({ dtype: t.dtype, shape: Array.from(t.shape) }));
    signatures[name] = { inputs: describe(runner.getInputDetails()), outputs: describe(runner.getOutputDetails()) };
  }
  return {
    signatures,
    /**
     * `feeds`: [{data: Float32Array, shape}], one per input of the signature, each given to the input
     * of its shape (so in any order). `read` gets the first output's float32 data, which is
     * LiteRT.js's memory and valid only during the call; resolves to what it returns.
     */
    async run(signature, feeds, read) {
      const show = (shape) => `[${Array.from(shape).join(", ")}]`;
      const wanted = signatures[signature].inputs;
      const ordered = wanted.map((t) => feeds.find((f) => show(f.shape) === show(t.shape)));
      if (feeds.length !== wanted.length || ordered.some((f) => !f)) {
        const list = (xs) => xs.map((x) => show(x.shape)).join(" and ");
        throw new Error(`signature ${signature} takes ${list(wanted)}, given ${list(feeds)}`);
      }
      const inputs = [];
      let outputs;
      try {
        for (const f of ordered) inputs.push(new rt.lib.Tensor(f.data, f.shape, rt.env));
        outputs = await model.signatures[signature].run(inputs);
      } finally {
        inputs.forEach((t) => t.delete());
      }
      try {
        let out = outputs[0];
        if (out.accelerator !== "wasm") out = await out.copyTo("wasm"); // WebGPU: back to the CPU
        try {
          return read(out.toTypedArray());
        } finally {
          if (out !== outputs[0]) out.delete();
        }
      } finally {
        outputs.forEach((t) => t.delete());
      }
    },
    delete() {
      model.delete();
    },
  };
}
