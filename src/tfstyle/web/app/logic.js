// The app's logic that needs no browser: parsing the test-mode URL, sizes, the frames-per-second
// meter, the choice of runtime, backend, fixed shape and style, and the words of every error message.
// Unit-tested with `node --test tests/js` (tests/test_web_app.py runs it).

/** Backends in the order the app tries them: GPU, then WebAssembly, then plain JavaScript. */
export const BACKENDS = ["webgl", "wasm", "cpu"];
export const BACKEND_LABELS = { webgl: "WebGL", wasm: "WebAssembly", cpu: "CPU (JavaScript)" };
/** Processing sizes (longest side, px) offered on the page; 0 means the source's own size. */
export const SIZES = [0, 128, 192, 256, 320, 384, 512, 768, 1024];
export const DEFAULT_SIZE = 256; // what runs live on a laptop CPU (see the README's fps table)
export const MIN_SIDE = 16;
export const MAX_SIZE = 4096;
export const MAX_FRAMES = 1000;
export const MAX_THREADS = 16;

/**
 * Runtimes in the order the app tries them. LiteRT.js runs the exported .tflite files (fixed
 * shapes: see litertPlan); TensorFlow.js runs the graph model of any size, for the browsers and
 * sizes LiteRT.js cannot serve. GPU runtimes on a software renderer go last (see runtimeCandidates).
 */
export const RUNTIMES = ["litert-webgpu", "litert-wasm", "tfjs-webgl", "tfjs-wasm", "tfjs-cpu"];
export const RUNTIME_LABELS = {
  "litert-webgpu": "LiteRT.js WebGPU", "litert-wasm": "LiteRT.js WebAssembly", "tfjs-webgl": "TensorFlow.js WebGL",
  "tfjs-wasm": "TensorFlow.js WebAssembly", "tfjs-cpu": "TensorFlow.js CPU (JavaScript)",
};
/** runtime= also takes a family: "litert" (WebGPU, else WebAssembly) or "tfjs" (its backends). */
const RUNTIME_FAMILIES = ["litert", "tfjs"];

/** An error whose message is meant for the person using the page (one line, no stack). */
export class AppError extends Error {
  constructor(message) {
    super(message);
    this.name = "AppError";
  }
}

function positiveInt(text, what, min, max) {
  if (!/^\d+$/.test(text)) throw new AppError(`${what} must be a whole number, got "${text}"`);
  const n = Number(text);
  if (n < min || n > max) throw new AppError(`${what} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/**
 * The test mode and the other URL settings of index.html.
 *
 *   ?image=URL[&style=NAME][&size=N][&backend=webgl|wasm|cpu][&frames=N]   stylise URL on load
 *   ?webcam=1[&style=NAME][&size=N][&backend=...]                           start the webcam on load
 *   &runtime=litert-webgpu|litert-wasm|litert|tfjs-webgl|tfjs-wasm|tfjs-cpu|tfjs   only that runtime
 *   &threads=N   WebAssembly threads (default: LiteRT.js one per core up to 4; TF.js its own choice,
 *                hardwareConcurrency / 2)
 *   backend=B is TF.js's backend B (runtime=tfjs-B).
 *
 * @param {string} search location.search ("?a=b&...") or "".
 * @returns {{image: string|null, style: string|null, size: number|null, backend: string|null,
 *            frames: number, webcam: boolean, threads: number|null, runtime: string|null}} size null:
 *            the image's own size.
 * @throws {AppError} a value out of range or an unknown backend.
 */
export function parseParams(search) {
  const q = new URLSearchParams(search || "");
  const out = { image: null, style: null, size: null, backend: null, frames: 5, webcam: false, threads: null,
    runtime: null, styleImage: null };
  if (q.has("image")) {
    out.image = q.get("image");
    if (!out.image) throw new AppError("image= needs the URL of an image");
  }
  if (q.has("style") && q.get("style")) out.style = q.get("style");
  if (q.has("style_image")) {
    out.styleImage = q.get("style_image");
    if (!out.styleImage) throw new AppError("style_image= needs the URL of a painting");
  }
  if (q.has("size") && q.get("size") !== "") out.size = positiveInt(q.get("size"), "size", MIN_SIDE, MAX_SIZE);
  if (q.has("backend") && q.get("backend") !== "") {
    const b = q.get("backend");
    if (!BACKENDS.includes(b)) throw new AppError(`backend must be one of ${BACKENDS.join(", ")}, got "${b}"`);
    out.backend = b;
  }
  if (q.has("runtime") && q.get("runtime") !== "") {
    const r = q.get("runtime");
    if (![...RUNTIMES, ...RUNTIME_FAMILIES].includes(r)) {
      throw new AppError(`runtime must be one of ${[...RUNTIMES, ...RUNTIME_FAMILIES].join(", ")}, got "${r}"`);
    }
    if (out.backend && r !== "tfjs" && r !== `tfjs-${out.backend}`) {
      throw new AppError(`backend=${out.backend} is TensorFlow.js's; it does not go with runtime=${r}`);
    }
    out.runtime = r;
  }
  if (q.has("frames")) out.frames = positiveInt(q.get("frames"), "frames", 1, MAX_FRAMES);
  if (q.has("threads")) out.threads = positiveInt(q.get("threads"), "threads", 1, MAX_THREADS);
  out.webcam = q.has("webcam") && q.get("webcam") !== "0";
  if (out.webcam && out.image) throw new AppError("use either image= or webcam=, not both");
  return out;
}

