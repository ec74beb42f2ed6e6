"""``tfstyle web`` with an arbitrary-style model: the site (two TF.js graph models, their LiteRT.js
files, the built-in paintings' vectors), native LiteRT on those files, and the page in a real headless
Chromium on LiteRT.js and on TF.js: a painting given by URL or by the file picker, the mix and strength
through the style vector, a corrupt painting, corrupt .tflite files."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from ffdata import TINY_LIGHT_NET
from PIL import Image

from tfstyle.cli.main import main
from tfstyle.config import ArbitraryConfig, WebConfig
from tfstyle.feedforward.arbitrary import (ArbitraryModel, blend_vectors, build_predictor, build_transformer,
                                           save_arbitrary_dir, with_strength)
from tfstyle.io.images import load_image
from tfstyle.web import SiteError
from tfstyle.web.site import MODELS_INDEX, build_site

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import webpage  # noqa: E402

# The prediction network of a machine without ImageNet weights (--predictor auto): VGG19 to block3_conv1.
CONFIG = ArbitraryConfig(style_dim=8, style_image_size=64).resolved(imagenet_found=False)
PHOTO_WH = (134, 101)
# At the prediction network's side already: the page and Keras see the same pixels (no resampling).
PAINTING_WH = (64, 48)
# LiteRT.js: one size, two aspect ratios keep the fixture quick; at size=256 this photo is exactly the
# 4:3 shape, and a square painting at the prediction network's side is its whole fixed input.
LITERT_CONFIG = WebConfig(litert_sizes=(256,), litert_aspects=("4:3", "1:1"))
PHOTO_LITERT_WH = (256, 192)
SQUARE_WH = (64, 64)


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
                          ("udnie", "style/picabia_udnie.jpg", PAINTING_WH),
                          ("photo256", "content/chelsea_cat.png", PHOTO_LITERT_WH),
                          ("scream_sq", "style/munch_the_scream.jpg", SQUARE_WH),
                          ("udnie_sq", "style/picabia_udnie.jpg", SQUARE_WH)):
        with Image.open(shared_images / name) as im:
            im.convert("RGB").resize(wh, Image.Resampling.LANCZOS).save(d / f"{key}.png")
        out[key] = d / f"{key}.png"
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a painting")
    out["broken"] = d / "broken.png"
    return out


@pytest.fixture(scope="module")
def any_site(any_model, files, tmp_path_factory):
    out = tmp_path_factory.mktemp("anyweb") / "site"
    result = build_site([any_model], out, LITERT_CONFIG, style_images=[files["wave"]])
    for key in ("photo", "scream", "udnie", "photo256", "scream_sq", "udnie_sq"):
        (out / f"{key}.png").write_bytes(files[key].read_bytes())
    return result


@pytest.fixture(scope="module")
def model(any_model):
    return ArbitraryModel(any_model)


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    if webpage.chromium_path() is None:
        pytest.fail("Chromium is missing: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as p:
        browser = webpage.launch(p, camera="allow")
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page_of(any_site, chromium):
    with webpage.served(any_site.path) as url:
        pages = []

        def get():
            pages.append(webpage.Page(chromium, url))
            return pages[-1]

        yield get
        for page in pages:
            page.close()


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
    # LiteRT.js: the prediction network at one square shape, the transformer per size and aspect.
    lrt = a["litert"]
    assert lrt["predictor"]["file"] == "models/anystyle/predictor_64.tflite"
    assert lrt["predictor"]["shapes"] == [[64, 64]]
    assert list(lrt["transformer"]) == ["256"]
    assert lrt["transformer"]["256"]["file"] == "models/anystyle/transformer_256.tflite"
    assert lrt["transformer"]["256"]["shapes"] == [[192, 256], [256, 256]]
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.tflite")) == [
        lrt["predictor"]["file"], lrt["transformer"]["256"]["file"]]
    assert a["litert_bytes"] == sum((root / e["file"]).stat().st_size
                                    for e in (lrt["predictor"], lrt["transformer"]["256"]))


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


@pytest.mark.slow
def test_without_litert_sizes_the_site_is_tfjs_only(any_model, files, tmp_path):
    result = build_site([any_model], tmp_path / "site", WebConfig(litert_sizes=()), style_images=[files["wave"]])
    a = json.loads((result.path / MODELS_INDEX).read_text())["arbitrary"]
    assert a["litert"] == {} and a["litert_bytes"] == 0 and not list(result.path.rglob("*.tflite"))


@pytest.mark.slow
def test_native_litert_on_the_site_files_matches_keras(any_site, model, files):
    """The site's prediction network (one square signature) and transformer (a signature per aspect,
    inputs image and style at batch 1) under native LiteRT equal Keras, without the ops that split
    XNNPACK's graph."""
    from ai_edge_litert.interpreter import Interpreter

    from tfstyle.io.images import resize

    root = any_site.path
    lrt = json.loads((root / MODELS_INDEX).read_text())["arbitrary"]["litert"]
    it = Interpreter(model_path=str(root / lrt["predictor"]["file"]), num_threads=2)
    assert list(it.get_signature_list()) == ["s64x64"]
    painting = load_image(files["scream_sq"])
    (vector,) = it.get_signature_runner("s64x64")(image=painting[None]).values()
    want_vector = model.style_vector(painting)
    assert vector.shape == (1, 8)
    np.testing.assert_allclose(vector[0], want_vector, atol=1e-3)
    file = root / lrt["transformer"]["256"]["file"]
    it = Interpreter(model_path=str(file), num_threads=2)
    assert not {o["op_name"] for o in it._get_ops_details()} & {"MIRROR_PAD", "RESIZE_NEAREST_NEIGHBOR"}
    assert sorted(it.get_signature_list()) == ["s192x256", "s256x256"]
    photo = load_image(files["photo"])
    for h, w in ((192, 256), (256, 256)):
        runner = it.get_signature_runner(f"s{h}x{w}")
        shapes = {k: list(v["shape"]) for k, v in runner.get_input_details().items()}
        assert shapes == {"image": [1, h, w, 3], "style": [1, 8]}, shapes
        x = resize(photo, (h, w))
        (y,) = runner(image=x[None], style=want_vector[None]).values()
        want = model.stylize(x, want_vector)
        print(f"native LiteRT {h}x{w}: PSNR", webpage.psnr(y[0], want), "max", float(np.abs(y[0] - want).max()))
        np.testing.assert_allclose(y[0], want, atol=1e-3)


