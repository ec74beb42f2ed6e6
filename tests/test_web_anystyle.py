"""``tfstyle web`` with an arbitrary-style model: the site (two TF.js graph models, the built-in
paintings' vectors) and the page in a real headless Chromium: a painting given by URL or by the file
picker, the mix and strength through the style vector, a corrupt painting."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from ffdata import TINY_LIGHT_NET
from PIL import Image

from tfstyle.cli.main import main
from tfstyle.config import ArbitraryConfig
from tfstyle.feedforward.arbitrary import (ArbitraryModel, blend_vectors, build_predictor, build_transformer,
                                           save_arbitrary_dir, with_strength)
from tfstyle.io.images import load_image
from tfstyle.web import SiteError
from tfstyle.web.site import MODELS_INDEX, build_site

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import webpage  # noqa: E402

TINY_CUT = "block2b_add"  # a shallow cut of the prediction network, as tests/test_anystyle.py
CONFIG = ArbitraryConfig(style_dim=8, style_image_size=64, predictor_layer=TINY_CUT)
PHOTO_WH = (134, 101)
# At the prediction network's side already: the page and Keras see the same pixels (no resampling).
PAINTING_WH = (64, 48)


@pytest.fixture(scope="module")
def any_model(tmp_path_factory):
    """An arbitrary-style model with fixed-seed random weights (the vector conditions every layer)."""
    predictor = build_predictor(CONFIG, None, random_init=True)
    transformer = build_transformer(TINY_LIGHT_NET, CONFIG.style_dim, seed=3)
    return save_arbitrary_dir(predictor, transformer, TINY_LIGHT_NET, CONFIG,
                              tmp_path_factory.mktemp("any") / "anystyle", {})


@pytest.fixture(scope="module")
def files(tmp_path_factory, shared_images):
    d = tmp_path_factory.mktemp("anyfiles")
    out = {}
    for key, name, wh in (("photo", "content/chelsea_cat.png", PHOTO_WH),
                          ("wave", "style/hokusai_great_wave.jpg", PAINTING_WH),
                          ("scream", "style/munch_the_scream.jpg", PAINTING_WH),
                          ("udnie", "style/picabia_udnie.jpg", PAINTING_WH)):
        with Image.open(shared_images / name) as im:
            im.convert("RGB").resize(wh, Image.Resampling.LANCZOS).save(d / f"{key}.png")
        out[key] = d / f"{key}.png"
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a painting")
    out["broken"] = d / "broken.png"
    return out


@pytest.fixture(scope="module")
def any_site(any_model, files, tmp_path_factory):
    out = tmp_path_factory.mktemp("anyweb") / "site"
    result = build_site([any_model], out, style_images=[files["wave"]])
    for key in ("photo", "scream", "udnie"):
        (out / f"{key}.png").write_bytes(files[key].read_bytes())
    return result


@pytest.fixture(scope="module")
def model(any_model):
    return ArbitraryModel(any_model)


@pytest.fixture(scope="module")
def page_of(any_site):
    from playwright.sync_api import sync_playwright

    if webpage.chromium_path() is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as p, webpage.served(any_site.path) as url:
        browser = webpage.launch(p, camera="allow")
        pages = []

        def get():
            pages.append(webpage.Page(browser, url))
            return pages[-1]

        yield get
        for page in pages:
            page.close()
        browser.close()


@pytest.mark.slow
def test_site_holds_both_models_and_the_built_in_vectors(any_site, model, files):
    root = any_site.path
    index = json.loads((root / MODELS_INDEX).read_text())
    a = index["arbitrary"]
    assert (root / a["predictor"]).is_file() and (root / a["transformer"]).is_file()
    assert a["style_dim"] == 8 and a["style_image_size"] == 64
    [style] = index["styles"]
    assert style["name"] == "wave" and (root / style["thumbnail"]).is_file()
    np.testing.assert_allclose(style["vector"], model.style_vector(load_image(files["wave"])), atol=1e-5)
    assert not list(root.rglob("*.tflite"))  # TF.js only (web/anystyle.py)


@pytest.mark.slow
def test_kinds_of_models_and_style_flags_that_do_not_go_together(any_model, web_models, files, tmp_path, capsys):
    with pytest.raises(SiteError, match="on its own"):
        build_site([any_model, web_models["light"]], tmp_path / "a")
    with pytest.raises(SiteError, match="arbitrary-style model"):
        build_site([web_models["light"]], tmp_path / "b", style_images=[files["wave"]])
    assert main(["web", str(any_model), "-o", str(tmp_path / "c"), "--style", str(tmp_path / "none.jpg")]) == 2
    assert "none.jpg: no such file" in capsys.readouterr().err
    assert main(["web", str(any_model), "-o", str(tmp_path / "d"), "--style", str(files["broken"])]) == 2
    err = capsys.readouterr().err
    assert "broken.png" in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.slow
def test_test_mode_with_a_style_image_matches_keras(page_of, model, files):
    """?image=&style_image= computes the painting's vector in the page and stylises with it: the canvas
    equals the Keras model with that painting's vector; another painting's picture does not."""
    photo = load_image(files["photo"])[None]
    want = model.stylize(photo, model.style_vector(load_image(files["scream"])))[0]
    other = model.stylize(photo, model.style_vector(load_image(files["udnie"])))[0]
    page = page_of()
    data = page.open("?image=photo.png&style_image=scream.png&frames=2&backend=wasm", timeout_s=180)
    assert data["state"] == "done", (data, page.message(), page.console[-5:])
    assert data["runtime"] == "tfjs-wasm" and float(data["fps"]) > 0, data
    got = page.canvas()
    assert got.shape == want.shape
    print("arbitrary style in the page: PSNR", webpage.psnr(got, want), "vs another painting", webpage.psnr(got, other))
    assert webpage.psnr(got, want) >= 30
    assert webpage.psnr(got, other) < webpage.psnr(got, want) - 3
    assert page.foreign_requests() == []
    # The built-in style: its precomputed vector.
    data = page.open("?image=photo.png&style=wave&frames=1&backend=wasm", timeout_s=120)
    assert data["state"] == "done", (data, page.message())
    want = model.stylize(photo, model.style_vector(load_image(files["wave"])))[0]
    assert webpage.psnr(page.canvas(), want) >= 30


@pytest.mark.slow
def test_picker_mix_strength_and_a_corrupt_painting(page_of, model, files):
    """The file picker takes a painting; a second one and the mix slider give the weighted mean of the
    vectors, the strength slider the interpolation with the photo's own; a corrupt file is one line."""
    photo = load_image(files["photo"])[None]
    page = page_of()
    data = page.open("?image=photo.png&style=wave&frames=1&backend=wasm", timeout_s=120)
    assert data["state"] == "done", (data, page.message())
    p = page.page
    p.set_input_files("#painting-file", str(files["scream"]))
    p.set_input_files("#painting2-file", str(files["udnie"]))
    p.wait_for_function("() => !document.getElementById('mix').disabled")
    p.evaluate("() => { document.body.dataset.state = 'running'; const m = document.getElementById('mix'); "
               "m.value = '30'; m.dispatchEvent(new Event('input')); }")
    p.wait_for_function(webpage.DONE_OR_ERROR, timeout=60000)
    v = blend_vectors([model.style_vector(load_image(files["scream"])), model.style_vector(load_image(files["udnie"]))],
                      [0.7, 0.3])
    assert page.dataset()["state"] == "done", page.message()
    got = page.canvas()
    scream = model.stylize(photo, model.style_vector(load_image(files["scream"])))[0]
    mixed = webpage.psnr(got, model.stylize(photo, v)[0])
    print("mix: PSNR", mixed, "vs the first painting alone", webpage.psnr(got, scream))
    # The random network's pictures of two paintings differ little: the match must beat the nearest
    # wrong answer, not only clear the canvas's 8-bit floor.
    assert mixed >= 30 and mixed > webpage.psnr(got, scream) + 3
    # Strength 0: the photo's own vector (computed from the page's 8-bit input canvas).
    p.evaluate("() => { document.body.dataset.state = 'running'; const s = document.getElementById('strength'); "
               "s.value = '0'; s.dispatchEvent(new Event('input')); }")
    p.wait_for_function(webpage.DONE_OR_ERROR, timeout=60000)
    own = with_strength(v, model.photo_vectors(photo), 0.0)
    got = page.canvas()
    weak = webpage.psnr(got, model.stylize(photo, own[0])[0])
    print("strength 0: PSNR", weak, "vs strength 1", webpage.psnr(got, model.stylize(photo, v)[0]))
    assert weak >= 30 and weak > webpage.psnr(got, model.stylize(photo, v)[0]) + 3
    p.set_input_files("#painting-file", str(files["broken"]))
    p.wait_for_function("() => document.body.dataset.state.startsWith('error')", timeout=30000)
    assert "broken.png is not an image" in page.message() and "\n" not in page.message()
    assert "broken.png" in page.dataset()["state"]


@pytest.mark.slow
def test_webcam_with_your_own_painting_runs_live_without_leaks(page_of, files):
    """The fake camera through the transformer with a painting from the picker, at strength 80 % (both
    networks every frame): frames come, and no tensors leak between them."""
    page = page_of()
    page.open("?size=128&backend=wasm", wait="() => document.body.dataset.state === 'ready'")
    p = page.page
    p.set_input_files("#painting-file", str(files["scream"]))
    p.wait_for_function("() => document.getElementById('painting-name').textContent.includes('scream')",
                        timeout=60_000)
    p.evaluate("() => { const s = document.getElementById('strength'); s.value = '80'; "
               "s.dispatchEvent(new Event('input')); }")
    p.click("#webcam")
    p.wait_for_function("() => Number(document.body.dataset.frames || 0) >= 3", timeout=120_000)
    first = page.dataset()
    p.wait_for_function("() => Number(document.body.dataset.frames || 0) >= 8", timeout=120_000)
    later = page.dataset()
    assert later["state"] == "webcam" and float(later["fps"]) > 0, (later, page.message())
    assert later["tensors"] == first["tensors"], "no tensors leak from frame to frame"
    assert page.canvas().shape[1] == 128