/**
 * The backends to try, in order: the one asked for only, or all of BACKENDS; WebGL goes after
 * WebAssembly when the browser's WebGL is a software renderer (SwiftShader, llvmpipe: the CPU
 * drawing triangles, several times slower than WebAssembly on the same cores).
 */
export function backendCandidates(requested, softwareWebGL = false) {
  if (requested) return [requested];
  return softwareWebGL ? ["wasm", "webgl", "cpu"] : BACKENDS.slice();
}

/**
 * The runtimes to try, in order (ids of RUNTIMES).
 *
 * @param {{runtime: string|null, backend: string|null}} params what the URL asked for.
 * @param {{webgpu: "hardware"|"software"|null, softwareWebGL: boolean}} env the browser's GPU: the
 *     WebGPU adapter (null: none) and whether WebGL is a software renderer.
 *
 * Unasked, a GPU that is a software renderer (SwiftShader, llvmpipe: the CPU drawing, slower than
 * WebAssembly on the same cores) goes after WebAssembly, and LiteRT.js before TensorFlow.js: faster
 * on the same cores (docs/browser-litert.md).
 */
export function runtimeCandidates(params, env = {}) {
  const { runtime = null, backend = null } = params || {};
  if (backend) return [`tfjs-${backend}`];
  if (runtime && RUNTIMES.includes(runtime)) return [runtime];
  const webgpu = env.webgpu === "hardware" ? ["litert-webgpu"] : [];
  const webgpuLast = env.webgpu === "software" ? ["litert-webgpu"] : [];
  const litert = [...webgpu, "litert-wasm", ...webgpuLast];
  const tfjs = backendCandidates(null, Boolean(env.softwareWebGL)).map((b) => `tfjs-${b}`);
  if (runtime === "litert") return litert;
  if (runtime === "tfjs") return tfjs;
  return [...webgpu, "litert-wasm", ...tfjs, ...webgpuLast];
}

/** "litert-wasm" -> {family: "litert", kind: "wasm"}. */
export function splitRuntime(id) {
  const i = String(id).indexOf("-");
  return { family: id.slice(0, i), kind: id.slice(i + 1) };
}

/**
 * LiteRT.js threads: &threads=N, else one per core up to 4 (two threads ran faster than one on the
 * two shared cores of docs/browser-litert.md, unlike TF.js's); 1 without cross-origin isolation
 * (no SharedArrayBuffer) or without relaxed SIMD (LiteRT.js's threaded build needs it).
 */
