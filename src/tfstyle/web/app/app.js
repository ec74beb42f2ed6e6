// tfstyle's browser app: photos and the webcam through a style network, with LiteRT.js (the
// exported .tflite, on WebGPU or WebAssembly) and TensorFlow.js where LiteRT.js cannot serve (a
// browser without WebAssembly SIMD, a processing size the site has no .tflite for).
//
// Pixels flow: source (photo or video frame) -> `input` canvas at the processing size (for
// LiteRT.js: centre-cropped to the nearest exported shape) -> the model (float32 RGB [0, 1] in and
// out) -> `styled` canvas -> the visible `output` canvas, which shows the input with the stylised
// picture over it at the strength's opacity (no re-run when the strength moves).
//
// Test mode (no clicks), a stable contract for tests: index.html?image=URL[&style=NAME][&size=N]
// stylises URL on load and then sets document.body.dataset.state = "done" (or "error: <reason>"),
// with the result in <canvas id="output"> and the frames per second in document.body.dataset.fps.
// document.body.dataset.runtime names what ran the last frame ("litert-wasm", "tfjs-webgl", ...),
// dataset.failed the runtimes that could not start and why.
// See logic.js parseParams for the other settings (runtime=, backend=, frames=, webcam=).
//
// An arbitrary-style site (models.json has "arbitrary"): one transformer for every style, fed the
// photo and a style vector; the built-in styles carry their vectors, the user's own painting gets its
// vector from the prediction network here. Mixing and strength are arithmetic on vectors (logic.js
// mixVectors, withStrength). Both networks run on LiteRT.js where it started and the site has their
// files (the transformer's per size, as a per-style network's; the prediction network's of one square
// shape, fed the painting's centre square), else on TF.js; dataset.predictor names what computed the
// last vector. Test mode takes &style_image=URL, the painting whose vector is used.
import {
  AppError, BACKEND_LABELS, DEFAULT_SIZE, FpsMeter, RUNTIME_LABELS, SIZES, backendCandidates, cameraErrorMessage,
  checkProcessingSize, downloadName, errorState, fitSize, formatBytes, isSoftwareRenderer, litertPlan,
  litertSignatureProblem, mixVectors, parseParams, predictorSignature, withStrength, pickStyle, isWebGLSizeError, rate,
  runtimeCandidates, splitRuntime, squareCrop, strengthToAlpha, styleSignature, transformerSignature, unsupportedReason,
  validateIndex, wasmThreads,
} from "./logic.js";
import { compile, probeWebGPU, startLiteRt } from "./litert.js";

const $ = (id) => document.getElementById(id);
const els = {
  backend: $("backend"), fps: $("fps"), dims: $("dims"), message: $("message"), pick: $("pick"),
  file: $("file"), webcam: $("webcam"), styleList: $("style-list"), size: $("size"), strength: $("strength"),
  strengthValue: $("strength-value"), download: $("download"), stage: $("stage"), output: $("output"),
  empty: $("empty"), video: $("video"), any: $("any"), painting: $("painting"), painting2: $("painting2"),
  paintingFile: $("painting-file"), painting2File: $("painting2-file"), paintingName: $("painting-name"),
  mix: $("mix"), mixValue: $("mix-value"),
};
const input = document.createElement("canvas"); // the source at the processing size
const styled = document.createElement("canvas"); // the network's output
const app = {
  tf: window.tf, backend: null, styles: [], style: null, model: null, loading: null,
  // LiteRT.js: the started runtime (null: not running), the current style's compiled .tflite per
  // size (promises), the plan of the current input (litertPlan; null: TF.js runs it).
  lrt: null, litert: new Map(), plan: null, runtime: null, params: null, softwareWebGL: false, failed: [],
  timing: { runtime: 0, pre: 0, post: 0, frames: 0 },
  photo: null, // ImageBitmap or HTMLImageElement of the chosen photo
  stream: null, webcamOn: false, meter: new FpsMeter(), busy: false, again: false, hasResult: false,
  // Arbitrary-style sites: models.json's "arbitrary" (null: a per-style site), the two graph models
  // (promises), the compiled LiteRT.js prediction network (a promise; the transformer's files go in
  // app.litert), the chosen style's vector and the second painting's (null: none).
  any: null, predictor: null, transformer: null, lrtPredictor: null, vector: null, vector2: null,
};

// ---- messages and state -------------------------------------------------------------------------

function showError(err) {
  const text = err instanceof AppError ? err.message : `Something went wrong: ${(err && err.message) || err}`;
  els.message.textContent = text;
  els.message.hidden = false;
  document.body.dataset.state = errorState(err);
  if (!(err instanceof AppError)) console.error(err);
}

