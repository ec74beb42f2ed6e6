"""Arbitrary style (one network for every painting): does it obey the style, what it costs, how big.

One run, on this machine's sample images (``../shared/images``: 4 photos and 8 paintings):

1. trains a small arbitrary-style model (light transformer, ``--predictor auto``) on transforms of
   the photos and 5 of the paintings (3 held out), and a per-style light network on held-out painting 0
   for the same number of steps (the baseline); training images/s of both, and the photo pipeline's
   decode rate with 1 thread against all cores (interleaved);
2. the style-obedience matrix: every held-out painting applied to every photo, each output's style
   loss against every held-out painting; each must be closest to its own (margin reported);
3. style and content losses on painting 0: arbitrary model vs the per-style network vs ``stylize``;
4. speed: transformer fps at 256 and 512 px (Keras and LiteRT float32) beside the per-style network of
   the same architecture (the baseline, interleaved), and the prediction network's ms per style image;
   EfficientNetB0, MobileNetV2 and VGG19 to block3_conv1 as the predictor's backbone (time, parameters,
   and how well their features tell styles apart);
5. export sizes of both models per TFLite quantisation beside the TFLite example's (2.8 MB + 0.2 MB int8);
6. a contact sheet (photos x held-out paintings) written to ``docs/anystyle_contact_sheet.jpg``.

Writes ``bench/results/anystyle.json`` and ``.md``.

    PYTHONPATH=src python bench/bench_anystyle.py [--steps 300] [--size 128] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "images"
RESULTS = ROOT / "bench" / "results"
HELD_OUT = ("munch_the_scream.jpg", "hokusai_great_wave.jpg", "kandinsky_composition_vii.jpg")
# The TFLite example's published sizes (MB): prediction and transfer models, int8 and float16.
TFLITE_EXAMPLE = {"int8": (2.8, 0.2), "float16": (4.7, 0.4)}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def timed(fn, seconds: float, min_runs: int = 3) -> float:
    """Median wall seconds per call after one warm-up call."""
    fn()
    times, start = [], time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


# A painting's channel orders: the first is the painting itself. Five paintings are too few palettes for
# a prediction network to learn colour from; their permutations give six palettes each.
PALETTES = ((0, 1, 2), (1, 2, 0), (2, 0, 1), (0, 2, 1), (2, 1, 0), (1, 0, 2))


def make_data(tmp: Path, n_photos: int = 24, seed: int = 0, palettes: int = len(PALETTES)):
    """Photos: random crops, flips and colour changes of the sample photos (192 px); paintings: the
    sample paintings but the held-out ones (in subfolders), each with ``palettes - 1`` channel
    permutations of it; returns (photos dir, styles dir)."""
    from PIL import Image, ImageEnhance

    rng = np.random.default_rng(seed)
    photos, styles = tmp / "photos", tmp / "styles"
    sources = sorted((SHARED / "content").iterdir())
    for i in range(n_photos):
        with Image.open(sources[i % len(sources)]) as im:
            im = im.convert("RGB")
            w, h = im.size
            s = int(min(w, h) * rng.uniform(0.5, 1.0))
            x, y = int(rng.integers(0, w - s + 1)), int(rng.integers(0, h - s + 1))
            im = im.crop((x, y, x + s, y + s)).resize((192, 192), Image.Resampling.LANCZOS)
            if rng.random() < 0.5:
                im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            im = ImageEnhance.Color(im).enhance(rng.uniform(0.7, 1.3))
            (photos / f"set{i % 3}").mkdir(parents=True, exist_ok=True)
            im.save(photos / f"set{i % 3}" / f"p{i:02d}.jpg", quality=92)
    for p in sorted((SHARED / "style").iterdir()):
        if p.name in HELD_OUT:
            continue
        with Image.open(p) as im:
            im = im.convert("RGB")
            im.thumbnail((512, 512))
            (styles / p.stem).mkdir(parents=True, exist_ok=True)
            bands = im.split()
            for order in PALETTES[:palettes]:  # the painting, then its channel permutations
                variant = Image.merge("RGB", [bands[i] for i in order])
                variant.save(styles / p.stem / f"{p.stem}_{''.join('rgb'[i] for i in order)}.jpg", quality=92)
    return photos, styles


def decode_rate(photos: Path, size: int, seconds: float) -> dict:
    """Photos per second out of the training pipeline (decode + crop + batch), 1 decode thread vs one per
    core, interleaved twice."""
    from tfstyle.feedforward.data import find_photos, photo_dataset

    files = find_photos(photos)
    rates: dict[str, list[float]] = {"1 thread": [], f"{os.cpu_count()} threads": []}
    for _ in range(2):
        for label, workers in (("1 thread", 1), (f"{os.cpu_count()} threads", os.cpu_count())):
            it = iter(photo_dataset(files, size, 4, 1, seed=1, workers=workers))
            next(it)
            n, t = 0, time.perf_counter()
            while time.perf_counter() - t < seconds:
                next(it)
                n += 4
            rates[label].append(n / (time.perf_counter() - t))
    return {k: round(max(v), 1) for k, v in rates.items()}


def scorer(weights):
    """The loss network of training (random VGG19 where no ImageNet weights are found): style loss of
    images against a painting's Grams, content loss against photos."""
    import tensorflow as tf

    from tfstyle.backbones.extractor import FeatureExtractor
    from tfstyle.config import TrainConfig
    from tfstyle.objective.losses import content_layer_loss, gram, style_layer_loss

    c = TrainConfig()
    content_layers, style_layers = c.resolved_layers()
    ext = FeatureExtractor(list(content_layers) + [n for n, _ in style_layers], weights, "float32",
                           pooling=c.resolved_pooling(weights.is_random), smoothing=c.resolved_smoothing())

    def grams(img):
        f = ext(tf.constant(img[None], tf.float32))
        return {n: gram(f[n]) for n, _ in style_layers}

    def style_loss(img, target_grams):
        """``img``: an image, or its ``grams`` already computed."""
        g = img if isinstance(img, dict) else grams(img)
        return float(np.mean([float(style_layer_loss(g[n], target_grams[n])) for n, _ in style_layers]))

    def content_loss(img, photo):
        a, b = ext(tf.constant(img[None])), ext(tf.constant(photo[None]))
        return float(np.mean([float(content_layer_loss(a[n], b[n])) for n in content_layers]))

    return grams, style_loss, content_loss