export function litertThreads(requested, hardwareConcurrency, isolated, relaxedSimd) {
  if (!isolated || !relaxedSimd) return 1;
  if (requested) return Math.min(MAX_THREADS, requested);
  return Math.max(1, Math.min(4, Number(hardwareConcurrency) || 1));
}

/** Why LiteRT.js cannot run in a browser with these WebAssembly features, or null. */
export function litertUnsupportedReason({ wasm, simd }) {
  if (!wasm) return "this browser has no WebAssembly";
  if (!simd) return "this browser has no WebAssembly SIMD, which LiteRT.js needs (Chrome 91+, Firefox 89+, Safari 16.4+)";
  return null;
}

/**
 * How LiteRT.js runs a picture of width x height at processing size `size` (longest side), or null
 * when the style has no .tflite for that size (TensorFlow.js runs it then).
 *
 * LiteRT.js takes only the shapes the .tflite was exported with, so the picture is centre-cropped
 * to the nearest exported aspect ratio and drawn at that shape (the crop is the only change).
 *
 * @param {object|undefined} litert the style's "litert" entry: {"256": {file, shapes: [[h, w], ...]}}.
 * @returns {{file: string, shape: number[], signature: string, shapes: number[][], crop: {sx, sy, sw, sh}}|null}
 *     shapes: every shape of that file (the page checks them all when it compiles the file).
 */
export function litertPlan(width, height, size, litert) {
  if (!(width > 0 && height > 0)) throw new AppError(`the image has no pixels (${width}x${height})`);
  const entry = litert && size ? litert[String(size)] : null;
  if (!entry || !Array.isArray(entry.shapes) || entry.shapes.length === 0) return null;
  const aspect = width / height;
  let best = null;
  for (const [h, w] of entry.shapes) {
    const off = Math.abs(Math.log(aspect / (w / h)));
    if (!best || off < best.off) best = { off, shape: [h, w] };
  }
  const [h, w] = best.shape;
  // The largest centred rectangle of the picture with the shape's aspect ratio.
  let sw = width;
  let sh = (width * h) / w;
  if (sh > height) {
    sh = height;
    sw = (height * w) / h;
  }
  return {
    file: entry.file, shape: [h, w], signature: `s${h}x${w}`, shapes: entry.shapes,
    crop: { sx: (width - sw) / 2, sy: (height - sh) / 2, sw, sh },
  };
}

// What the page feeds LiteRT.js and reads back: an RGB image or a style vector, batch 1.
const rgbTensor = (h, w) => ({ shape: [1, h, w, 3], noun: "an RGB image", note: "RGB in [0, 1]" });
const vectorTensor = (dim) => ({ shape: [1, dim], noun: "a style vector", note: "a style vector" });

/** A per-style network's signature at (h, w): the picture in, the stylised picture out. */
export function styleSignature(h, w) {
  return { inputs: [rgbTensor(h, w)], outputs: [rgbTensor(h, w)] };
}

/** The arbitrary-style transformer's signature at (h, w): the picture and a style vector of `dim`
 * numbers in (in either order), the stylised picture out. */
export function transformerSignature(h, w, dim) {
  return { inputs: [rgbTensor(h, w), vectorTensor(dim)], outputs: [rgbTensor(h, w)] };
}

/** The style-prediction network's signature: a painting of side x side in, a vector of `dim` out. */
export function predictorSignature(side, dim) {
  return { inputs: [rgbTensor(side, side)], outputs: [vectorTensor(dim)] };
}

/**
 * Check a compiled signature's tensors against what the page feeds and reads (`want`: one of
 * styleSignature, transformerSignature, predictorSignature): every tensor float32 of exactly the
 * shape wanted; inputs are matched by rank, so their order does not matter. Returns null or the
 * reason (one line).
 */
