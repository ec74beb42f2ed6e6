"""The README's pictures of the web app: train two light networks on the sample photos, write the
site with ``tfstyle.web.site.build_site``, stylise a photo through the app's test mode in headless
Chromium (the same driver as the browser tests, ``bench/webpage.py``) and save screenshots.

    PYTHONPATH=src python bench/web_pictures.py [--steps 300] [--out docs]

Writes ``web_app.png`` (a laptop-sized window) and ``web_app_phone.png`` (a phone-sized one), and
prints the site's size and the frames per second the page showed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
SHARED = HERE.parents[1] / "shared" / "images"
STYLES = ("picabia_udnie.jpg", "hokusai_great_wave.jpg")
PHOTO = "chelsea_cat.png"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300, help="training steps per style")
    ap.add_argument("--image-size", type=int, default=128, help="training crop size")
    ap.add_argument("--size", type=int, default=384, help="processing size on the page")
    ap.add_argument("--models", nargs="*", help="use these model folders instead of training")
    ap.add_argument("--out", default=str(HERE.parent / "docs"))
    args = ap.parse_args(argv)

    import webpage
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from tfstyle import TrainConfig, train
    from tfstyle.web.site import build_site

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tfstyle-web-pictures-") as tmp:
        tmp = Path(tmp)
        models = [Path(m) for m in args.models or []]
        if not models:
            for style in STYLES:
                d = tmp / Path(style).stem.split("_", 1)[1]
                cfg = TrainConfig(arch="light", steps=args.steps, batch_size=2, image_size=args.image_size,
                                  style_size=256, lr=5e-3, checkpoint_every=args.steps, strategy="default")
                r = train(SHARED / "style" / style, SHARED / "content", d, cfg)
                print(f"trained {d.name}: {r.stop_reason}, loss {r.history['total'][-1]:.3g}", file=sys.stderr)
                models.append(d)
        site = build_site(models, tmp / "site").path
        with Image.open(SHARED / "content" / PHOTO) as im:
            im.convert("RGB").save(site / "photo.png")
        size_mb = sum(p.stat().st_size for p in site.rglob("*") if p.is_file() and p.name != "photo.png") / 1e6
        with sync_playwright() as p, webpage.served(site) as base:
            browser = webpage.launch(p, camera=None)
            try:
                for name, viewport in (("web_app.png", (1100, 720)), ("web_app_phone.png", (390, 844))):
                    page = webpage.Page(browser, base, viewport=viewport)
                    data = page.open(f"?image=photo.png&size={args.size}&frames=5")
                    if data.get("state") != "done":
                        raise SystemExit(f"the page ended in state {data.get('state')!r}")
                    page.page.screenshot(path=str(out / name), full_page=name.endswith("phone.png"))
                    print(f"{out / name}: backend {data['backend']}, {data['fps']} fps", file=sys.stderr)
                    page.close()
            finally:
                browser.close()
        print(f"site {size_mb:.2f} MB without the photo", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