function clearError() {
  els.message.hidden = true;
  els.message.textContent = "";
}

window.addEventListener("error", (e) => showError(e.error || new Error(e.message)));
window.addEventListener("unhandledrejection", (e) => showError(e.reason));

// ---- TensorFlow.js --------------------------------------------------------------------------------

/** {available, software}: does WebGL work here, and is it a software renderer? */
function probeWebGL() {
  try {
    // TF.js draws on an OffscreenCanvas where there is one; Chromium can give WebGL there and not
    // on a page canvas (--disable-webgl), so either counts.
    const contexts = [() => document.createElement("canvas")];
    if (typeof OffscreenCanvas !== "undefined") contexts.push(() => new OffscreenCanvas(1, 1));
    let gl = null;
    for (const make of contexts) {
      const c = make();
      gl = c.getContext("webgl2") || c.getContext("webgl");
      if (gl) break;
    }
    if (!gl) return { available: false, software: false };
    const info = gl.getExtension("WEBGL_debug_renderer_info");
    const renderer = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
    const lose = gl.getExtension("WEBGL_lose_context");
    if (lose) lose.loseContext(); // TF.js makes its own context
    return { available: true, software: isSoftwareRenderer(renderer) };
  } catch {
    return { available: false, software: false };
  }
}

/** fetch that fails on an HTTP error (TF.js would try to parse a 404 page as weights). */
async function fetchOrFail(url, init) {
  const r = await fetch(url, init);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r;
}

/** Start TF.js's WASM backend with `threads` threads (see logic.js wasmThreads). */
async function startWasm(threads) {
  const { tf } = app;
  if (!tf.wasm) throw new Error("the WebAssembly backend did not load");
  // The .wasm files sit beside the scripts. Threads need cross-origin isolation (tfstyle web
  // --serve sends the headers); without it TF.js runs the single-threaded SIMD build.
  tf.wasm.setWasmPaths(new URL("tfjs/", window.location.href).href);
  const plan = wasmThreads(threads, navigator.hardwareConcurrency);
  if (!window.crossOriginIsolated || !plan) return tf.setBackend("wasm");
  tf.wasm.setThreadsCount(plan.threads);
  // The backend reads the core count once, while it starts.
  const own = Object.getOwnPropertyDescriptor(navigator, "hardwareConcurrency");
  Object.defineProperty(navigator, "hardwareConcurrency", { value: plan.reportCores, configurable: true });
  try {
    return await tf.setBackend("wasm");
  } finally {
    if (own) Object.defineProperty(navigator, "hardwareConcurrency", own);
    else delete navigator.hardwareConcurrency;
  }
}

/** The first backend of logic.js backendCandidates that starts: {name, skipped: ["webgl: why", ...]}. */
async function startBackend(requested, softwareWebGL, threads) {
  const { tf } = app;
  const tried = [];
  for (const name of backendCandidates(requested, softwareWebGL)) {
    try {
      if (await (name === "wasm" ? startWasm(threads) : tf.setBackend(name))) {
        await tf.ready();
        return { name, skipped: tried };
      }
      tried.push(`${name}: did not start`);
    } catch (e) {
      tried.push(`${name}: ${e.message || e}`);
    }
  }
  throw new AppError(`No TensorFlow.js backend could start in this browser (${tried.join("; ")}).`);
}

/** Start TF.js on demand (LiteRT.js runs first; TF.js only for what it cannot run). */
async function ensureTfjs(requested) {
  if (app.backend) return app.backend;
  if (!app.tf) throw new AppError("TensorFlow.js did not load (tfjs/ is missing from the site?). Rebuild the site with tfstyle web.");
  const started = await startBackend(requested, app.softwareWebGL, app.params.threads);
  app.backend = started.name;
  if (started.skipped.length) {
    // An earlier backend in the order did not start (no WebGL, WebAssembly files missing): say which.
    document.body.dataset.skipped = started.skipped.join("; ");
    app.failed.push(...started.skipped.map((x) => `tfjs-${x}`));
  }
  if (app.backend === "wasm" && app.tf.wasm.getThreadsCount) {
    document.body.dataset.threads = String(app.tf.wasm.getThreadsCount());
  }
  return app.backend;
}