@pytest.mark.slow
def test_litert_runs_both_networks_and_matches_keras(page_of, model, files):
    """Unasked, the page runs the transformer on LiteRT.js with a built-in style's vector, and the
    prediction network there too for a painting (its centre square: the whole of a square one) and for
    the photo's own vector below full strength; runtime=tfjs runs the same site on TF.js."""
    photo = load_image(files["photo256"])[None]
    scream = model.style_vector(load_image(files["scream_sq"]))
    udnie = model.style_vector(load_image(files["udnie_sq"]))
    page = page_of()
    data = page.open("?image=photo256.png&size=256&style=wave&frames=2", timeout_s=180)
    assert data["state"] == "done", (data, page.message(), page.console[-5:])
    assert data["runtime"] == "litert-wasm" and data["build"] == "threads" and float(data["fps"]) > 0, data
    assert "predictor" not in data  # a built-in style: its vector came with the site
    value = webpage.psnr(page.canvas(), model.stylize(photo, model.style_vector(load_image(files["wave"])))[0])
    print("LiteRT.js, built-in style: PSNR", value)
    assert value >= 30
    data = page.open("?image=photo256.png&size=256&style_image=scream_sq.png&runtime=litert&frames=1", timeout_s=120)
    assert data["state"] == "done", (data, page.message())
    assert data["runtime"] == "litert-wasm" and data["predictor"] == "litert-wasm", data
    got = page.canvas()
    want = model.stylize(photo, scream)[0]
    assert got.shape == want.shape
    value, other = webpage.psnr(got, want), webpage.psnr(got, model.stylize(photo, udnie)[0])
    print("LiteRT.js, painting by URL: PSNR", value, "vs another painting", other)
    assert value >= 30 and other < value - 3
    # Strength 0: the photo's own vector, from the input's centre square (192 px of the 256x192 photo).
    p = page.page
    p.evaluate("() => { document.body.dataset.state = 'running'; const s = document.getElementById('strength'); "
               "s.value = '0'; s.dispatchEvent(new Event('input')); }")
    p.wait_for_function(webpage.DONE_OR_ERROR, timeout=60000)
    assert page.dataset()["state"] == "done", page.message()
    own = model.style_vector(photo[0, :, 32:224])
    got = page.canvas()
    weak, whole = webpage.psnr(got, model.stylize(photo, own)[0]), webpage.psnr(got, model.stylize(photo, scream)[0])
    print("LiteRT.js, strength 0: PSNR", weak, "vs strength 1", whole)
    assert weak >= 30 and weak > whole + 3
    assert page.foreign_requests() == []
    assert not [c for c in page.console if c.startswith("pageerror")], page.console
    data = page.open("?image=photo256.png&size=256&style_image=scream_sq.png&runtime=tfjs&frames=1", timeout_s=120)
    assert data["state"] == "done", (data, page.message())
    assert data["runtime"].startswith("tfjs-") and data["predictor"] == data["runtime"], data
    assert webpage.psnr(page.canvas(), want) >= 30


