"""Which weight-free loss network gives the best result: a contact sheet and two numbers per output.

    PYTHONPATH=src python bench/offline.py --out bench/results            # 3 pairs x every configuration
    PYTHONPATH=src python bench/offline.py --size 96 --steps 10 --configs vgg19-max,resnet50-softmax  # quick

No ImageNet weights can be had offline, so every network here is its fixed-seed random variant. Each
configuration stylises the README's three image pairs with the same settings (``--size``,
``--steps``, Adam, the defaults otherwise) and gets two numbers:

* **colour moved**: how far the output's colour distribution moved from the content's toward the
  style's, ``1 - SWD(output, style) / SWD(content, style)``, with SWD the sliced Wasserstein distance
  of the RGB pixel distributions (128 random directions, the same for every image). 0: the content's
  colours; 1: the style's.
* **flat-region noise**: high-frequency energy (the squared difference between the image and its
  3x3 box blur) in the content's flat regions (the 30% of pixels where the content's own
  high-frequency energy, blurred, is lowest), divided by the content's there. 1: as smooth as the
  photo; above: grain and speckle that random filters tend to add.

It writes ``offline.json``, the outputs (``offline/<pair>-<configuration>.png``) and a contact sheet
``offline.png`` (content, style, one output per configuration, each labelled with its two numbers)
to ``--out``; ``--replot`` redraws the sheet from them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
IMAGES = HERE.parent.parent / "shared" / "images"
PAIRS = [("chelsea_cat.png", "vangogh_starry_night.jpg"), ("astronaut_eileen_collins.png", "hokusai_great_wave.jpg"),
         ("coffee_cup.png", "kandinsky_composition_vii.jpg")]
# name -> StylizeConfig fields (every one with backbone="random").
CONFIGS = {
    "vgg19-max": dict(network="vgg19", pooling="max"),
    "vgg19-avg": dict(network="vgg19", pooling="avg"),
    "vgg16-max": dict(network="vgg16", pooling="max"),
    "resnet50-none": dict(network="resnet50", smoothing="none"),
    "resnet50-softmax": dict(network="resnet50", smoothing="softmax"),
    "efficientnetb0-softmax": dict(network="efficientnetb0", smoothing="softmax"),
}


def swd(a: np.ndarray, b: np.ndarray, directions: np.ndarray, n: int = 20000, seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance between the RGB pixel sets of two images (any sizes)."""
    rng = np.random.default_rng(seed)
    pa = a.reshape(-1, 3)[rng.integers(0, a.shape[0] * a.shape[1], n)]
    pb = b.reshape(-1, 3)[rng.integers(0, b.shape[0] * b.shape[1], n)]
    qa, qb = np.sort(pa @ directions.T, axis=0), np.sort(pb @ directions.T, axis=0)  # (n, D)
    return float(np.mean(np.abs(qa - qb)))


def _box3(x: np.ndarray) -> np.ndarray:
    p = np.pad(x, ((1, 1), (1, 1)) + ((0, 0),) * (x.ndim - 2), mode="edge")
    return sum(p[i:i + x.shape[0], j:j + x.shape[1]] for i in range(3) for j in range(3)) / 9.0


def high_freq(img: np.ndarray) -> np.ndarray:
    """Per-pixel high-frequency energy: squared difference to the 3x3 box blur, summed over RGB."""
    return np.sum((img - _box3(img)) ** 2, axis=-1)


def flat_noise(out: np.ndarray, content: np.ndarray, fraction: float = 0.3) -> float:
    hf_c = high_freq(content)
    flat = _box3(_box3(hf_c)) <= np.quantile(_box3(_box3(hf_c)), fraction)
    return float(high_freq(out)[flat].mean() / (hf_c[flat].mean() + 1e-12))


def measure(out, content, style, directions) -> dict:
    base = swd(content, style, directions)
    return {"colour_moved": 1.0 - swd(out, style, directions) / base, "flat_noise": flat_noise(out, content)}


