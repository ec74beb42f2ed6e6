// Unit tests of the web app's browser-free logic (src/tfstyle/web/app/logic.js).
// Run: node --test tests/js   (tests/test_web_app.py runs this, so CI does too)
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  AppError, BACKENDS, DEFAULT_SIZE, FpsMeter, SIZES, backendCandidates, cameraErrorMessage, checkProcessingSize,
  downloadName, errorState, fitSize, formatBytes, isSoftwareRenderer, parseParams, pickStyle, rate, strengthToAlpha,
  isWebGLSizeError, unsupportedReason, validateIndex, wasmThreads, RUNTIMES, litertPlan, litertSignatureProblem,
  litertThreads, litertUnsupportedReason, runtimeCandidates, splitRuntime, mixVectors, withStrength,
  styleSignature, transformerSignature, predictorSignature, squareCrop,
} from "../../src/tfstyle/web/app/logic.js";

test("test-mode URL: defaults", () => {
  const none = { image: null, style: null, size: null, backend: null, frames: 5, webcam: false, threads: null,
    runtime: null, styleImage: null };
  assert.deepEqual(parseParams(""), none);
  assert.deepEqual(parseParams("?image=cat.png"), { ...none, image: "cat.png" });
});

test("test-mode URL: every setting", () => {
  const p = parseParams("?image=photos%2Fa%20b.png&style=udnie&size=320&backend=wasm&frames=12&threads=3");
  assert.deepEqual(p, { image: "photos/a b.png", style: "udnie", size: 320, backend: "wasm", frames: 12, webcam: false,
    threads: 3, runtime: null, styleImage: null });
  assert.equal(parseParams("?webcam=1").webcam, true);
  assert.equal(parseParams("?webcam=0").webcam, false);
  assert.equal(parseParams("?style=").style, null);
});

test("test-mode URL: bad values are one-line AppErrors", () => {
  for (const [q, words] of [
    ["?size=abc", /size must be a whole number/],
    ["?size=8", /size must be between 16 and 4096/],
    ["?size=-3", /whole number/],
    ["?size=1e3", /whole number/],
    ["?frames=0", /frames must be between 1 and 1000/],
    ["?threads=0", /threads must be between 1 and 16/],
    ["?backend=webgpu", /backend must be one of webgl, wasm, cpu/],
    ["?image=", /image= needs the URL/],
    ["?image=a.png&webcam=1", /either image= or webcam=/],
  ]) {
    assert.throws(() => parseParams(q), (e) => e instanceof AppError && words.test(e.message) && !e.message.includes("\n"), q);
  }
});

test("backends: WebGL, then WASM, then CPU unless one is asked for", () => {
  assert.deepEqual(BACKENDS, ["webgl", "wasm", "cpu"]);
  assert.deepEqual(backendCandidates(null), ["webgl", "wasm", "cpu"]);
  assert.deepEqual(backendCandidates("wasm"), ["wasm"]);
  const list = backendCandidates(null);
  list.pop();
  assert.equal(BACKENDS.length, 3, "candidates are a copy");
  // A software WebGL (SwiftShader in headless Chromium) is slower than WebAssembly: WASM first.
  assert.deepEqual(backendCandidates(null, true), ["wasm", "webgl", "cpu"]);
  assert.deepEqual(backendCandidates("webgl", true), ["webgl"]);
});

test("WASM threads: TF.js's choice unless asked; asked-for threads shown as twice the cores", () => {
  // TF.js 4 uses at most hardwareConcurrency / 2 threads.
  assert.equal(wasmThreads(null, 2), null);
  assert.deepEqual(wasmThreads(2, 2), { threads: 2, reportCores: 4 });
  assert.deepEqual(wasmThreads(1, 8), { threads: 1, reportCores: 8 });
  assert.deepEqual(wasmThreads(8, 8), { threads: 8, reportCores: 16 });
  assert.deepEqual(wasmThreads(99, 4), { threads: 16, reportCores: 32 });
});

test("WebGL's texture-size failures are recognised (the app then moves to WASM)", () => {
  assert.ok(isWebGLSizeError(new Error("Requested texture size [13033x13034] greater than WebGL maximum on this browser / GPU [8192x8192].")));
  assert.ok(!isWebGLSizeError(new Error("Failed to compile fragment shader.")));
  assert.ok(!isWebGLSizeError(null));
});

test("software WebGL renderers are recognised", () => {
  assert.ok(isSoftwareRenderer("ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)"));
  assert.ok(isSoftwareRenderer("llvmpipe (LLVM 15.0.6, 256 bits)"));
  assert.ok(!isSoftwareRenderer("ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11 vs_5_0 ps_5_0)"));
  assert.ok(!isSoftwareRenderer("Apple M1"));
  assert.ok(!isSoftwareRenderer(undefined));
});

