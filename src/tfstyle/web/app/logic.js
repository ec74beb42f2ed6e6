// The app's logic that needs no browser: parsing the test-mode URL, sizes, the frames-per-second
// meter, the choice of backend and of style, and the words of every error message.
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
 *   &threads=N   WebAssembly threads (default: TF.js's own choice, hardwareConcurrency / 2)
 *
 * @param {string} search location.search ("?a=b&...") or "".
 * @returns {{image: string|null, style: string|null, size: number|null, backend: string|null,
 *            frames: number, webcam: boolean, threads: number|null}} size null: the image's own size.
 * @throws {AppError} a value out of range or an unknown backend.
 */
export function parseParams(search) {
  const q = new URLSearchParams(search || "");
  const out = { image: null, style: null, size: null, backend: null, frames: 5, webcam: false, threads: null };
  if (q.has("image")) {
    out.image = q.get("image");
    if (!out.image) throw new AppError("image= needs the URL of an image");
  }
  if (q.has("style") && q.get("style")) out.style = q.get("style");
  if (q.has("size") && q.get("size") !== "") out.size = positiveInt(q.get("size"), "size", MIN_SIDE, MAX_SIZE);
  if (q.has("backend") && q.get("backend") !== "") {
    const b = q.get("backend");
    if (!BACKENDS.includes(b)) throw new AppError(`backend must be one of ${BACKENDS.join(", ")}, got "${b}"`);
    out.backend = b;
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
  for (const s of doc.styles) {
    if (!s || typeof s.name !== "string" || typeof s.model !== "string") {
      throw new AppError("models/models.json lists a style without a name or a model");
    }
  }
  return doc.styles;
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
