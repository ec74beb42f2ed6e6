"""Temporal consistency and speed of ``tfstyle video``.

Consistency: the warping error (Lai et al., ECCV 2018: the masked squared difference between each
output frame and the next output frame warped back onto it, summed over RGB in [0, 1], averaged
over the valid pixels and the frame pairs) and the style loss (tfstyle's scaled Gram loss of each
output frame against the style, the mean over frames) of

* **independent** frames (the baseline): the plainly trained network on every frame; and image
  optimisation of every frame from its own content;
* **blend**: the plain network with the flow-guided blend (``VideoConfig.blend``);
* **temporal net**: a network trained with ``TrainConfig.temporal_weight`` (synthetic motion);
* **temporal net + blend**;
* **optimisation + temporal**: Ruder et al.'s temporal loss and warm start (``VideoConfig``).

on synthetic clips with known motion (a pan and a zoom over sample photos, with Gaussian sensor
noise on every frame, so the flow used by the metric is exact) and on a clip whose flow is
estimated (an object moving across a panning background, with occlusions: the metric uses DIS flow
and Ruder et al.'s consistency mask on the input frames).

Speed: frames per second of the whole feed-forward path (decode, stylise, encode, with and without
the blend) at 256 and 512 px; seconds per frame of the optimisation path; the flow's time per frame.

The networks are trained here, briefly, with the fixed-seed random-weight VGG19 as loss network
(no ImageNet weights can be had on this machine): the numbers compare methods on the same
networks, they say nothing about ImageNet-quality stylisation.

    PYTHONPATH=src python bench/bench_video.py             # full run (~20 min on 2 idle cores)
    PYTHONPATH=src python bench/bench_video.py --quick     # minutes
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "images"
STYLE = SHARED / "style" / "vangogh_starry_night.jpg"

from video_clips import Clip, motion_clip, write_clip  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------- clips

def objects_clip(hw, frames: int, noise: float, seed: int = 0) -> Clip:
    """A panning background (coffee cup) with a textured object (a crop of the rocket photo) moving
    the other way: occlusions and motion boundaries. No exact flow (flows are None)."""
    from tfstyle.io.images import load_image, resize

    h, w = hw
    bg = motion_clip(load_image(SHARED / "content" / "coffee_cup.png"), hw, frames, "pan", 1.5, noise=0.0,
                     seed=seed)
    obj = resize(load_image(SHARED / "content" / "falcon9_rocket_launch.jpg"), (h // 2, w // 3))
    oh, ow = obj.shape[:2]
    rng = np.random.default_rng(seed)
    out = []
    for t, f in enumerate(bg.frames):
        a = f.astype(np.float32) / 255.0
        x = int(round(w - ow - 2 - t * 2.5))
        y = int(round(h // 4 + 3 * np.sin(t / 3)))
        a[y:y + oh, max(x, 0):x + ow] = obj[:, max(-x, 0):]
        a = a + rng.normal(0.0, noise, a.shape)
        out.append((np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8))
    return Clip(out, [None] * frames, [None] * frames)


def make_clips(hw, frames: int, noise: float) -> dict[str, Clip]:
    from tfstyle.io.images import load_image

    return {
        "pan": motion_clip(load_image(SHARED / "content" / "chelsea_cat.png"), hw, frames, "pan", 1.3, noise),
        "zoom": motion_clip(load_image(SHARED / "content" / "astronaut_eileen_collins.png"), hw, frames, "zoom",
                            0.012, noise, seed=1),
        "objects (estimated flow)": objects_clip(hw, frames, noise, seed=2),
    }


# --------------------------------------------------------------------------------- metrics

def warping_error(clip: Clip, outputs) -> float:
    """Mean over frame pairs of Lai et al.'s warping error; the clip's exact flows, else DIS
    (medium) flow and Ruder et al.'s mask on the input frames."""
    from tfstyle.video.flow import FlowEstimator, warping_error as werr

    est = None
    errs = []
    for t in range(1, len(outputs)):
        flow, mask = clip.flows[t], clip.masks[t]
        if flow is None:
            est = est or FlowEstimator("medium")
            flow, mask = est.pair(clip.frames[t], clip.frames[t - 1])
        errs.append(werr(outputs[t], outputs[t - 1], flow, mask))
    return float(np.mean(errs))