def style_separation(fns: dict, grams, style_loss) -> dict:
    """For each ``name: image batch -> features`` in ``fns``, the rank correlation between distances of
    its spatial-mean features and the style loss's, over every pair of the sample paintings in 3 channel
    orders (how well the features tell styles apart, as the loss network sees them)."""
    from scipy.stats import spearmanr

    from tfstyle.io.images import load_image, resize

    imgs = [resize(load_image(p), (256, 256))[..., list(o)] for p in sorted((SHARED / "style").iterdir())
            for o in PALETTES[:3]]
    g = [grams(i) for i in imgs]
    n = len(imgs)
    d = np.array([[style_loss(g[i], g[j]) if i != j else 0.0 for j in range(n)] for i in range(n)])
    pairs = np.triu_indices(n, 1)
    target = (d + d.T)[pairs]
    out = {}
    for name, f in fns.items():
        feats = np.stack([np.asarray(f(i[None]), np.float32).mean(axis=(0, 1, 2)) for i in imgs])
        feats = (feats - feats.mean(0)) / (feats.std(0) + 1e-6)
        e = np.linalg.norm(feats[:, None] - feats[None], axis=-1)[pairs]
        out[name] = round(float(spearmanr(e, target)[0]), 3)
    return out


def litert_runner(blob: bytes, feeds: dict, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=blob, num_threads=threads).get_signature_runner("serve")
    runner(**feeds)
    return lambda: runner(**feeds)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300, help="training steps of both networks")
    ap.add_argument("--size", type=int, default=128, help="training crop side")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=3.0, help="measuring time per speed cell")
    ap.add_argument("--sizes", default="256,512", help="speed: square input sides")
    ap.add_argument("--stylize-steps", type=int, default=200)
    ap.add_argument("--palettes", type=int, default=len(PALETTES),
                    help="training paintings: each sample painting in this many channel orders (1: as it is)")
    ap.add_argument("--predictor", default="auto", help="the prediction network trained (ArbitraryConfig.predictor)")
    ap.add_argument("--no-sizes", action="store_true", help="skip the export sizes (the slowest part)")
    args = ap.parse_args(argv)

    import tfstyle  # noqa: F401 - first, as its users import it
    import keras
    import tensorflow as tf

    from tfstyle.backbones import get
    from tfstyle.backbones.weights import resolve_weights
    from tfstyle.config import NETWORK_PRESETS, ArbitraryConfig, StylizeConfig, TrainConfig
    from tfstyle.export.tflite import tflite_bytes
    from tfstyle.feedforward.apply import StyleModel
    from tfstyle.feedforward.arbitrary import ArbitraryModel, build_predictor
    from tfstyle.feedforward.arbitrary_train import train_arbitrary
    from tfstyle.feedforward.networks import build_transform_net
    from tfstyle.feedforward.train import train
    from tfstyle.io.images import fit_size, load_image, resize, save_image
    from tfstyle.optimize.multiscale import stylize

    report: dict = {"cpu": cpu_name(), "cores": os.cpu_count(), "tensorflow": tf.__version__,
                    "steps": args.steps, "size": args.size, "batch": args.batch, "palettes": args.palettes,
                    "note": f"load average {os.getloadavg()[0]:.2f} at the start"}
    threads = os.cpu_count() or 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-anystyle-"))
    photos_dir, styles_dir = make_data(tmp, palettes=args.palettes)
    held = [load_image(SHARED / "style" / n) for n in HELD_OUT]
    held_small = [resize(h, fit_size(h.shape[:2], 256)) for h in held]
    test_photos = [resize(load_image(p), (args.size * 2, args.size * 2)) for p in sorted((SHARED / "content").iterdir())]
    weights = resolve_weights("auto", None, "vgg19")
    report["loss_network"] = ("VGG19 with ImageNet weights" if not weights.is_random else
                              "fixed-seed random-weight VGG19 (no ImageNet weights found)")

    # 1. training --------------------------------------------------------------------------
    report["pipeline_images_per_s"] = decode_rate(photos_dir, args.size, args.seconds)
    print("pipeline images/s", report["pipeline_images_per_s"], flush=True)
    config = TrainConfig(arch="light", steps=args.steps, batch_size=args.batch, image_size=args.size, style_size=256,
                         checkpoint_every=10_000, strategy="default")
    t = time.perf_counter()
    r = train_arbitrary(styles_dir, photos_dir, tmp / "any", config, ArbitraryConfig(predictor=args.predictor),
                        callback=lambda p: print(f"\rarbitrary {p.step}/{p.total_steps} {p.loss:.3f}", end="",
                                                 flush=True) if p.step % 10 == 0 else None)
    print()
    report["train_arbitrary"] = {"seconds": round(time.perf_counter() - t, 1), "images_per_s": round(r.images_per_second, 2),
                                 "final_loss": round(float(np.mean(r.history["total"][-20:])), 4)}
    t = time.perf_counter()
    r1 = train(SHARED / "style" / HELD_OUT[0], photos_dir, tmp / "one", config,
               callback=lambda p: print(f"\rper-style {p.step}/{p.total_steps} {p.loss:.3f}", end="", flush=True)
               if p.step % 10 == 0 else None)
    print()
    report["train_per_style"] = {"seconds": round(time.perf_counter() - t, 1), "images_per_s": round(r1.images_per_second, 2),
                                 "final_loss": round(float(np.mean(r1.history["total"][-20:])), 4)}
    any_model, one_model = ArbitraryModel(tmp / "any"), StyleModel(tmp / "one")
    report["predictor"] = (f"{any_model.config.predictor} to {any_model.config.cut}, "
                           f"{any_model.meta.get('predictor_weights', '?')} weights")

    # 2. obedience ---------------------------------------------------------------------------
    grams, style_loss, content_loss = scorer(weights)
    targets = [grams(h) for h in held_small]
    vectors = [any_model.style_vector(h) for h in held]
    outputs = [[any_model.stylize(p, v) for p in test_photos] for v in vectors]  # [style][photo]
    matrix = [[float(np.mean([style_loss(o, targets[j]) for o in outputs[i]])) for j in range(len(held))]
              for i in range(len(held))]
    # The style loss is relative to its target's magnitude (objective/losses.py), so one painting's column
    # is lower for every output: each column is divided by its mean over the outputs before the rows are
    # compared (a painting's own output must beat the others' outputs in its own units).
    k = len(held)
    col_mean = [np.mean([matrix[i][j] for i in range(k)]) for j in range(k)]
    norm = [[matrix[i][j] / col_mean[j] for j in range(k)] for i in range(k)]
    margins = [min(norm[i][j] for j in range(k) if j != i) - norm[i][i] for i in range(k)]
    column_ok = [bool(matrix[j][j] == min(matrix[i][j] for i in range(k))) for j in range(k)]
    report["obedience"] = {"paintings": list(HELD_OUT), "matrix": [[round(x, 4) for x in row] for row in matrix],
                           "normalised": [[round(x, 3) for x in row] for row in norm],
                           "own_is_closest": [bool(m > 0) for m in margins],
                           "own_output_is_best_for_painting": column_ok,
                           "margin": [round(m, 3) for m in margins]}
    print("obedience", report["obedience"], flush=True)

    # 3. against the per-style network and stylize on painting 0 ----------------------------
    rows = {}
    one_out = [one_model(p) for p in test_photos]
    rows["arbitrary model"] = outputs[0]
    rows["per-style network"] = one_out
    t = time.perf_counter()
    styl = [stylize(p, held[0], StylizeConfig(size=args.size * 2, steps=args.stylize_steps, seed=0),
                    weights=weights).image for p in test_photos]
    stylize_s = (time.perf_counter() - t) / len(test_photos)
    rows[f"stylize ({args.stylize_steps} steps)"] = styl
    report["losses_painting0"] = {
        name: {"style": round(float(np.mean([style_loss(o, targets[0]) for o in outs])), 4),
               "content": round(float(np.mean([content_loss(resize(o, p.shape[:2]), p)
                                               for o, p in zip(outs, test_photos)])), 4)}
        for name, outs in rows.items()}
    report["losses_painting0"][f"stylize ({args.stylize_steps} steps)"]["seconds_per_image"] = round(stylize_s, 1)
    print("losses", report["losses_painting0"], flush=True)

    # 4. speed -------------------------------------------------------------------------------
    net = NETWORK_PRESETS["light"]
    per_style = build_transform_net(net)
    speed = []
    endpoint, signature = _endpoint(any_model.transformer, any_model.style_dim)
    blobs = {"arbitrary": tflite_bytes(any_model.transformer, "none", None, endpoint=endpoint,
                                       input_signature=signature),
             "per-style": tflite_bytes(per_style)}
    for side in [int(s) for s in args.sizes.split(",")]:
        x = np.random.default_rng(0).random((1, side, side, 3), dtype=np.float32)
        v = vectors[0][None]
        fa = tf.function(lambda x, v: any_model.transformer([x, v]))
        fp = tf.function(lambda x: per_style(x))
        cells = {}
        for _ in range(2):  # interleaved: A, B, A, B
            cells.setdefault("keras arbitrary", []).append(timed(lambda: fa(x, v).numpy(), args.seconds))
            cells.setdefault("keras per-style", []).append(timed(lambda: fp(x).numpy(), args.seconds))
            cells.setdefault("litert arbitrary", []).append(timed(
                litert_runner(blobs["arbitrary"], {"image": x, "style": v}, threads), args.seconds))
            cells.setdefault("litert per-style", []).append(timed(
                litert_runner(blobs["per-style"], {"image": x}, threads), args.seconds))
        fps = {k: round(1 / min(t), 2) for k, t in cells.items()}
        speed.append({"size": side, **fps, "keras ratio": round(fps["keras arbitrary"] / fps["keras per-style"], 3),
                      "litert ratio": round(fps["litert arbitrary"] / fps["litert per-style"], 3)})
        print("speed", speed[-1], flush=True)
    report["speed"] = speed
    style_in = held_small[0][None]
    pf = tf.function(lambda s: any_model.predictor(s))
    report["prediction_ms"] = round(1000 * timed(lambda: pf(style_in).numpy(), args.seconds), 1)
    # The predictor's backbone: EfficientNetB0 (cut at block5c_add), MobileNetV2 (cut at
    # block_13_expand_relu, its first layer at 1/16 resolution) and VGG19 to block3_conv1 (the fallback of
    # --predictor auto); time and parameters do not depend on the weights. With this machine's weights
    # (fixed-seed random ones where no ImageNet weights are found) each is also asked how well its
    # features tell styles apart: the rank correlation between the distances of its spatial-mean features
    # (each standardised over the images) and the style loss's (symmetrised) over 8 paintings x 3 palettes.
    choice = {}
    mnv2 = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(None, None, 3))
    mnv2 = keras.Model(mnv2.input, mnv2.get_layer("block_13_expand_relu").output)
    trunks = {"efficientnetb0": build_predictor(ArbitraryConfig(predictor="efficientnetb0"), None),
              "vgg19 to block3_conv1": build_predictor(ArbitraryConfig().resolved(False), None)}
    trunks = {k: m.get_layer("predictor_trunk") for k, m in trunks.items()}
    prep = {"efficientnetb0": lambda s: s * 255.0, "mobilenetv2": lambda s: s * 2.0 - 1.0,
            "vgg19 to block3_conv1": lambda s: get("vgg19").preprocess(s, True)}
    trunks["mobilenetv2"] = mnv2
    fns = {name: tf.function(lambda s, m=m, f=prep[name]: m(f(s))) for name, m in trunks.items()}
    for _ in range(2):  # interleaved
        for name, f in fns.items():
            ms = 1000 * timed(lambda f=f: f(style_in).numpy(), args.seconds)
            choice.setdefault(name, {"params": int(trunks[name].count_params()), "ms_256": ms})
            choice[name]["ms_256"] = round(min(choice[name]["ms_256"], ms), 1)
    for name, rho in style_separation(fns, grams, style_loss).items():
        choice[name]["style_rank_correlation"] = rho
    report["predictor_backbones"] = choice
    print("prediction", report["prediction_ms"], "ms;", choice, flush=True)

    # 5. export sizes ------------------------------------------------------------------------
    if not args.no_sizes:
        from tfstyle.config import ExportConfig
        from tfstyle.export.arbitrary import write_pair
        from tfstyle.export.base import representative_images

        paintings = representative_images(styles_dir, 8, 256)
        photos = representative_images(photos_dir, 8, 256)
        sizes = {}
        for q in ("none", "float16", "dynamic", "int8"):
            out = tmp / f"export_{q}"
            write_pair(any_model.predictor, any_model.transformer, out, ExportConfig(format="tflite", quantize=q),
                       any_model.style_dim, paintings, photos)
            sizes[q] = {"predictor_MB": round((out / "predictor.tflite").stat().st_size / 1e6, 2),
                        "transformer_MB": round((out / "transformer.tflite").stat().st_size / 1e6, 3)}
            print("export", q, sizes[q], flush=True)
        report["export_sizes"] = sizes
        report["tflite_example_MB"] = TFLITE_EXAMPLE

    # 6. contact sheet -----------------------------------------------------------------------
    sheet = contact_sheet(test_photos, held_small, outputs, cell=160)
    sheet_path = ROOT / "docs" / "anystyle_contact_sheet.jpg"
    save_image(sheet, sheet_path)
    report["contact_sheet"] = str(sheet_path.relative_to(ROOT))

    report["note"] += f", {os.getloadavg()[0]:.2f} at the end (2 cores; above 2, other work shared them)"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "anystyle.json").write_text(json.dumps(report, indent=1))
    (RESULTS / "anystyle.md").write_text(markdown(report))
    print(markdown(report))
    return 0


