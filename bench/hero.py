"""The README's first picture: what tfstyle does, in one image.

Top row: a photo, a painting, and the result of a real ``tfstyle stylize`` run (the README's first
command, run here in a subprocess). Bottom row: the web app (``docs/web_app.png``, written by
``bench/web_pictures.py``) and a strip of video frames, independent against flow-blended
(``bench/results/video_strip.png``, written by ``bench/video_strip.py``).

    PYTHONPATH=src python bench/hero.py                       # runs stylize (256 px, 100 steps)
    PYTHONPATH=src python bench/hero.py --result out.png      # reuse an output of the same pair

Writes ``docs/images/hero.jpg`` (JPEG: a photographic collage is a third of the PNG's bytes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared" / "images"
CONTENT = SHARED / "content" / "chelsea_cat.png"
STYLE = SHARED / "style" / "vangogh_starry_night.jpg"
WEB = ROOT / "docs" / "web_app.png"
STRIP = ROOT / "bench" / "results" / "video_strip.png"

ROW_H = 240      # height of the top row's pictures
WIDTH = 3 * 320 + 4 * 8
PAD = 8
LABEL_H = 18


def _run_stylize(out: Path, size: int, steps: int) -> float:
    """Run the README's first command; return its wall time in seconds."""
    cmd = [sys.executable, "-m", "tfstyle", "stylize", str(CONTENT), str(STYLE), "-o", str(out),
           "--size", str(size), "--steps", str(steps), "--overwrite"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return time.perf_counter() - t0


def _fit_height(im: Image.Image, h: int) -> Image.Image:
    return im.convert("RGB").resize((max(1, round(im.width * h / im.height)), h), Image.LANCZOS)


def _fit_width(im: Image.Image, w: int) -> Image.Image:
    return im.convert("RGB").resize((w, max(1, round(im.height * w / im.width))), Image.LANCZOS)


def _strip_rows(strip: Image.Image, keep: int) -> Image.Image:
    """The video strip's first ``keep`` rows (title line, then label + frames per method)."""
    # The strip is drawn by bench/video_strip.py: a title line, then per method a label line and a
    # row of frames; rows are found as runs of non-white lines.
    grey = strip.convert("L")
    w, h = grey.size
    px = grey.load()
    busy = [any(px[x, y] < 250 for x in range(0, w, 2)) for y in range(h)]
    runs, y = [], 0
    while y < h:
        if busy[y]:
            y0 = y
            while y < h and busy[y]:
                y += 1
            runs.append((y0, y))
        y += 1
    # Runs: title, then (label, frames) pairs; keep the title and `keep` methods.
    end = runs[min(len(runs) - 1, 2 * keep)][1] + 2
    return strip.crop((0, 0, w, end))


def build(result: Path, out: Path) -> Image.Image:
    pics = [("photo", Image.open(CONTENT)), ("painting", Image.open(STYLE)),
            ("tfstyle stylize", Image.open(result))]
    top = [(t, _fit_height(im, ROW_H)) for t, im in pics]
    # Scale the top row to WIDTH as a whole.
    top_w = sum(im.width for _, im in top) + PAD * (len(top) + 1)
    scale = WIDTH / top_w
    top = [(t, im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)) for t, im in top]
    top_h = max(im.height for _, im in top)

    web = Image.open(WEB)
    strip = _strip_rows(Image.open(STRIP), keep=3)
    half = (WIDTH - 3 * PAD) // 2
    web = _fit_width(web, half)
    strip = _fit_width(strip, half)
    bottom_h = max(web.height, strip.height)

    height = PAD + LABEL_H + top_h + PAD + LABEL_H + bottom_h + PAD
    canvas = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(canvas)
    x = PAD
    for title, im in top:
        draw.text((x, PAD + 2), title, fill="black")
        canvas.paste(im, (x, PAD + LABEL_H))
        x += im.width + PAD
    y = PAD + LABEL_H + top_h + PAD
    draw.text((PAD, y + 2), "tfstyle web: the page, offline in the browser", fill="black")
    canvas.paste(web, (PAD, y + LABEL_H))
    draw.text((2 * PAD + half, y + 2), "tfstyle video: frames without flicker", fill="black")
    canvas.paste(strip, (2 * PAD + half, y + LABEL_H))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    canvas.save(tmp, format="JPEG", quality=85, optimize=True, progressive=True)
    tmp.replace(out)
    return canvas


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--result", type=Path, help="an existing stylize output of the cat and the starry night")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "hero.jpg")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = args.result
        if result is None:
            result = Path(tmp) / "stylized.png"
            secs = _run_stylize(result, args.size, args.steps)
            print(f"stylize {args.size} px, {args.steps} steps: {secs:.1f} s")
        canvas = build(result, args.out)
    print(f"wrote {args.out} ({canvas.width}x{canvas.height}, {args.out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