export function litertSignatureProblem(name, inputs, outputs, want) {
  const show = (t) => `${t.dtype}[${Array.from(t.shape).join(", ")}]`;
  const nouns = (list) => (list.length === 1 ? list[0].noun.replace(/^an? /, "one ") : list.map((t) => t.noun).join(" and "));
  if (!inputs) return `it has no signature ${name}`;
  if (inputs.length !== want.inputs.length) {
    return `signature ${name} takes ${inputs.length} inputs, the page gives ${nouns(want.inputs)}`;
  }
  if (outputs.length !== want.outputs.length) {
    return `signature ${name} returns ${outputs.length} outputs, the page expects ${nouns(want.outputs)}`;
  }
  for (const [verb, got, wanted] of [["takes", inputs, want.inputs], ["returns", outputs, want.outputs]]) {
    const left = wanted.slice();
    for (const t of got) {
      const rank = Array.from(t.shape).length;
      const i = Math.max(0, left.findIndex((w) => w.shape.length === rank));
      const w = left.splice(i, 1)[0];
      if (t.dtype !== "float32" || Array.from(t.shape).join(",") !== w.shape.join(",")) {
        return `signature ${name} ${verb} ${show(t)}, the page expects float32[${w.shape.join(", ")}] (${w.note})`;
      }
    }
  }
  return null;
}

/** The centred square of a width x height picture: what the LiteRT.js prediction network (one fixed
 * square shape) sees of a painting, as the square crops it was trained on. */
export function squareCrop(width, height) {
  if (!(width > 0 && height > 0)) throw new AppError(`the image has no pixels (${width}x${height})`);
  const side = Math.min(width, height);
  return { sx: (width - side) / 2, sy: (height - side) / 2, sw: side, sh: side };
}

/**
 * WebAssembly threads asked for with &threads=N, and the core count TF.js must be shown to allow
 * them; null when none were asked for (TF.js then picks hardwareConcurrency / 2, capped at 8).
 * TF.js 4.x caps its pool at hardwareConcurrency / 2, assuming two hardware threads per core, so
 * a machine with one thread per core (phones, many virtual machines) otherwise uses half its cores.
 * Not the default: on the shared 2-core machine of the README's benchmark two threads ran at half
 * the speed of one (workers spin while other jobs hold the cores).
 */
export function wasmThreads(requested, hardwareConcurrency) {
  if (!requested) return null;
  const cores = Math.max(1, Number(hardwareConcurrency) || 1);
  const threads = Math.min(MAX_THREADS, requested);
  return { threads, reportCores: Math.max(cores, 2 * threads) };
}

/** Is this error WebGL running out of texture size (a large picture), where WASM still works? */
export function isWebGLSizeError(err) {
  return /texture size|greater than WebGL maximum|MAX_TEXTURE_SIZE/i.test(String((err && err.message) || err || ""));
}

/** Is this WebGL renderer string (WEBGL_debug_renderer_info) a software renderer? */
export function isSoftwareRenderer(renderer) {
  return /swiftshader|llvmpipe|softpipe|software|microsoft basic render/i.test(String(renderer || ""));
}

/**
 * Width and height with the longest side `longest` and the aspect ratio of width x height
 * (rounded, each at least 1). `longest` 0, null or undefined keeps the size as it is.
 */
export function fitSize(width, height, longest) {
  if (!(width > 0 && height > 0)) throw new AppError(`the image has no pixels (${width}x${height})`);
  if (!longest) return { width, height };
  const s = longest / Math.max(width, height);
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}

/** Refuse what the network cannot take: a side under MIN_SIDE px. */
export function checkProcessingSize({ width, height }) {
  if (Math.min(width, height) < MIN_SIDE) {
    throw new AppError(`the image would be ${width}x${height} px; each side must be at least ${MIN_SIDE} px`);
  }
}