/** The first runtime of logic.js runtimeCandidates that starts; the others' reasons in app.failed. */
async function startRuntime(params, webgl) {
  const webgpu = await probeWebGPU();
  document.body.dataset.webgpu = webgpu || "none";
  const errors = [];
  for (const id of runtimeCandidates(params, { webgpu, softwareWebGL: webgl.software })) {
    const { family, kind } = splitRuntime(id);
    try {
      if (family === "litert") {
        app.lrt = await startLiteRt(kind, params.threads);
        document.body.dataset.threads = String(app.lrt.threads);
        document.body.dataset.build = app.lrt.build;
      } else {
        // Unasked (or runtime=tfjs), TF.js goes through its own order and names what it skipped.
        const own = !params.backend && (!params.runtime || params.runtime === "tfjs");
        return `tfjs-${await ensureTfjs(own ? null : kind)}`;
      }
      return id;
    } catch (e) {
      errors.push(`${id}: ${oneLine(e)}`);
      app.failed.push(`${id}: ${oneLine(e)}`);
    }
  }
  throw new AppError(`No runtime could start in this browser (${errors.join("; ")}).`);
}

function oneLine(e) {
  return String((e && e.message) || e).split("\n")[0].trim();
}

function showRuntime(id, why) {
  if (app.runtime === id) return;
  app.runtime = id;
  document.body.dataset.runtime = id;
  const { family, kind } = splitRuntime(id);
  document.body.dataset.backend = kind;
  els.backend.textContent = RUNTIME_LABELS[id] || id;
  const notes = [];
  if (why) notes.push(why);
  if (family === "litert" && app.lrt) notes.push(`LiteRT.js ${app.lrt.build} build, ${app.lrt.threads} thread(s)`);
  if (app.failed.length) notes.push(`not available here: ${app.failed.join("; ")}`);
  if (app.softwareWebGL && id !== "tfjs-webgl") notes.push("WebGL here is a software renderer, slower than WebAssembly");
  els.backend.title = notes.join(". ");
  if (app.failed.length) document.body.dataset.failed = app.failed.join("; ");
}

async function loadIndex() {
  let doc;
  try {
    const r = await fetch("models/models.json");
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    doc = await r.json();
  } catch (e) {
    throw new AppError(`The list of styles (models/models.json) could not be loaded: ${e.message || e}`);
  }
  validateIndex(doc);
  return doc;
}

async function selectStyle(style) {
  if (app.any) {
    app.style = style;
    app.vector = Float32Array.from(style.vector);
    els.styleList.querySelectorAll("input").forEach((r) => { r.checked = r.value === style.name; });
    return;
  }
  if (app.style === style && (app.model || !app.backend)) return;
  const previous = app.model;
  app.model = null;
  app.loading = null;
  app.style = style;
  dropLiteRtModels();
  els.styleList.querySelectorAll("input").forEach((r) => { r.checked = r.value === style.name; });
  if (previous) previous.dispose();
  // With TF.js running, its graph model loads now; otherwise when a frame first needs TF.js.
  if (app.backend) await loadTfjsModel(style);
}

async function loadTfjsModel(style) {
  const { tf } = app;
  const job = (async () => {
    try {
      return await tf.loadGraphModel(style.model, { fetchFunc: fetchOrFail });
    } catch (e) {
      throw new AppError(`The style "${style.name}" could not be loaded (${style.model}): ${e.message || e}`);
    }
  })();
  app.loading = job;
  const model = await job;
  if (app.style !== style) { // another style was picked meanwhile
    model.dispose();
    return;
  }
  app.model = model;
  app.loading = null;
}

/** The .tflite for `plan` (compiled once per file): the current style's, or an arbitrary-style
 * site's transformer; checked. */
function litertModel(plan) {
  let job = app.litert.get(plan.file);
  if (!job) {
    const dim = app.any && app.any.style_dim;
    job = compileChecked(plan.file, app.any ? "style transformer" : `style "${app.style.name}"`,
      plan.shapes.map(([h, w]) => [`s${h}x${w}`, dim ? transformerSignature(h, w, dim) : styleSignature(h, w)]));
    job.catch(() => app.litert.delete(plan.file));
    app.litert.set(plan.file, job);
  }
  return job;
}

/** Compile `file` and check that each of `signatures` ([name, what the page feeds]) is one the page
 * can run; a one-line AppError naming `what` ("style \"starry\"", "style transformer") if not. */
async function compileChecked(file, what, signatures) {
  let model;
  try {
    model = await compile(app.lrt, file, fetchOrFail);
  } catch (e) {
    throw new AppError(`The ${what} could not be loaded (${file}): ${oneLine(e)}`);
  }
  for (const [name, want] of signatures) {
    const sig = model.signatures[name];
    const problem = litertSignatureProblem(name, sig && sig.inputs, sig && sig.outputs, want);
    if (problem) {
      model.delete();
      throw new AppError(`The ${what} cannot run (${file}): ${problem}`);
    }
  }
  return model;
}