@pytest.mark.slow
def test_webcam_runs_on_litert_at_an_exported_size(page_of):
    """The fake camera (4:3) at 256 px: the transformer's 4:3 signature on LiteRT.js, frame after frame,
    at strength 80 % (the prediction network on each frame's centre square too)."""
    page = page_of()
    page.open("?webcam=1&size=256&style=wave", wait="() => Number(document.body.dataset.frames || 0) >= 2",
              timeout_s=120)
    p = page.page
    p.evaluate("() => { const s = document.getElementById('strength'); s.value = '80'; "
               "s.dispatchEvent(new Event('input')); }")
    # The prediction network is compiled on first use, while frames keep coming with the painting's
    # vector: wait for a frame made with the photo's own vector, then for more frames after it.
    p.wait_for_function("() => document.body.dataset.predictor !== undefined", timeout=120_000)
    after = int(page.dataset()["frames"]) + 3
    p.wait_for_function(f"() => Number(document.body.dataset.frames || 0) >= {after}", timeout=120_000)
    data = page.dataset()
    assert data["state"] == "webcam" and float(data["fps"]) > 0, (data, page.message())
    assert data["runtime"] == "litert-wasm" and data["predictor"] == "litert-wasm", data
    assert page.canvas().shape == (192, 256, 3)


@pytest.mark.slow
def test_corrupt_litert_files_are_a_one_line_error(any_site, chromium, tmp_path):
    """A truncated transformer file and a prediction network file that is no .tflite at all: the page's
    error state names the model and the file, in one line."""
    broken = tmp_path / "site"
    shutil.copytree(any_site.path, broken)
    lrt = json.loads((broken / MODELS_INDEX).read_text())["arbitrary"]["litert"]
    transformer, predictor = broken / lrt["transformer"]["256"]["file"], broken / lrt["predictor"]["file"]
    transformer.write_bytes(transformer.read_bytes()[: transformer.stat().st_size // 2])
    predictor.write_bytes(b"not a flatbuffer at all" * 100)
    cases = [("style=wave", "The style transformer could not be loaded (models/anystyle/transformer_256.tflite)"),
             ("style_image=scream_sq.png",
              "The style-prediction model could not be loaded (models/anystyle/predictor_64.tflite)")]
    with webpage.served(broken) as url:
        page = webpage.Page(chromium, url)
        try:
            for query, words in cases:
                data = page.open(f"?image=photo256.png&size=256&{query}", timeout_s=120)
                assert data["state"].startswith(f"error: {words}"), data
                assert "\n" not in data["state"] and words in page.message(), page.message()
        finally:
            page.close()