class StyleMeter:
    """tfstyle's style loss (scaled Gram loss, default VGG19 layers, the run's weights) of frames."""

    def __init__(self, style: np.ndarray, hw):
        from tfstyle import StylizeConfig
        from tfstyle.backbones.weights import resolve_weights
        from tfstyle.io.images import output_shape, resize
        from tfstyle.objective.losses import gram, style_layer_loss
        from tfstyle.optimize.stylizer import build_extractor

        cfg = StylizeConfig(backbone="random", precision="float32")
        self.extractor = build_extractor(cfg, resolve_weights("random", None, "vgg19"), "float32")
        _, layers = cfg.resolved_layers()
        self.layers = [n for n, _ in layers]
        s = resize(style, output_shape(style.shape[:2], max(hw)))
        f = self.extractor(s[None])
        self.targets = {n: gram(f[n]) for n in self.layers}
        self._gram, self._loss = gram, style_layer_loss

    def __call__(self, frames) -> float:
        vals = []
        for fr in frames:
            f = self.extractor(np.asarray(fr, np.float32)[None])
            vals.append(np.mean([float(self._loss(self._gram(f[n]), self.targets[n])) for n in self.layers]))
        return float(np.mean(vals))


# ------------------------------------------------------------------------------- methods

def train_net(style_path, photos: Path, out: Path, steps: int, size: int, temporal_weight: float):
    from tfstyle import TrainConfig
    from tfstyle.feedforward.train import train

    cfg = TrainConfig(arch="light", steps=steps, batch_size=4, image_size=size, style_size=256, lr=5e-3,
                      checkpoint_every=10 ** 6, backbone="random", precision="float32", strategy="default",
                      temporal_weight=temporal_weight, seed=0)
    t0 = time.perf_counter()

    def every(p):
        if p.step % 50 == 0:
            log(f"  {out.name}: step {p.step}/{p.total_steps} loss {p.loss:.3f} ({time.perf_counter() - t0:.0f} s)")

    r = train(style_path, photos, out, cfg, overwrite=True, callback=every)
    log(f"trained {out.name}: {r.steps} steps in {time.perf_counter() - t0:.0f} s, "
        f"final loss {r.history['total'][-1]:.3f}")
    return out