function dropLiteRtModels() {
  for (const job of app.litert.values()) job.then((m) => m.delete(), () => {});
  app.litert.clear();
}

// ---- pixels ------------------------------------------------------------------------------------

async function decodeImage(blob) {
  if (window.createImageBitmap) {
    try {
      // No colour management or premultiplication: the network sees the file's own RGB values.
      return await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
    } catch {
      // Browsers without createImageBitmap options fall through to an <img>.
    }
  }
  const url = URL.createObjectURL(blob);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(url);
  }
}

async function loadImageURL(url) {
  let r;
  try {
    r = await fetch(url);
  } catch (e) {
    throw new AppError(`The image ${url} could not be fetched: ${e.message || e}`);
  }
  if (!r.ok) throw new AppError(`The image ${url} could not be fetched: HTTP ${r.status}`);
  try {
    return await decodeImage(await r.blob());
  } catch (e) {
    throw new AppError(`${url} is not an image this browser can decode`);
  }
}

function processingSize() {
  return Number(els.size.value) || 0;
}

/** Draw `source` (photo, video) into the input canvas at the processing size: for LiteRT.js the
 * centre crop of the nearest exported shape (app.plan), else the whole source. */
function drawInput(source, width, height) {
  const files = app.any ? app.any.litert && app.any.litert.transformer : app.style && app.style.litert;
  app.plan = app.lrt ? litertPlan(width, height, processingSize(), files) : null;
  const size = app.plan ? { width: app.plan.shape[1], height: app.plan.shape[0] } : fitSize(width, height, processingSize());
  checkProcessingSize(size);
  if (input.width !== size.width || input.height !== size.height) {
    input.width = size.width;
    input.height = size.height;
  }
  const ctx = input.getContext("2d", { willReadFrequently: app.plan !== null || app.backend !== "webgl" });
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  if (app.plan) {
    const { sx, sy, sw, sh } = app.plan.crop;
    ctx.drawImage(source, sx, sy, sw, sh, 0, 0, size.width, size.height);
  } else {
    ctx.drawImage(source, 0, 0, size.width, size.height);
  }
  return size;
}

// Pre/post-processing buffers, kept between frames of the same size.
const buffers = { pixels: 0, rgb: null, image: null };

/** The input canvas through LiteRT.js into the styled canvas: RGBA bytes -> float32 RGB [0, 1] ->
 * the signature (with the style vector on an arbitrary-style site) -> clipped back to RGBA bytes. */
async function styliseLiteRt(plan) {
  const model = await litertModel(plan);
  const vector = app.any ? await currentVector() : null;
  const [h, w] = plan.shape;
  const n = h * w;
  const t0 = performance.now();
  if (buffers.pixels !== n) {
    buffers.pixels = n;
    buffers.rgb = new Float32Array(n * 3);
    buffers.image = new ImageData(w, h);
  } else if (buffers.image.width !== w) {
    buffers.image = new ImageData(w, h);
  }
  const rgb = toRgb(input, w, h, buffers.rgb);
  const t1 = performance.now();
  let t2 = t1;
  const out = buffers.image.data;
  const feeds = [{ data: rgb, shape: [1, h, w, 3] }];
  if (vector) feeds.push({ data: vector, shape: [1, vector.length] });
  await model.run(plan.signature, feeds, (y) => {
    t2 = performance.now();
    // Uint8ClampedArray clips to 0..255 and rounds half to even, as TF.js's toPixels does.
    for (let i = 0, j = 0; i < n * 4; i += 4, j += 3) {
      out[i] = y[j] * 255;
      out[i + 1] = y[j + 1] * 255;
      out[i + 2] = y[j + 2] * 255;
      out[i + 3] = 255;
    }
  });
  if (styled.width !== w || styled.height !== h) {
    styled.width = w;
    styled.height = h;
  }
  styled.getContext("2d").putImageData(buffers.image, 0, 0);
  const t3 = performance.now();
  const tm = app.timing;
  tm.pre += t1 - t0;
  tm.runtime += t2 - t1;
  tm.post += t3 - t2;
  tm.frames += 1;
}