def run(a) -> dict:
    import tfstyle
    from tfstyle.io.images import load_image, output_shape, resize, save_image

    rng = np.random.default_rng(0)
    directions = rng.standard_normal((128, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    results = {"args": {"size": a.size, "steps": a.steps}, "pairs": [], "configs": a.configs}
    (a.out / "offline").mkdir(parents=True, exist_ok=True)
    images = {}
    for c_name, s_name in PAIRS:
        content = load_image(IMAGES / "content" / c_name)
        style = load_image(IMAGES / "style" / s_name)
        c_small = resize(content, output_shape(content.shape[:2], a.size))
        row = {"content": c_name, "style": s_name, "outputs": {}}
        images[(c_name, "content")] = c_small
        images[(c_name, "style")] = resize(style, output_shape(style.shape[:2], a.size))
        for name in a.configs:
            cfg = tfstyle.StylizeConfig(size=a.size, steps=a.steps, backbone="random", **CONFIGS[name])
            t0 = time.perf_counter()
            res = tfstyle.stylize(content, style, cfg)
            seconds = time.perf_counter() - t0
            m = measure(res.image, c_small, images[(c_name, "style")], directions)
            m.update(seconds=seconds, final_loss=res.history["total"][-1])
            row["outputs"][name] = m
            images[(c_name, name)] = res.image
            save_image(res.image, a.out / "offline" / f"{Path(c_name).stem}-{name}.png")
            print(f"{c_name:30s} {name:24s} colour moved {m['colour_moved']:.3f} flat noise {m['flat_noise']:.2f} "
                  f"({seconds:.0f} s)", file=sys.stderr, flush=True)
        results["pairs"].append(row)
    results["mean"] = {name: {k: float(np.mean([p["outputs"][name][k] for p in results["pairs"]]))
                              for k in ("colour_moved", "flat_noise")} for name in a.configs}
    a.out.mkdir(parents=True, exist_ok=True)
    sheet(images, results, a.out / "offline.png")
    return results


def sheet(images: dict, results: dict, path: Path, cell: int = 220) -> None:
    """Rows: image pairs; columns: content, style, one output per configuration, labelled beneath."""
    from PIL import Image, ImageDraw

    from tfstyle.io.images import to_uint8

    cols = ["content", "style"] + results["configs"]
    thumbs = {}
    for pair in results["pairs"]:
        for name in cols:
            img = Image.fromarray(to_uint8(images[(pair["content"], name)]))
            img.thumbnail((cell - 6, cell - 6))
            thumbs[(pair["content"], name)] = img
    label_h = 32
    heights = [max(thumbs[(p["content"], n)].size[1] for n in cols) + label_h + 8 for p in results["pairs"]]
    canvas = Image.new("RGB", (cell * len(cols), 22 + sum(heights)), "white")
    draw = ImageDraw.Draw(canvas)
    for j, name in enumerate(cols):
        draw.text((j * cell + 6, 5), name, fill="black")
    y = 22
    for pair, row_h in zip(results["pairs"], heights):
        for j, name in enumerate(cols):
            img = thumbs[(pair["content"], name)]
            canvas.paste(img, (j * cell + 3, y + 3))
            below = y + img.size[1] + 6
            if name in pair["outputs"]:
                m = pair["outputs"][name]
                draw.text((j * cell + 6, below), f"colour moved {m['colour_moved']:.2f}", fill="black")
                draw.text((j * cell + 6, below + 14), f"flat noise {m['flat_noise']:.1f}x", fill="black")
            else:
                draw.text((j * cell + 6, below), pair[name], fill="black")
        y += row_h
    tmp = path.with_suffix(".tmp.png")
    canvas.save(tmp)
    tmp.replace(path)


def replot(out: Path) -> None:
    """Redraw the sheet from ``offline.json`` and the saved outputs."""
    from tfstyle.io.images import load_image, output_shape, resize

    results = json.loads((out / "offline.json").read_text())
    size = results["args"]["size"]
    images = {}
    for pair in results["pairs"]:
        for kind in ("content", "style"):
            img = load_image(IMAGES / kind / pair[kind])
            images[(pair["content"], kind)] = resize(img, output_shape(img.shape[:2], size))
        for name in results["configs"]:
            images[(pair["content"], name)] = load_image(out / "offline" / f"{Path(pair['content']).stem}-{name}.png")
    sheet(images, results, out / "offline.png")


def table(results: dict) -> str:
    lines = ["| configuration | " + " | ".join(f"{p['content'].split('.')[0]}: colour moved / flat noise"
                                               for p in results["pairs"]) + " | mean colour moved | mean flat noise |",
             "|---|" + "---|" * (len(results["pairs"]) + 2)]
    for name in results["configs"]:
        cells = [f"{p['outputs'][name]['colour_moved']:.2f} / {p['outputs'][name]['flat_noise']:.1f}x"
                 for p in results["pairs"]]
        mean = results["mean"][name]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {mean['colour_moved']:.2f} | {mean['flat_noise']:.1f}x |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="weight-free loss networks compared on three image pairs")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated names of CONFIGS")
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--replot", action="store_true", help="redraw offline.png from offline.json and the outputs")
    a = p.parse_args(argv)
    if a.replot:
        replot(a.out)
        print(f"wrote {a.out / 'offline.png'}")
        return 0
    a.configs = [c.strip() for c in a.configs.split(",") if c.strip()]
    unknown = [c for c in a.configs if c not in CONFIGS]
    if unknown:
        p.error(f"unknown configuration {unknown[0]!r}; known: {', '.join(CONFIGS)}")
    results = run(a)
    (a.out / "offline.json").write_text(json.dumps(results, indent=1))
    print(f"size {a.size}, {a.steps} Adam steps, random weights (fixed seed)\n")
    print(table(results))
    print(f"\nwrote {a.out / 'offline.json'} and {a.out / 'offline.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