test("fitSize keeps the aspect ratio and the longest side", () => {
  assert.deepEqual(fitSize(640, 480, 256), { width: 256, height: 192 });
  assert.deepEqual(fitSize(480, 640, 256), { width: 192, height: 256 });
  assert.deepEqual(fitSize(134, 101, 0), { width: 134, height: 101 });
  assert.deepEqual(fitSize(134, 101, null), { width: 134, height: 101 });
  assert.deepEqual(fitSize(100, 100, 512), { width: 512, height: 512 }); // upscaling is allowed
  assert.deepEqual(fitSize(3000, 1, 256), { width: 256, height: 1 });
  assert.throws(() => fitSize(0, 10, 256), AppError);
  assert.throws(() => checkProcessingSize(fitSize(3000, 100, 256)), /each side must be at least 16 px/);
  assert.doesNotThrow(() => checkProcessingSize({ width: 16, height: 16 }));
});

test("the size list offers the default and the source's own size", () => {
  assert.ok(SIZES.includes(DEFAULT_SIZE));
  assert.ok(SIZES.includes(0));
  assert.deepEqual([...SIZES].sort((a, b) => a - b), SIZES);
});

test("pickStyle: by name, the first by default, a clear error otherwise", () => {
  const styles = [{ name: "udnie", model: "a" }, { name: "wave", model: "b" }];
  assert.equal(pickStyle(styles, null).name, "udnie");
  assert.equal(pickStyle(styles, "wave").name, "wave");
  assert.throws(() => pickStyle(styles, "nope"), /unknown style "nope"; this site has udnie, wave/);
  assert.throws(() => pickStyle([], null), /no styles/);
});

test("validateIndex checks models/models.json", () => {
  assert.deepEqual(validateIndex({ styles: [{ name: "a", model: "m.json" }] }), [{ name: "a", model: "m.json" }]);
  assert.throws(() => validateIndex({}), /no list of styles/);
  assert.throws(() => validateIndex({ styles: [{ name: "a" }] }), /without a name or a model/);
  assert.throws(() => validateIndex(null), AppError);
});

test("FpsMeter: frames per second over a sliding window", () => {
  const m = new FpsMeter(4, 10_000);
  assert.equal(m.fps, 0);
  m.tick(0);
  assert.equal(m.fps, 0, "one frame has no rate yet");
  for (let t = 100; t <= 1000; t += 100) m.tick(t); // 10 fps
  assert.ok(Math.abs(m.fps - 10) < 1e-9, String(m.fps));
  assert.equal(m.frames, 11);
  for (let t = 1050; t <= 1200; t += 50) m.tick(t); // now 20 fps: the window forgets the old rate
  assert.ok(Math.abs(m.fps - 20) < 1e-9, String(m.fps));
  m.reset();
  assert.equal(m.fps, 0);
  assert.equal(m.frames, 0);
});

test("FpsMeter: old frames leave the window after spanMs", () => {
  const m = new FpsMeter(100, 1000);
  m.tick(0);
  m.tick(10);
  m.tick(5000);
  m.tick(5100); // the pause at 10..5000 ms is forgotten
  assert.ok(Math.abs(m.fps - 10) < 1e-9, String(m.fps));
});

test("rate, strength, bytes, download names", () => {
  assert.equal(rate(5, 500), 10);
  assert.equal(rate(5, 0), 0);
  assert.equal(strengthToAlpha("100"), 1);
  assert.equal(strengthToAlpha(35), 0.35);
  assert.equal(strengthToAlpha(-4), 0);
  assert.equal(strengthToAlpha(250), 1);
  assert.equal(strengthToAlpha("x"), 1);
  assert.equal(formatBytes(512), "512 B");
  assert.equal(formatBytes(180672), "180.7 kB");
  assert.equal(formatBytes(3554301), "3.6 MB");
  assert.equal(downloadName("starry night", 256, 192), "tfstyle-starry_night-256x192.png");
  assert.equal(downloadName(null, 1, 2), "tfstyle-style-1x2.png");
});

test("camera errors say what to do", () => {
  assert.match(cameraErrorMessage({ name: "NotAllowedError" }), /permission was denied/);
  assert.match(cameraErrorMessage({ name: "NotFoundError" }), /No camera was found/);
  assert.match(cameraErrorMessage({ name: "NotReadableError" }), /in use/);
  assert.match(cameraErrorMessage({ name: "InsecureContext" }), /secure page/);
  assert.match(cameraErrorMessage({ name: "Weird", message: "boom" }), /could not be started \(boom\)/);
  assert.match(cameraErrorMessage(undefined), /unknown error/);
});