/** The w x h pixels of `canvas` as float32 RGB in [0, 1] (into `rgb` if given). */
function toRgb(canvas, w, h, rgb = new Float32Array(w * h * 3)) {
  const rgba = canvas.getContext("2d", { willReadFrequently: true }).getImageData(0, 0, w, h).data;
  const scale = 1 / 255;
  for (let i = 0, j = 0; i < w * h * 4; i += 4, j += 3) {
    rgb[j] = rgba[i] * scale;
    rgb[j + 1] = rgba[i + 1] * scale;
    rgb[j + 2] = rgba[i + 2] * scale;
  }
  return rgb;
}

/** Run the network on the input canvas into the styled canvas, then composite. */
async function stylise() {
  if (app.plan) {
    await styliseLiteRt(app.plan);
    showRuntime(`litert-${app.lrt.accelerator}`);
  } else {
    await styliseTfjs();
    showRuntime(`tfjs-${app.backend}`, app.lrt ? `no LiteRT.js model for ${input.width}×${input.height} px here` : "");
  }
  app.hasResult = true;
  const t0 = performance.now();
  composite();
  app.timing.canvas = (app.timing.canvas || 0) + performance.now() - t0;
}

async function styliseTfjs() {
  if (app.any) return styliseAny();
  if (!app.backend) await ensureTfjs(null);
  if (!app.model && !app.loading && app.style) await loadTfjsModel(app.style);
  if (!app.model && app.loading) await app.loading;
  const model = app.model;
  if (!model) throw new AppError("No style is loaded; pick a style.");
  const attempt = () => drawStyled(run(model));
  try {
    await attempt();
  } catch (e) {
    // WebGL keeps tensors in textures of limited size: a large picture through the standard
    // network exceeds it. Carry on with WebAssembly, and say so.
    if (app.backend !== "webgl" || !isWebGLSizeError(e)) throw e;
    await switchBackend("wasm", "the picture is too large for WebGL here");
    await attempt();
  }
}

/** The network on the input canvas: (H, W, 3) float32 in [0, 1]. */
function run(model) {
  const { tf } = app;
  return tf.tidy(() => {
    // tf-core alone has no chained ops (x.div(...)): the functional forms throughout.
    const x = tf.expandDims(tf.div(tf.cast(tf.browser.fromPixels(input), "float32"), 255), 0); // (1, H, W, 3)
    return tf.clipByValue(tf.squeeze(model.execute(x), [0]), 0, 1); // (H, W, 3)
  });
}

// ---- arbitrary style ---------------------------------------------------------------------------

const paintingCanvas = document.createElement("canvas"); // a painting as the prediction network sees it

/** An arbitrary-style site's TF.js graph model `key` ("predictor" or "transformer"), loaded once. */
async function anyModel(key) {
  if (!app.backend) await ensureTfjs(null);
  if (!app[key]) {
    const url = app.any[key];
    const what = key === "predictor" ? "style-prediction model" : "style transformer";
    app[key] = (async () => {
      try {
        return await app.tf.loadGraphModel(url, { fetchFunc: fetchOrFail });
      } catch (e) {
        throw new AppError(`The ${what} could not be loaded (${url}): ${oneLine(e)}`);
      }
    })();
    app[key].catch(() => { app[key] = null; });
  }
  return app[key];
}

/** The style vector of `source` (a painting, or the photo for the strength): on LiteRT.js where it
 * runs and the site has the prediction network's file, else on TF.js. */
async function styleVector(source, width, height) {
  const lrt = app.lrt && app.any.litert && app.any.litert.predictor;
  const vector = await (lrt ? styleVectorLiteRt(source, width, height, lrt) : styleVectorTfjs(source, width, height));
  document.body.dataset.predictor = lrt ? `litert-${app.lrt.accelerator}` : `tfjs-${app.backend}`;
  return vector;
}

/** On TF.js: longest side style_image_size, as tfstyle's Keras model resizes it. */
async function styleVectorTfjs(source, width, height) {
  const { tf } = app;
  const predictor = await anyModel("predictor");
  const size = fitSize(width, height, app.any.style_image_size);
  drawPainting(source, { sx: 0, sy: 0, sw: width, sh: height }, size.width, size.height);
  const v = tf.tidy(() => predictor.execute(
    tf.expandDims(tf.div(tf.cast(tf.browser.fromPixels(paintingCanvas), "float32"), 255), 0)));
  try {
    return Float32Array.from(await v.data());
  } finally {
    v.dispose();
  }
}

/** On LiteRT.js: the file takes one square shape, so the painting's centre square at that side
 * (logic.js squareCrop). */
