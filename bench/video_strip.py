"""The README's strip of frames: independent frames against temporally consistent ones.

Reads the frames ``bench/bench_video.py --keep DIR`` saved (``DIR/frames_pan.npz``: every method's
outputs on the synthetic pan) and draws, per method, consecutive frames and beside them the
flicker: the difference between each frame and the previous frame warped onto it by the exact
flow (magnified 4x), the quantity the warping error averages.

    PYTHONPATH=src python bench/bench_video.py --keep /tmp/bv
    PYTHONPATH=src python bench/video_strip.py /tmp/bv --out bench/results/video_strip.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

ROWS = [("input", "input (pan, sensor noise)"),
        ("independent (plain net)", "network, frames independent"),
        ("blend", "network + flow-guided blend"),
        ("temporal net (trained", "network trained with the temporal loss"),
        ("independent optimisation", "optimisation, frames independent"),
        ("optimisation + temporal", "optimisation + temporal loss (Ruder et al.)")]


def main(argv=None) -> int:
    from tfstyle.video.flow import warp

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("keep", help="the folder given to bench_video.py --keep")
    ap.add_argument("--clip", default="pan")
    ap.add_argument("--frames", type=int, default=4, help="consecutive frames per row")
    ap.add_argument("--start", type=int, default=4, help="first frame shown")
    ap.add_argument("--out", default=str(HERE / "results" / "video_strip.png"))
    args = ap.parse_args(argv)

    data = np.load(Path(args.keep) / f"frames_{args.clip}.npz")
    import json

    doc = json.loads((Path(args.keep) / "results" / "video.json").read_text()) \
        if (Path(args.keep) / "results" / "video.json").exists() else None
    hw = tuple(data["input"].shape[1:3])
    frames = data["input"].shape[0]
    # The exact flow of the pan, from the benchmark's clip generator.
    from bench_video import SHARED
    from video_clips import motion_clip

    from tfstyle.io.images import load_image

    clip = motion_clip(load_image(SHARED / "content" / "chelsea_cat.png"), hw, frames, "pan", 1.3, 0.02)
    h, w = hw
    pad, label_h = 4, 16
    n = args.frames
    cols = n + n - 1  # frames, then the differences between consecutive ones
    rows = []
    for key, title in ROWS:
        match = [k for k in data.files if k.startswith(key)]
        if not match:
            continue
        rows.append((title, data[match[0]].astype(np.float32)))
    width = cols * (w + pad) + pad + 8
    height = len(rows) * (h + label_h + pad) + pad + label_h
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((pad, 2), f"frames {args.start} to {args.start + n - 1}", fill="black")
    draw.text((pad + n * (w + pad) + 8, 2), "flicker: |frame - previous frame warped onto it| x 4", fill="black")
    y = label_h + pad
    for title, outs in rows:
        errs = []
        for t in range(args.start + 1, args.start + n):
            d = np.sum((outs[t] - warp(outs[t - 1], clip.flows[t])) ** 2, axis=-1)
            errs.append(float(np.sum(d * clip.masks[t]) / clip.masks[t].sum()))
        draw.text((pad, y), f"{title}: warping error {np.mean(errs):.4f}", fill="black")
        y += label_h
        x = pad
        for t in range(args.start, args.start + n):
            canvas.paste(Image.fromarray((np.clip(outs[t], 0, 1) * 255 + 0.5).astype(np.uint8)), (x, y))
            x += w + pad
        x += 8
        for t in range(args.start + 1, args.start + n):
            diff = np.abs(outs[t] - warp(outs[t - 1], clip.flows[t])) * clip.masks[t][..., None]
            canvas.paste(Image.fromarray((np.clip(diff * 4, 0, 1) * 255 + 0.5).astype(np.uint8)), (x, y))
            x += w + pad
        y += h + pad
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # 256 colours (no dithering): a third of the bytes of the RGB image, no visible change at this size.
    canvas.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)
    print(f"wrote {out} ({canvas.size[0]}x{canvas.size[1]})" + (f"; run of {doc['clips']}" if doc else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