test("errorState is one line starting with 'error: '", () => {
  assert.equal(errorState(new AppError("bad model\nstack")), "error: bad model");
  assert.equal(errorState("plain"), "error: plain");
  assert.equal(errorState(null), "error: unknown error");
});

test("unsupportedReason names what is missing", () => {
  assert.equal(unsupportedReason({ tf: {}, webgl: true, wasm: false }), null);
  assert.equal(unsupportedReason({ tf: {}, webgl: false, wasm: true }), null);
  assert.match(unsupportedReason({ tf: {}, webgl: false, wasm: false }), /neither WebGL nor WebAssembly/);
  assert.match(unsupportedReason({ tf: undefined, webgl: true, wasm: true }), /TensorFlow.js did not load/);
  assert.match(unsupportedReason({ tf: {}, webgl: true, wasm: true, modules: false }), /too old/);
});

// ---- LiteRT.js ------------------------------------------------------------------------------------

test("runtime=: ids and families; backend= is TF.js's and does not mix with another runtime", () => {
  assert.equal(parseParams("?runtime=litert-wasm").runtime, "litert-wasm");
  assert.equal(parseParams("?runtime=tfjs").runtime, "tfjs");
  assert.equal(parseParams("?backend=wasm&runtime=tfjs-wasm").runtime, "tfjs-wasm");
  for (const [q, words] of [["?runtime=onnx", /runtime must be one of litert-webgpu, /],
    ["?backend=wasm&runtime=litert-wasm", /backend=wasm is TensorFlow.js's/]]) {
    assert.throws(() => parseParams(q), (e) => e instanceof AppError && words.test(e.message), q);
  }
});

test("runtime order: LiteRT.js first, WebGPU only on a hardware adapter unless asked, software GPUs last", () => {
  assert.deepEqual(runtimeCandidates({}, { webgpu: "hardware", softwareWebGL: false }),
    ["litert-webgpu", "litert-wasm", "tfjs-webgl", "tfjs-wasm", "tfjs-cpu"]);
  assert.deepEqual(runtimeCandidates({}, { webgpu: "software", softwareWebGL: true }),
    ["litert-wasm", "tfjs-wasm", "tfjs-webgl", "tfjs-cpu", "litert-webgpu"]);
  assert.deepEqual(runtimeCandidates({}, { webgpu: null, softwareWebGL: false }),
    ["litert-wasm", "tfjs-webgl", "tfjs-wasm", "tfjs-cpu"]);
  assert.deepEqual(runtimeCandidates({ runtime: "litert" }, { webgpu: "software" }), ["litert-wasm", "litert-webgpu"]);
  assert.deepEqual(runtimeCandidates({ runtime: "tfjs" }, {}), ["tfjs-webgl", "tfjs-wasm", "tfjs-cpu"]);
  assert.deepEqual(runtimeCandidates({ runtime: "litert-webgpu" }, { webgpu: null }), ["litert-webgpu"]);
  assert.deepEqual(runtimeCandidates({ backend: "cpu" }, { webgpu: "hardware" }), ["tfjs-cpu"]);
  for (const id of RUNTIMES) assert.ok(["litert", "tfjs"].includes(splitRuntime(id).family), id);
  assert.deepEqual(splitRuntime("litert-webgpu"), { family: "litert", kind: "webgpu" });
});

test("LiteRT.js threads: one per core up to 4, only with isolation and relaxed SIMD", () => {
  assert.equal(litertThreads(null, 2, true, true), 2);
  assert.equal(litertThreads(null, 16, true, true), 4);
  assert.equal(litertThreads(3, 2, true, true), 3);
  assert.equal(litertThreads(null, 8, false, true), 1);
  assert.equal(litertThreads(4, 8, true, false), 1);
  assert.equal(litertThreads(null, undefined, true, true), 1);
});

test("LiteRT.js needs WebAssembly SIMD; the reason is one line", () => {
  assert.equal(litertUnsupportedReason({ wasm: true, simd: true }), null);
  assert.match(litertUnsupportedReason({ wasm: true, simd: false }), /^this browser has no WebAssembly SIMD[^\n]*$/);
  assert.match(litertUnsupportedReason({ wasm: false, simd: false }), /no WebAssembly$/);
});

test("fixed shapes: the nearest exported aspect, a centred crop, none for sizes without a file", () => {
  const litert = { 256: { file: "m/litert_256.tflite", shapes: [[256, 256], [192, 256], [256, 192], [144, 256]] } };
  const exact = litertPlan(256, 192, 256, litert);
  assert.deepEqual(exact, { file: "m/litert_256.tflite", shape: [192, 256], signature: "s192x256",
    shapes: litert[256].shapes, crop: { sx: 0, sy: 0, sw: 256, sh: 192 } });
  // 134x101 (1.327) is nearest 4:3: the crop keeps the width and 100.5 of the 101 rows, centred.
  assert.deepEqual(litertPlan(134, 101, 256, litert).crop, { sx: 0, sy: 0.25, sw: 134, sh: 100.5 });
  // A 1280x720 webcam frame is 16:9 exactly; a tall 600x900 photo goes to 256x192's portrait twin.
  assert.deepEqual(litertPlan(1280, 720, 256, litert).shape, [144, 256]);
  const tall = litertPlan(600, 900, 256, litert);
  assert.deepEqual(tall.shape, [256, 192]);
  assert.ok(Math.abs(tall.crop.sh - 800) < 1e-9 && Math.abs(tall.crop.sy - 50) < 1e-9 && tall.crop.sw === 600);
  // Every crop has the shape's aspect ratio and stays inside the picture.
  for (const [w, h] of [[1, 1], [17, 1000], [4000, 3], [333, 250]]) {
    const plan = litertPlan(w, h, 256, litert);
    const { sx, sy, sw, sh } = plan.crop;
    assert.ok(sx >= 0 && sy >= 0 && sx + sw <= w + 1e-9 && sy + sh <= h + 1e-9, [w, h]);
    assert.ok(Math.abs(sw / sh - plan.shape[1] / plan.shape[0]) < 1e-9, [w, h]);
  }
  assert.equal(litertPlan(256, 192, 320, litert), null);
  assert.equal(litertPlan(256, 192, 0, litert), null);
  assert.equal(litertPlan(256, 192, 256, undefined), null);
  assert.throws(() => litertPlan(0, 10, 256, litert), AppError);
});

test("a signature the page cannot feed is named, with what it takes and what the page gives", () => {
  const t = (shape, dtype = "float32") => ({ dtype, shape });
  const want = styleSignature(192, 256);
  assert.equal(litertSignatureProblem("s192x256", [t([1, 192, 256, 3])], [t([1, 192, 256, 3])], want), null);
  assert.match(litertSignatureProblem("s192x256", undefined, undefined, want), /no signature s192x256/);
  assert.match(litertSignatureProblem("s192x256", [t([1, 192, 256, 1])], [t([1, 192, 256, 3])], want),
    /takes float32\[1, 192, 256, 1\], the page expects float32\[1, 192, 256, 3\] \(RGB in \[0, 1\]\)/);
  assert.match(litertSignatureProblem("s192x256", [t([1, 192, 256, 3], "int8")], [t([1, 192, 256, 3])], want),
    /takes int8/);
  assert.match(litertSignatureProblem("s192x256", [t([1, 192, 256, 3])], [t([1, 10])], want), /returns float32\[1, 10\]/);
  assert.match(litertSignatureProblem("s1x1", [t([1, 1, 1, 3]), t([1])], [t([1, 1, 1, 3])], styleSignature(1, 1)),
    /takes 2 inputs, the page gives one RGB image$/);
});

test("arbitrary style: the transformer's signature takes the picture and a vector in either order", () => {
  const t = (shape, dtype = "float32") => ({ dtype, shape });
  const want = transformerSignature(192, 256, 8);
  const image = t([1, 192, 256, 3]);
  assert.equal(litertSignatureProblem("s192x256", [image, t([1, 8])], [image], want), null);
  assert.equal(litertSignatureProblem("s192x256", [t([1, 8]), image], [image], want), null);
  assert.match(litertSignatureProblem("s192x256", [image], [image], want),
    /takes 1 inputs, the page gives an RGB image and a style vector/);
  assert.match(litertSignatureProblem("s192x256", [t([1, 100]), image], [image], want),
    /takes float32\[1, 100\], the page expects float32\[1, 8\] \(a style vector\)/);
  // The prediction network: a square painting in, a vector out.
  const pred = predictorSignature(64, 8);
  assert.equal(litertSignatureProblem("s64x64", [t([1, 64, 64, 3])], [t([1, 8])], pred), null);
  assert.match(litertSignatureProblem("s64x64", [t([1, 64, 64, 3])], [t([1, 64, 64, 3])], pred),
    /returns float32\[1, 64, 64, 3\], the page expects float32\[1, 8\]/);
  assert.match(litertSignatureProblem("s64x64", [t([1, 64, 64, 3])], [t([1, 8]), t([1, 8])], pred),
    /returns 2 outputs, the page expects one style vector/);
});

test("arbitrary style: the LiteRT.js prediction network sees a painting's centre square", () => {
  assert.deepEqual(squareCrop(64, 64), { sx: 0, sy: 0, sw: 64, sh: 64 });
  assert.deepEqual(squareCrop(100, 60), { sx: 20, sy: 0, sw: 60, sh: 60 });
  assert.deepEqual(squareCrop(30, 41), { sx: 0, sy: 5.5, sw: 30, sh: 30 });
  assert.throws(() => squareCrop(0, 5), AppError);
});

test("models.json: a bad LiteRT.js entry is refused", () => {
  const ok = { name: "a", model: "m.json", litert: { 256: { file: "a.tflite", shapes: [[256, 256]] } } };
  assert.deepEqual(validateIndex({ styles: [ok] }), [ok]);
  assert.throws(() => validateIndex({ styles: [{ ...ok, litert: { 256: { file: "a.tflite", shapes: [] } } }] }),
    /bad LiteRT.js entry for size 256/);
  assert.throws(() => validateIndex({ styles: [{ ...ok, litert: { 256: { shapes: [[256, 256]] } } }] }), AppError);
});

test("arbitrary style: mixing two paintings is the weighted mean of their vectors", () => {
  const a = [1, 0, 2];
  const b = [3, 4, -2];
  assert.deepEqual([...mixVectors(a, b, 0)], a);
  assert.deepEqual([...mixVectors(a, b, 1)], b);
  const m = mixVectors(a, b, 0.25);
  [0.75 * 1 + 0.25 * 3, 0.25 * 4, 0.75 * 2 - 0.25 * 2].forEach((x, i) => assert.ok(Math.abs(m[i] - x) < 1e-6, `${m}`));
  assert.deepEqual([...mixVectors(a, null, 0.7)], a);
  assert.throws(() => mixVectors(a, [1, 2], 0.5), (e) => e instanceof AppError && /cannot be mixed/.test(e.message));
  assert.throws(() => mixVectors(a, b, 1.5), (e) => e instanceof AppError && /\[0, 1\]/.test(e.message));
});

test("arbitrary style: strength interpolates the style vector with the photo's own", () => {
  const style = [2, -2, 4];
  const photo = [0, 2, 0];
  assert.deepEqual([...withStrength(style, photo, 1)], style);
  assert.deepEqual([...withStrength(style, photo, 0)], photo);
  const h = withStrength(style, photo, 0.5);
  [1, 0, 2].forEach((x, i) => assert.ok(Math.abs(h[i] - x) < 1e-6, `${h}`));
  assert.throws(() => withStrength(style, photo, -0.1), AppError);
});

test("arbitrary style: the index needs each style's vector of the model's size", () => {
  const arbitrary = { predictor: "p/model.json", transformer: "t/model.json", style_dim: 2, style_image_size: 64 };
  const styles = [{ name: "wave", vector: [0.5, -1] }];
  assert.deepEqual(validateIndex({ arbitrary, styles }), styles);
  assert.deepEqual(validateIndex({ arbitrary, styles: [] }), []);
  assert.throws(() => validateIndex({ arbitrary, styles: [{ name: "x", vector: [1] }] }), /needs a vector of 2/);
  assert.throws(() => validateIndex({ arbitrary: { ...arbitrary, style_dim: 0 }, styles }), /bad arbitrary-style/);
  // LiteRT.js files: none, or the prediction network's (one square shape) and the transformer's per size.
  const litert = { predictor: { file: "p_64.tflite", shapes: [[64, 64]] },
    transformer: { 256: { file: "t_256.tflite", shapes: [[192, 256], [256, 256]] } } };
  assert.deepEqual(validateIndex({ arbitrary: { ...arbitrary, litert }, styles }), styles);
  assert.deepEqual(validateIndex({ arbitrary: { ...arbitrary, litert: {} }, styles }), styles);
  for (const bad of [{ ...litert, predictor: { file: "p.tflite", shapes: [[48, 64]] } }, { predictor: litert.predictor },
    { ...litert, transformer: { 256: { file: "t.tflite", shapes: [] } } }]) {
    assert.throws(() => validateIndex({ arbitrary: { ...arbitrary, litert: bad }, styles }),
      /bad LiteRT.js entry for the arbitrary-style model/);
  }
  assert.equal(parseParams("?image=a.png&style_image=p%20q.jpg").styleImage, "p q.jpg");
  assert.throws(() => parseParams("?style_image="), /style_image= needs/);
});