async function styleVectorLiteRt(source, width, height, entry) {
  const [side] = entry.shapes[0];
  const name = `s${side}x${side}`;
  if (!app.lrtPredictor) {
    app.lrtPredictor = compileChecked(entry.file, "style-prediction model",
      [[name, predictorSignature(side, app.any.style_dim)]]);
    app.lrtPredictor.catch(() => { app.lrtPredictor = null; });
  }
  const model = await app.lrtPredictor;
  drawPainting(source, squareCrop(width, height), side, side);
  const data = toRgb(paintingCanvas, side, side);
  return model.run(name, [{ data, shape: [1, side, side, 3] }], (v) => Float32Array.from(v));
}

/** Draw the `crop` of `source` into the painting canvas at width x height. */
function drawPainting(source, crop, width, height) {
  paintingCanvas.width = width;
  paintingCanvas.height = height;
  const ctx = paintingCanvas.getContext("2d", { willReadFrequently: true });
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(source, crop.sx, crop.sy, crop.sw, crop.sh, 0, 0, width, height);
}

/** The vector the transformer gets now: the style (mixed with the second painting), at the strength. */
async function currentVector() {
  if (!app.vector) throw new AppError("Choose a painting first (a built-in style or your own).");
  const style = mixVectors(app.vector, app.vector2, app.vector2 ? Number(els.mix.value) / 100 : 0);
  const strength = Number(els.strength.value) / 100;
  return withStrength(style, strength < 1 ? await styleVector(input, input.width, input.height) : null, strength);
}

async function styliseAny() {
  const { tf } = app;
  const transformer = await anyModel("transformer");
  const vector = await currentVector();
  const y = tf.tidy(() => {
    const x = tf.expandDims(tf.div(tf.cast(tf.browser.fromPixels(input), "float32"), 255), 0);
    const v = tf.tensor2d(vector, [1, vector.length]);
    return tf.clipByValue(tf.squeeze(transformer.execute({ image: x, style: v }), [0]), 0, 1);
  });
  await drawStyled(y);
}

/** Draw a TF.js picture (H, W, 3) in [0, 1] on the styled canvas at the input's size, then free it. */
async function drawStyled(y) {
  try {
    styled.width = input.width;
    styled.height = input.height;
    await app.tf.browser.toPixels(y, styled);
  } finally {
    y.dispose();
  }
}

/** A painting file (picker, drop) or URL (test mode) -> its vector; `second`: the one mixed in. */
async function usePainting(blobOrUrl, second = false) {
  clearError();
  let image;
  const name = typeof blobOrUrl === "string" ? blobOrUrl : (blobOrUrl.name || "That file");
  if (typeof blobOrUrl === "string") {
    image = await loadImageURL(blobOrUrl);
  } else {
    try {
      image = await decodeImage(blobOrUrl);
    } catch {
      throw new AppError(`${name} is not an image this browser can decode.`);
    }
  }
  const vector = await styleVector(image, image.width, image.height);
  if (second) {
    app.vector2 = vector;
    els.mix.disabled = false;
  } else {
    app.vector = vector;
    app.style = { name: name.replace(/^.*[\\/]/, "").replace(/\.[^.]*$/, "") || "painting" };
    els.styleList.querySelectorAll("input").forEach((r) => { r.checked = false; });
  }
  els.paintingName.textContent = `${second ? "mixed in" : "painting"}: ${name.replace(/^.*[\\/]/, "")}`;
  if (app.photo && !app.webcamOn) await runPhoto();
}

/** Move to another backend (the model's weights follow) and say why in the page. */
async function switchBackend(name, why) {
  const { tf } = app;
  const ok = await (name === "wasm" ? startWasm(null) : tf.setBackend(name));
  if (!ok) throw new AppError(`${why}, and the ${BACKEND_LABELS[name] || name} backend did not start`);
  await tf.ready();
  app.backend = name;
  document.body.dataset.switched = why;
  app.runtime = null;
  showRuntime(`tfjs-${name}`, `switched: ${why}`);
}

/** The visible result: the input, with the stylised picture over it at the strength's opacity. */
function composite() {
  if (!app.hasResult) return;
  const out = els.output;
  if (out.width !== styled.width || out.height !== styled.height) {
    out.width = styled.width;
    out.height = styled.height;
  }
  const ctx = out.getContext("2d");
  // An arbitrary-style site applies the strength through the style vector, not the opacity.
  const alpha = app.any ? 1 : strengthToAlpha(els.strength.value);
  ctx.globalAlpha = 1;
  if (alpha < 1) ctx.drawImage(input, 0, 0);
  ctx.globalAlpha = alpha;
  ctx.drawImage(styled, 0, 0);
  ctx.globalAlpha = 1;
  els.empty.hidden = true;
  out.hidden = false;
  els.download.disabled = false;
  els.dims.textContent = `${out.width}×${out.height} px`;
}