def make_photos(folder: Path, n: int = 24, side: int = 256) -> Path:
    """Training photos: random crops of the sample content photos (not the clips' frames)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((SHARED / "content").iterdir())
    for i in range(n):
        with Image.open(sources[i % len(sources)]) as im:
            im = im.convert("RGB")
            w, h = im.size
            s = int(min(w, h) * rng.uniform(0.4, 0.9))
            x, y = int(rng.integers(0, w - s + 1)), int(rng.integers(0, h - s + 1))
            im.crop((x, y, x + s, y + s)).resize((side, side), Image.Resampling.LANCZOS).save(folder / f"p{i:02d}.png")
    return folder


def run_ff(model, clip: Clip, blend: float, flow: str = "medium"):
    from tfstyle.video.flow import FlowEstimator
    from tfstyle.video import FeedForwardFrames

    p = FeedForwardFrames(model, blend, FlowEstimator(flow) if blend else None)
    return [p(f) for f in clip.frames]


def run_opt(style, clip: Clip, steps: int, temporal_weight: float, frame_lr: float, first_steps: int = 0):
    from tfstyle import StylizeConfig, VideoConfig
    from tfstyle.video import OptimisedFrames

    cfg = StylizeConfig(size=max(clip.frames[0].shape[:2]), steps=steps, backbone="random", precision="float32")
    video = VideoConfig(temporal_weight=temporal_weight, frame_lr=frame_lr, first_frame_steps=first_steps)
    p = OptimisedFrames(style, cfg, video)
    t0 = time.perf_counter()
    outs = [p(f) for f in clip.frames]
    return outs, (time.perf_counter() - t0) / len(outs), p.timings


# ---------------------------------------------------------------------------------- speed

def speed_ff(model_dir: Path, sizes, frames: int, blend: float, tmp: Path) -> dict:
    """Frames per second of stylize_video (decode, stylise, encode) on a 640x360 clip with audio."""
    from tfstyle import StylizeConfig, VideoConfig
    from tfstyle.feedforward.apply import StyleModel
    from tfstyle.io.images import load_image
    from tfstyle.video import stylize_video

    src = tmp / "speed_src.mp4"
    if not src.exists():
        clip = motion_clip(load_image(SHARED / "content" / "chelsea_cat.png"), (360, 640), frames, "pan", 1.3, 0.02)
        write_clip(src, clip.frames, fps=25, audio=True)
    model = StyleModel(model_dir)
    out = {}
    for size in sizes:
        for b in (0.0, blend):
            dst = tmp / f"speed_{size}_{b}.mp4"
            cfg, video = StylizeConfig(size=size), VideoConfig(blend=b)
            stylize_video(src, dst, model=model, config=cfg, video=video, overwrite=True)  # warm-up (tracing)
            r = stylize_video(src, dst, model=model, config=cfg, video=video, overwrite=True)
            out[(size, b)] = (r.frames / r.seconds, {k: v / r.frames * 1000 for k, v in r.timings.items()})
            log(f"speed {size}px blend {b}: {r.frames / r.seconds:.2f} frames/s {out[(size, b)][1]}")
    return out


def flow_ms(sizes, repeats: int = 10) -> dict:
    """Milliseconds of one FlowEstimator.pair (two DIS flows and the consistency mask) per preset."""
    from tfstyle.io.images import load_image
    from tfstyle.video.flow import FLOW_PRESETS, FlowEstimator

    out = {}
    for size in sizes:
        clip = motion_clip(load_image(SHARED / "content" / "chelsea_cat.png"), (size * 9 // 16, size), 3, "pan",
                           1.3, 0.02)
        for preset in FLOW_PRESETS:
            fe = FlowEstimator(preset)
            fe.pair(clip.frames[1], clip.frames[0])
            t0 = time.perf_counter()
            for _ in range(repeats):
                fe.pair(clip.frames[2], clip.frames[1])
            out[(size, preset)] = (time.perf_counter() - t0) / repeats * 1000
    return out


# ----------------------------------------------------------------------------------- main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small clips, short training, few steps")
    ap.add_argument("--out", default=str(HERE / "results"), help="folder for video.json")
    ap.add_argument("--size", type=int, default=0, help="clip width (default 128, quick 96)")
    ap.add_argument("--frames", type=int, default=0, help="frames per clip (default 8, quick 6)")
    ap.add_argument("--train-steps", type=int, default=0, help="training steps (default 200, quick 40)")
    ap.add_argument("--crop", type=int, default=64, help="training crop side")
    ap.add_argument("--opt-steps", type=int, default=0, help="optimisation steps per frame (default 30, quick 10)")
    ap.add_argument("--train-temporal", type=float, default=30.0, help="TrainConfig.temporal_weight")
    ap.add_argument("--blend", type=float, default=None, help="VideoConfig.blend (default: its default)")
    ap.add_argument("--temporal", type=float, default=None, help="VideoConfig.temporal_weight (default: its default)")
    ap.add_argument("--frame-lr", type=float, default=None, help="VideoConfig.frame_lr (default: its default)")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-opt", action="store_true")
    ap.add_argument("--keep", help="keep the trained models and outputs in this folder")
    args = ap.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tfstyle import VideoConfig
    from tfstyle.feedforward.apply import StyleModel
    from tfstyle.io.images import load_image

    q = args.quick
    width = args.size or (96 if q else 128)
    hw = (width * 3 // 4, width)
    frames = args.frames or (6 if q else 8)
    train_steps = args.train_steps or (40 if q else 200)
    opt_steps = args.opt_steps or (10 if q else 30)
    defaults = VideoConfig()
    blend = defaults.blend if args.blend is None else args.blend
    temporal = defaults.temporal_weight if args.temporal is None else args.temporal
    frame_lr = defaults.frame_lr if args.frame_lr is None else args.frame_lr
    noise = 0.02
    t_start = time.perf_counter()

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_video_"))
    work.mkdir(parents=True, exist_ok=True)
    style = load_image(STYLE)
    clips = make_clips(hw, frames, noise)
    meter = StyleMeter(style, hw)
    crop = args.crop
    photos = make_photos(work / "photos", side=2 * crop)
    plain = StyleModel(train_net(STYLE, photos, work / "net_plain", train_steps, crop, 0.0))
    temporal_net = StyleModel(train_net(STYLE, photos, work / "net_temporal", train_steps, crop,
                                        args.train_temporal))

    rows = []  # (clip, method, warping error, style loss, baseline name)
    for name, clip in clips.items():
        inputs = [f.astype(np.float32) / 255.0 for f in clip.frames]
        rows.append((name, "input frames (no stylisation)", warping_error(clip, inputs), None, None))
        ff = {
            "independent (plain net)": run_ff(plain, clip, 0.0),
            f"blend {blend:g} (plain net)": run_ff(plain, clip, blend),
            f"temporal net (trained, weight {args.train_temporal:g})": run_ff(temporal_net, clip, 0.0),
            f"temporal net + blend {blend:g}": run_ff(temporal_net, clip, blend),
        }
        for method, outs in ff.items():
            rows.append((name, method, warping_error(clip, outs), meter(outs), "independent (plain net)"))
        log(f"{name}: feed-forward done")
        strips = {"input": [f.astype(np.float32) / 255.0 for f in clip.frames], **ff}
        if not args.skip_opt:
            ind, spf_ind, _ = run_opt(style, clip, opt_steps, 0.0, frame_lr)
            tmp, spf_tmp, tim = run_opt(style, clip, opt_steps, temporal, frame_lr)
            rows.append((name, f"independent optimisation ({opt_steps} steps/frame)", warping_error(clip, ind),
                         meter(ind), f"independent optimisation ({opt_steps} steps/frame)"))
            rows.append((name, f"optimisation + temporal (weight {temporal:g})", warping_error(clip, tmp), meter(tmp),
                         f"independent optimisation ({opt_steps} steps/frame)"))
            rows[-1] = rows[-1] + (spf_tmp, tim)
            rows[-2] = rows[-2] + (spf_ind, None)
            log(f"{name}: optimisation done ({spf_ind:.1f} / {spf_tmp:.1f} s/frame)")
            strips.update({"independent optimisation": ind, "optimisation + temporal": tmp})
        # Every method's frames, for bench/video_strip.py (the README's strip of frames).
        np.savez_compressed(work / f"frames_{name.split()[0]}.npz",
                            **{k: np.stack(v).astype(np.float16) for k, v in strips.items()})

    # The table: each method against its baseline on the same clip.
    print(f"\nClips: {frames} frames of {hw[1]}x{hw[0]} px, sensor noise sigma {noise}; networks: light, "
          f"{train_steps} training steps at {crop} px crops; optimisation: {opt_steps} Adam steps per frame; "
          f"loss network: random-weight VGG19.\n")
    print("| clip | method | warping error | vs baseline | style loss | vs baseline |")
    print("|---|---|---|---|---|---|")
    base = {(r[0], r[1]): r for r in rows}
    results = []
    for r in rows:
        name, method, werr, sloss, bname = r[:5]
        if bname is None:
            print(f"| {name} | {method} | {werr:.5f} | | | |")
            results.append({"clip": name, "method": method, "warping_error": werr})
            continue
        b = base[(name, bname)]
        wr, sr = werr / b[2], sloss / b[3]
        tag = " (baseline)" if bname == method else ""
        print(f"| {name} | {method}{tag} | {werr:.5f} | {wr:.2f}x | {sloss:.4f} | {sr:.2f}x |")
        results.append({"clip": name, "method": method, "baseline": bname, "warping_error": werr,
                        "style_loss": sloss, "warping_ratio": wr, "style_ratio": sr,
                        "seconds_per_frame": r[5] if len(r) > 5 else None})

    speed = {}
    flows = {}
    if not args.skip_speed:
        sizes = (128, 256) if q else (256, 512)
        speed = speed_ff(work / "net_plain", sizes, 24 if q else 40, blend, work)
        flows = flow_ms(sizes)
        print("\n| size | blend | frames/s (decode + stylise + encode) | ms/frame decode | flow | stylise | write |")
        print("|---|---|---|---|---|---|---|")
        for (size, b), (fps, ms) in speed.items():
            print(f"| {size} | {b:g} | {fps:.2f} | {ms['decode']:.1f} | {ms['flow']:.1f} | {ms['stylize']:.1f} | "
                  f"{ms['write']:.1f} |")
        print("\n| size (16:9) | DIS preset | ms per frame (two flows + mask) |")
        print("|---|---|---|")
        for (size, preset), ms in flows.items():
            print(f"| {size} | {preset} | {ms:.1f} |")
    opt_rows = [r for r in results if r.get("seconds_per_frame")]
    for r in opt_rows:
        print(f"optimisation {r['clip']}: {r['method']}: {r['seconds_per_frame']:.2f} s/frame at {hw[1]}x{hw[0]}")
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s")
    out = Path(args.out)
    if not q:
        out.mkdir(parents=True, exist_ok=True)
        doc = {"clips": {"hw": hw, "frames": frames, "noise": noise}, "train_steps": train_steps,
               "opt_steps": opt_steps, "blend": blend, "temporal_weight": temporal, "frame_lr": frame_lr,
               "train_temporal_weight": args.train_temporal, "rows": results,
               "speed": [{"size": s, "blend": b, "fps": f, "ms": ms} for (s, b), (f, ms) in speed.items()],
               "flow_ms": [{"size": s, "preset": p, "ms": ms} for (s, p), ms in flows.items()]}
        (out / "video.json").write_text(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