/** The style called `name`, or the first one when `name` is empty. */
export function pickStyle(styles, name) {
  if (!Array.isArray(styles) || styles.length === 0) throw new AppError("the site has no styles (models/models.json is empty)");
  if (!name) return styles[0];
  const found = styles.find((s) => s.name === name);
  if (!found) {
    throw new AppError(`unknown style "${name}"; this site has ${styles.map((s) => s.name).join(", ")}`);
  }
  return found;
}

/** Check the parsed models/models.json and return its styles. */
export function validateIndex(doc) {
  if (!doc || !Array.isArray(doc.styles)) throw new AppError("models/models.json has no list of styles");
  if (doc.arbitrary !== undefined) return validateArbitrary(doc);
  for (const s of doc.styles) {
    if (!s || typeof s.name !== "string" || typeof s.model !== "string") {
      throw new AppError("models/models.json lists a style without a name or a model");
    }
    for (const [size, e] of Object.entries(s.litert || {})) {
      if (!litertEntryOk(e)) throw new AppError(`models/models.json: style "${s.name}" has a bad LiteRT.js entry for size ${size}`);
    }
  }
  return doc.styles;
}

/** A LiteRT.js file's entry in models.json: {file, shapes: [[h, w], ...]} with at least one shape. */
function litertEntryOk(e) {
  return Boolean(e && typeof e.file === "string" && Array.isArray(e.shapes) && e.shapes.length > 0
    && e.shapes.every((x) => Array.isArray(x) && x.length === 2 && x.every((n) => Number.isInteger(n) && n > 0)));
}

/**
 * Frames per second over a sliding window of the last `window` frames (or all frames of the last
 * `spanMs` milliseconds, whichever is fewer).
 */
export class FpsMeter {
  constructor(window = 30, spanMs = 3000) {
    this.window = window;
    this.spanMs = spanMs;
    this.times = [];
    this.frames = 0;
  }

  /** Record that a frame finished at `nowMs`; returns the current rate. */
  tick(nowMs) {
    this.frames += 1;
    this.times.push(nowMs);
    while (this.times.length > this.window + 1 || (this.times.length > 2 && nowMs - this.times[0] > this.spanMs)) {
      this.times.shift();
    }
    return this.fps;
  }

  /** Frames per second, 0 until two frames have finished. */
  get fps() {
    const n = this.times.length;
    if (n < 2) return 0;
    const span = this.times[n - 1] - this.times[0];
    return span > 0 ? ((n - 1) * 1000) / span : 0;
  }

  reset() {
    this.times = [];
    this.frames = 0;
  }
}

/** Frames per second of `frames` frames that took `ms` milliseconds in all. */
export function rate(frames, ms) {
  return ms > 0 ? (frames * 1000) / ms : 0;
}

/** Strength slider (0..100) to the stylised layer's opacity (0..1). */
export function strengthToAlpha(value) {
  const v = Number(value);
  if (!Number.isFinite(v)) return 1;
  return Math.min(1, Math.max(0, v / 100));
}