function showFps(fps) {
  els.fps.textContent = fps > 0 ? fps.toFixed(1) : "–";
  document.body.dataset.fps = fps.toFixed(2);
}

// ---- photos ------------------------------------------------------------------------------------

async function runPhoto() {
  // One run at a time; a change during a run (size, style) runs once more after it.
  if (app.busy) {
    app.again = true;
    return;
  }
  app.busy = true;
  try {
    do {
      app.again = false;
      const photo = app.photo;
      drawInput(photo, photo.width, photo.height);
      const t0 = performance.now();
      await stylise();
      showFps(rate(1, performance.now() - t0));
    } while (app.again && !app.webcamOn && app.photo);
    document.body.dataset.state = "done";
  } finally {
    app.busy = false;
  }
}

async function usePhoto(blob) {
  clearError();
  stopWebcam();
  try {
    app.photo = await decodeImage(blob);
  } catch {
    throw new AppError(`${blob.name || "That file"} is not an image this browser can decode.`);
  }
  document.body.dataset.state = "running";
  await runPhoto();
}

// ---- webcam ------------------------------------------------------------------------------------

async function startWebcam() {
  clearError();
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new AppError(cameraErrorMessage({ name: window.isSecureContext ? "NotFoundError" : "InsecureContext" }));
  }
  try {
    app.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } }, audio: false,
    });
  } catch (e) {
    throw new AppError(cameraErrorMessage(e));
  }
  const v = els.video;
  v.srcObject = app.stream;
  await v.play();
  app.webcamOn = true;
  app.photo = null;
  els.webcam.setAttribute("aria-pressed", "true");
  els.webcam.textContent = "Stop webcam";
  document.body.dataset.state = "webcam";
  document.body.dataset.frames = "0";
  app.meter.reset();
  webcamLoop().catch((e) => {
    stopWebcam();
    showError(e);
  });
}

function stopWebcam() {
  app.webcamOn = false;
  if (app.stream) app.stream.getTracks().forEach((t) => t.stop());
  app.stream = null;
  els.video.srcObject = null;
  els.webcam.setAttribute("aria-pressed", "false");
  els.webcam.textContent = "Use webcam";
}

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));

async function webcamLoop() {
  const v = els.video;
  while (app.webcamOn) {
    if (v.readyState >= 2 && v.videoWidth > 0) {
      drawInput(v, v.videoWidth, v.videoHeight);
      await stylise();
      if (!app.webcamOn) break;
      showFps(app.meter.tick(performance.now()));
      document.body.dataset.frames = String(app.meter.frames);
      if (app.backend) document.body.dataset.tensors = String(app.tf.memory().numTensors);
    }
    await nextFrame(); // let the page paint and take input between frames
  }
}

// ---- controls ----------------------------------------------------------------------------------

function renderControls(styles, size) {
  for (const s of SIZES) {
    const o = document.createElement("option");
    o.value = String(s);
    o.textContent = s ? `${s} px` : "original size";
    els.size.append(o);
  }
  if (size && !SIZES.includes(size)) {
    const o = document.createElement("option");
    o.value = String(size);
    o.textContent = `${size} px`;
    els.size.append(o);
  }
  els.size.value = String(size === null ? DEFAULT_SIZE : size);

  for (const s of styles) {
    const label = document.createElement("label");
    label.className = "style";
    const radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "style";
    radio.value = s.name;
    const img = document.createElement("img");
    img.src = s.thumbnail || "placeholder.svg";
    img.alt = "";
    img.width = 72;
    img.height = 72;
    img.addEventListener("error", () => { img.src = "placeholder.svg"; }, { once: true });
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = s.name;
    const info = document.createElement("span");
    info.className = "info";
    info.textContent = [s.arch, formatBytes(s.bytes)].filter(Boolean).join(" · ");
    label.append(radio, img, name, info);
    radio.addEventListener("change", () => {
      if (radio.checked) restyle(s).catch(showError);
    });
    els.styleList.append(label);
  }
}

async function restyle(style) {
  clearError();
  await selectStyle(style);
  if (app.photo && !app.webcamOn) await runPhoto();
}

