"""The front page: short, its links and pictures present, its first picture drawn by bench/hero.py.

(The documentation site itself is checked by `mkdocs build --strict` in CI: broken links, missing
headings and API references to names that do not exist fail that build.)
"""

import re
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
sys.path.insert(0, str(ROOT / "bench"))

import hero  # noqa: E402

# Markdown links and images: [text](target) / ![alt](target); external and in-page ones excluded.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _relative_targets(text: str) -> list[str]:
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:|#", t)]


def test_readme_is_a_short_front_page_with_a_picture_first():
    lines = README.read_text().splitlines()
    assert len(lines) <= 250
    first_block = next(i for i, line in enumerate(lines) if line.startswith(("```", "## ")))
    pictures = [i for i, line in enumerate(lines) if line.startswith("![")]
    assert pictures and pictures[0] < first_block, "the first thing after the title is a picture"


def test_readme_links_point_at_files_that_exist():
    targets = _relative_targets(README.read_text())
    assert any(t.startswith("docs/") for t in targets)
    missing = [t for t in targets if not (ROOT / t.split("#")[0]).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_link_pattern_finds_relative_links_only():
    text = "![a](docs/a.png) [b](docs/b.md#x) [c](https://example.org) [d](#here) [e](../e.md)"
    assert _relative_targets(text) == ["docs/a.png", "docs/b.md#x", "../e.md"]


def test_hero_composes_the_three_pictures(tmp_path, content_path):
    out = tmp_path / "hero.jpg"
    canvas = hero.build(content_path, out)
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.size == canvas.size
        assert im.width == hero.WIDTH
        pixels = im.convert("L").resize((64, 64))
    # Photo, painting, result, page and strip fill the canvas: it is not mostly white margin.
    assert sum(pixels.getdata()) / 64 ** 2 < 200
    assert out.stat().st_size < 400_000