/** "12.3 kB", "4.5 MB". */
export function formatBytes(n) {
  if (!(n >= 0)) return "";
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(1)} MB`;
}

/** The file name of a downloaded result: "tfstyle-<style>-<w>x<h>.png". */
export function downloadName(style, width, height) {
  const safe = String(style || "style").replace(/[^A-Za-z0-9._-]+/g, "_");
  return `tfstyle-${safe}-${width}x${height}.png`;
}

/** What to tell a person whose camera could not start (getUserMedia's error names). */
export function cameraErrorMessage(err) {
  const name = err && err.name;
  switch (name) {
    case "NotAllowedError":
    case "PermissionDeniedError":
    case "SecurityError":
      return "Camera permission was denied. Allow camera access for this page in the browser's site settings, or choose a photo instead.";
    case "NotFoundError":
    case "DevicesNotFoundError":
    case "OverconstrainedError":
      return "No camera was found. Connect a camera, or choose a photo instead.";
    case "NotReadableError":
    case "TrackStartError":
    case "AbortError":
      return "The camera is in use by another application or could not be started. Close other apps using it and try again.";
    case "InsecureContext":
      return "The camera needs a secure page: open the site from 127.0.0.1 or localhost (tfstyle web --serve), or over HTTPS.";
    default:
      return `The camera could not be started (${(err && (err.message || err.name)) || "unknown error"}).`;
  }
}

/** The value of document.body.dataset.state for an error: "error: <one line>". */
export function errorState(err) {
  const text = (err && (err.message || String(err))) || "unknown error";
  return `error: ${text.split("\n")[0].trim()}`;
}

/** Why this browser cannot run the app, or null. `features` says what the browser has. */
export function unsupportedReason({ tf, webgl, wasm, modules = true }) {
  if (!modules) return "This browser is too old for this page (no JavaScript modules). Use a current Chrome, Edge, Firefox or Safari.";
  if (!tf) return "TensorFlow.js did not load (tfjs/ is missing from the site?). Rebuild the site with tfstyle web.";
  if (!webgl && !wasm) return "This browser supports neither WebGL nor WebAssembly, which the style networks need. Use a current Chrome, Edge, Firefox or Safari.";
  return null;
}

// ---- arbitrary-style models (docs/anystyle.md) -------------------------------------------------

/** An arbitrary-style site's styles: each a name and a precomputed vector of the model's size. */
function validateArbitrary(doc) {
  const a = doc.arbitrary;
  const ok = a && typeof a.predictor === "string" && typeof a.transformer === "string"
    && Number.isInteger(a.style_dim) && a.style_dim > 0 && Number.isInteger(a.style_image_size) && a.style_image_size > 0;
  if (!ok) throw new AppError("models/models.json has a bad arbitrary-style entry");
  // LiteRT.js: none (a site written for TF.js only), or the prediction network's file of one square
  // shape and the transformer's files per size.
  const lrt = a.litert || {};
  if (Object.keys(lrt).length) {
    const p = lrt.predictor;
    const square = litertEntryOk(p) && p.shapes.length === 1 && p.shapes[0][0] === p.shapes[0][1];
    const sizes = lrt.transformer && typeof lrt.transformer === "object" ? Object.entries(lrt.transformer) : [];
    if (!square || !sizes.length || !sizes.every(([, e]) => litertEntryOk(e))) {
      throw new AppError("models/models.json has a bad LiteRT.js entry for the arbitrary-style model");
    }
  }
  for (const s of doc.styles) {
    const good = s && typeof s.name === "string" && Array.isArray(s.vector) && s.vector.length === a.style_dim
      && s.vector.every((x) => Number.isFinite(x));
    if (!good) throw new AppError(`models/models.json: style "${(s && s.name) || "?"}" needs a vector of ${a.style_dim} numbers`);
  }
  return doc.styles;
}

/** Two styles mixed: (1 - mix) * a + mix * b, the weighted mean of their vectors (b null: a). */
export function mixVectors(a, b, mix) {
  if (!(mix >= 0 && mix <= 1)) throw new AppError(`the mix must be in [0, 1], got ${mix}`);
  if (!b) return Float32Array.from(a);
  if (b.length !== a.length) throw new AppError(`style vectors of ${a.length} and ${b.length} numbers cannot be mixed`);
  return Float32Array.from(a, (x, i) => (1 - mix) * x + mix * b[i]);
}

/** A style's strength through its vector: strength * style + (1 - strength) * the photo's own vector
 * (1: the painting's style, 0: the photo's own; photo unused at 1). */
export function withStrength(style, photo, strength) {
  if (!(strength >= 0 && strength <= 1)) throw new AppError(`the strength must be in [0, 1], got ${strength}`);
  if (strength === 1 || !photo) return Float32Array.from(style);
  return Float32Array.from(style, (x, i) => strength * x + (1 - strength) * photo[i]);
}