function wireControls() {
  els.pick.addEventListener("click", () => els.file.click());
  els.file.addEventListener("change", () => {
    const f = els.file.files && els.file.files[0];
    if (f) usePhoto(f).catch(showError);
    els.file.value = "";
  });
  els.webcam.addEventListener("click", () => {
    if (app.webcamOn) stopWebcam();
    else startWebcam().catch(showError);
  });
  els.stage.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      els.file.click();
    }
  });
  // An element that takes a dropped image file: `use` gets it, anything else is a one-line error.
  const dropTarget = (el, use, message) => {
    el.addEventListener("dragover", (e) => {
      e.preventDefault();
      el.classList.add("drop");
    });
    el.addEventListener("dragleave", () => el.classList.remove("drop"));
    el.addEventListener("drop", (e) => {
      e.preventDefault();
      e.stopPropagation(); // a painting dropped on its panel is not also a photo for the stage
      el.classList.remove("drop");
      const f = [...(e.dataTransfer ? e.dataTransfer.files : [])].find((x) => x.type.startsWith("image/"));
      if (f) use(f).catch(showError);
      else showError(new AppError(message));
    });
  };
  dropTarget(els.stage, usePhoto, "Drop an image file (JPEG, PNG, WebP…).");
  els.size.addEventListener("change", () => {
    if (app.photo && !app.webcamOn) runPhoto().catch(showError);
  });
  els.strength.addEventListener("input", () => {
    els.strengthValue.textContent = `${els.strength.value}%`;
    if (app.any && app.photo && !app.webcamOn) runPhoto().catch(showError);
    else composite();
  });
  const pick = (button, file, second) => {
    button.addEventListener("click", () => file.click());
    file.addEventListener("change", () => {
      const f = file.files && file.files[0];
      if (f) usePainting(f, second).catch(showError);
      file.value = "";
    });
  };
  pick(els.painting, els.paintingFile, false);
  pick(els.painting2, els.painting2File, true);
  dropTarget(els.any, (f) => usePainting(f, false), "Drop a painting as an image file (JPEG, PNG, WebP…).");
  els.mix.addEventListener("input", () => {
    els.mixValue.textContent = `${els.mix.value}%`;
    if (app.photo && !app.webcamOn) runPhoto().catch(showError);
  });
  els.download.addEventListener("click", () => {
    els.output.toBlob((blob) => {
      if (!blob) return showError(new AppError("The result could not be encoded as PNG."));
      const a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = downloadName(app.style && app.style.name, els.output.width, els.output.height);
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    }, "image/png");
  });
}

// ---- start -------------------------------------------------------------------------------------

async function testMode(params) {
  if (params.styleImage) {
    if (!app.any) throw new AppError("style_image= needs an arbitrary-style site");
    await usePainting(params.styleImage);
  }
  const image = await loadImageURL(params.image);
  app.photo = image;
  drawInput(image, image.width, image.height);
  await stylise(); // the first run compiles kernels; it is not timed
  const t0 = performance.now();
  for (let i = 0; i < params.frames; i += 1) await stylise();
  showFps(rate(params.frames, performance.now() - t0));
  document.body.dataset.state = "done";
}

/** For benchmarks (bench/bench_web.py): the current input through the network `frames` more times;
 * resolves to the milliseconds they took. */
window.tfstyleBench = async (frames) => {
  app.timing = { runtime: 0, pre: 0, post: 0, frames: 0, canvas: 0 };
  const t0 = performance.now();
  for (let i = 0; i < frames; i += 1) await stylise();
  return performance.now() - t0;
};
/** For benchmarks: milliseconds spent in each part of the LiteRT.js frames since tfstyleBench began. */
window.tfstyleTiming = () => ({ ...app.timing });

async function main() {
  const webgl = probeWebGL();
  app.softwareWebGL = webgl.software;
  if (typeof WebAssembly !== "object" && !webgl.available) {
    throw new AppError(unsupportedReason({ tf: true, webgl: false, wasm: false }));
  }
  const params = parseParams(window.location.search);
  app.params = params;
  wireControls();
  const index = await loadIndex();
  app.any = index.arbitrary || null;
  if (app.any) els.any.hidden = false;
  const styles = index.styles;
  const first = await startRuntime(params, webgl);
  app.styles = styles;
  showRuntime(first);
  renderControls(styles, params.size === null && params.image ? 0 : params.size);
  if (!app.any || styles.length || params.style) await selectStyle(pickStyle(styles, params.style));
  if (params.image) {
    document.body.dataset.state = "running";
    await testMode(params);
  } else if (params.webcam) {
    await startWebcam();
  } else {
    document.body.dataset.state = "ready";
  }
}

main().catch((e) => {
  els.backend.textContent = app.runtime ? (RUNTIME_LABELS[app.runtime] || app.runtime) : "none";
  if (app.failed.length) document.body.dataset.failed = app.failed.join("; ");
  showError(e);
});