def _endpoint(transformer, style_dim):
    from tfstyle.export.arbitrary import transformer_endpoint

    return transformer_endpoint(transformer, style_dim)


def contact_sheet(photos, paintings, outputs, cell: int = 160) -> np.ndarray:
    """A grid: the top row the paintings, the left column the photos, each cell photo x painting.

    Args:
        photos: P (H, W, 3) images. paintings: S images. outputs: [S][P] stylised photos.
    """
    from tfstyle.io.images import resize

    def fit(img):
        h, w = img.shape[:2]
        s = min(h, w)
        sq = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        return resize(np.clip(sq, 0, 1).astype(np.float32), (cell, cell))

    rows = [[np.ones((cell, cell, 3), np.float32)] + [fit(p) for p in paintings]]
    for j, photo in enumerate(photos):
        rows.append([fit(photo)] + [fit(outputs[i][j]) for i in range(len(paintings))])
    return np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)


def markdown(r: dict) -> str:
    lines = [f"# Arbitrary style: {r['cpu']}, {r['cores']} cores, TensorFlow {r['tensorflow']}", "",
             f"{r['note']}. Loss network: {r['loss_network']}.", "",
             f"Training: light transformer, {r['steps']} steps, batch {r['batch']}, {r['size']} px crops, {r.get('palettes', 1)} channel orders of each of 5 training paintings; prediction network: {r.get('predictor', 'efficientnetb0')}.", "",
             "| training | seconds | images/s | final loss |", "|---|---|---|---|"]
    for k in ("train_arbitrary", "train_per_style"):
        t = r[k]
        lines.append(f"| {k.replace('train_', '')} | {t['seconds']} | {t['images_per_s']} | {t['final_loss']} |")
    lines += ["", "Photo pipeline (decode, crop, batch), images/s: " +
              ", ".join(f"{k}: {v}" for k, v in r["pipeline_images_per_s"].items()), "",
              "## Style obedience (held-out paintings)", "",
              "Mean style loss of the outputs made with painting (row) against painting (column):", "",
              "| made with \\ scored against | " + " | ".join(r["obedience"]["paintings"]) + " | own closest | margin |",
              "|---" * (len(r["obedience"]["paintings"]) + 3) + "|"]
    for name, row, nrow, ok, m in zip(r["obedience"]["paintings"], r["obedience"]["matrix"], r["obedience"]["normalised"],
                                      r["obedience"]["own_is_closest"], r["obedience"]["margin"]):
        lines.append(f"| {name} | " + " | ".join(f"{x} ({n})" for x, n in zip(row, nrow))
                     + f" | {'yes' if ok else 'no'} | {m:+.3f} |")
    lines += ["", "In brackets: divided by the column's mean (the loss is relative to each painting's own Gram "
              "magnitude, so columns differ in scale); a row's own painting must have the smallest bracketed "
              "value; the margin is the next smallest minus it. For each painting (column), its own output "
              "has the lowest raw loss: " + ", ".join("yes" if x else "no"
                                                       for x in r["obedience"]["own_output_is_best_for_painting"]) + "."]
    lines += ["", f"## Painting {r['obedience']['paintings'][0]}: losses side by side", "",
              "| method | style loss | content loss |", "|---|---|---|"]
    for name, v in r["losses_painting0"].items():
        lines.append(f"| {name} | {v['style']} | {v['content']} |")
    lines += ["", "## Speed (frames per second, batch 1)", "",
              "| px | Keras arbitrary | Keras per-style | ratio | LiteRT arbitrary | LiteRT per-style | ratio |",
              "|---|---|---|---|---|---|---|"]
    for s in r["speed"]:
        lines.append(f"| {s['size']} | {s['keras arbitrary']} | {s['keras per-style']} | {s['keras ratio']} | "
                     f"{s['litert arbitrary']} | {s['litert per-style']} | {s['litert ratio']} |")
    lines += ["", f"Prediction network: {r['prediction_ms']} ms per 256 px style image (Keras).", "",
              "| predictor backbone | parameters | ms at 256 px | rank correlation with the style loss's distances |",
              "|---|---|---|---|"]
    for k, v in r["predictor_backbones"].items():
        lines.append(f"| {k} | {v['params']:,} | {v['ms_256']} | {v.get('style_rank_correlation', '')} |")
    lines += ["", "The correlation: distances between the backbone's spatial-mean features of 8 paintings x 3 channel "
              f"orders against their style loss's, with this run's weights ({r.get('predictor', '')})."]
    if "export_sizes" in r:
        lines += ["", "## TFLite sizes (MB)", "", "| quantisation | prediction | transformer | TFLite example |",
                  "|---|---|---|---|"]
        for q, v in r["export_sizes"].items():
            ex = r["tflite_example_MB"].get(q)
            lines.append(f"| {q} | {v['predictor_MB']} | {v['transformer_MB']} | "
                         f"{f'{ex[0]} + {ex[1]}' if ex else ''} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
