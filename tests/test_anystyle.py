"""Arbitrary style (one network for every painting): the model, its folder, training on a folder of
paintings, apply/export with style images, TFLite and TF.js parity, and the bad inputs."""

import contextlib
import io
import json
import shutil
import subprocess

import numpy as np
import pytest
from ffdata import TINY_LIGHT_NET, TINY_NET, TINY_TRAIN, make_photos
from PIL import Image
from webdata import node_modules, psnr

from tfstyle.cli.main import main
from tfstyle.config import (NETWORK_PRESETS, PREDICTOR_AUTO, PREDICTOR_FALLBACK, PREDICTOR_LAYERS, ArbitraryConfig,
                            ConfigError)
from tfstyle.feedforward.arbitrary import (ArbitraryModel, blend_vectors, build_predictor, build_transformer,
                                           save_arbitrary_dir, with_strength)
from tfstyle.feedforward.networks import ModelError, build_transform_net, model_kind, save_model_dir
from tfstyle.io.images import load_image, resize

# A shallow cut of the prediction network: the same code paths, seconds instead of a minute to convert.
TINY_CUT = "block2b_add"
TINY_ANY = ArbitraryConfig(style_dim=8, style_image_size=64, predictor="efficientnetb0", predictor_layer=TINY_CUT)
PAINTINGS = ("hokusai_great_wave.jpg", "kandinsky_composition_vii.jpg", "munch_the_scream.jpg",
             "picabia_udnie.jpg", "vangogh_starry_night.jpg")


def write_paintings(folder, shared, names=PAINTINGS, strip=True, corrupt=True):
    """Small copies of the shared paintings in subfolders, a corrupt file and a 1 x 50000 px strip."""
    for i, name in enumerate(names):
        sub = folder / f"artist{i % 2}"
        sub.mkdir(parents=True, exist_ok=True)
        with Image.open(shared / "style" / name) as im:
            im.convert("RGB").resize((96, 80)).save(sub / (name.rsplit(".", 1)[0] + (".png" if i % 2 else ".jpg")))
    if corrupt:
        (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a painting")
    if strip:
        Image.new("RGB", (50000, 1), (200, 30, 30)).save(folder / "strip.png")
    return folder


@pytest.fixture(scope="module")
def paintings(tmp_path_factory, shared_images):
    return write_paintings(tmp_path_factory.mktemp("paintings"), shared_images)


@pytest.fixture(scope="module")
def photos(tmp_path_factory, shared_images):
    return make_photos(tmp_path_factory.mktemp("photos"), shared_images, n=6)


TRAIN_SAID: list[str] = []  # what the `trained` fixture's command wrote to stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory, paintings, photos):
    """A light arbitrary-style model trained a few steps through the command line."""
    d = tmp_path_factory.mktemp("any") / "model"
    argv = ["train", "--styles", paintings, "--data", photos, "-o", d, "--arch", "light", "--steps", "4",
            "--batch-size", "2", "--image-size", "32", "--style-size", "64", "--lr", "0.01", "--checkpoint-every", "2",
            "--content-layers", "block2_conv2", "--style-layers", "block1_conv1,block2_conv1",
            "--backbone", "random", "--precision", "float32", "--strategy", "default", "--style-dim", "8",
            "--style-image-size", "64", "-q"]  # predictor auto: no EfficientNetB0 weights here
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main([str(a) for a in argv]) == 0
    TRAIN_SAID.append(err.getvalue())
    return d


@pytest.fixture(scope="module")
def model(trained):
    return ArbitraryModel(trained)


def real(shared, name, hw):
    return resize(load_image(shared / name), hw)


def test_blend_and_strength_are_the_vector_arithmetic():
    v = np.array([[1, 0, 2], [3, 4, -2]], np.float32)
    np.testing.assert_allclose(blend_vectors(v), [2, 2, 0])
    np.testing.assert_allclose(blend_vectors(v, [0.7, 0.3]), 0.7 * v[0] + 0.3 * v[1], rtol=1e-6)
    np.testing.assert_allclose(blend_vectors(v, [3, 1]), 0.75 * v[0] + 0.25 * v[1], rtol=1e-6)
    photo = np.array([[0, 0, 0], [1, 1, 1]], np.float32)
    np.testing.assert_allclose(with_strength(v[0], photo, 1.0), [v[0], v[0]])
    np.testing.assert_allclose(with_strength(v[0], photo, 0.0), photo)
    np.testing.assert_allclose(with_strength(v[0], photo, 0.25)[1], 0.25 * v[0] + 0.75, rtol=1e-6)
    for bad in ([1.0], [-1, 2], [0, 0]):
        with pytest.raises(ConfigError):
            blend_vectors(v, bad)
    with pytest.raises(ConfigError):
        with_strength(v[0], photo, 1.5)


@pytest.mark.slow
def test_shapes_any_size_and_the_folder_round_trip(tmp_path):
    config = ArbitraryConfig(style_dim=6, predictor="efficientnetb0", predictor_layer=TINY_CUT)
    predictor = build_predictor(config, None, random_init=False)
    transformer = build_transformer(TINY_NET, 6, seed=3)
    rng = np.random.default_rng(0)
    styles = rng.random((2, 50, 70, 3), dtype=np.float32)
    photos = rng.random((2, 37, 50, 3), dtype=np.float32)  # not multiples of 4
    v = np.asarray(predictor(styles))
    assert v.shape == (2, 6) and np.all(np.isfinite(v))
    # Normalised before the bottleneck: O(1) vectors whatever the backbone's scale (see arbitrary.py).
    assert np.abs(v).max() < 20
    out = np.asarray(transformer([photos, v]))
    assert out.shape == photos.shape and out.min() >= 0 and out.max() <= 1
    # The vector conditions the output: two styles, two different pictures of the same photo.
    twice = np.asarray(transformer([photos[:1].repeat(2, 0), v]))
    assert np.abs(twice[0] - twice[1]).max() > 1e-4
    d = save_arbitrary_dir(predictor, transformer, TINY_NET, config, tmp_path / "m", {"note": "test"})
    assert model_kind(d) == "arbitrary" and json.loads((d / "model.json").read_text())["arbitrary"]["style_dim"] == 6
    m = ArbitraryModel(d)
    np.testing.assert_array_equal(np.asarray(m.predictor(styles)), v)
    np.testing.assert_array_equal(np.asarray(m.transformer([photos, v])), out)


def test_a_folder_whose_style_vector_disagrees_is_one_line(tmp_path, capsys, content_path, style_path):
    config = TINY_ANY.__class__(style_dim=5, predictor="efficientnetb0", predictor_layer=TINY_CUT)
    predictor = build_predictor(config, None, random_init=False)
    transformer = build_transformer(TINY_LIGHT_NET, 7)
    d = save_arbitrary_dir(predictor, transformer, TINY_LIGHT_NET, config, tmp_path / "m")
    with pytest.raises(ModelError, match="style vectors of 5 numbers in model.json, but the transformer takes 7"):
        ArbitraryModel(d)
    out = tmp_path / "out"
    assert main(["apply", str(d), str(content_path), "-o", str(out), "--style", str(style_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "style vectors" in err and not out.exists()


def test_style_flags_must_fit_the_kind_of_model(tmp_path, capsys, content_path, style_path):
    per_style = save_model_dir(build_transform_net(TINY_NET), TINY_NET, tmp_path / "one")
    out = tmp_path / "out"
    assert main(["apply", str(per_style), str(content_path), "-o", str(out), "--style", str(style_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "takes no --style" in err and not out.exists()
    arbitrary = save_arbitrary_dir(build_predictor(TINY_ANY, None, random_init=False),
                                   build_transformer(TINY_NET, TINY_ANY.style_dim), TINY_NET, TINY_ANY,
                                   tmp_path / "any")
    for extra, word in ([[], "needs a style image"],
                        [["--style", style_path, "--style-blend", "0.7,0.3"], "2 weight(s) for 1"],
                        [["--style", tmp_path / "missing.jpg"], "missing.jpg"],
                        [["--style", style_path, "--strength", "1.5"], "strength"]):
        assert main(["apply", str(arbitrary), str(content_path), "-o", str(out), *map(str, extra)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and word in err, err
        assert not out.exists()


@pytest.mark.slow
def test_bad_style_images_are_one_line_and_write_nothing(tmp_path, capsys, trained, content_path):
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 garbage")
    strip = tmp_path / "strip.png"
    Image.new("RGB", (50000, 1)).save(strip)
    out = tmp_path / "out"
    for bad in (corrupt, strip):
        assert main(["apply", str(trained), str(content_path), "-o", str(out), "--style", str(bad)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and bad.name in err, err
        assert not out.exists()


def test_train_refuses_a_folder_without_readable_paintings(tmp_path, capsys, photos):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0 nothing")
    Image.new("RGB", (50000, 1)).save(bad / "strip.png")
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder, word in ((bad, "no readable paintings"), (empty, "no image files"),
                         (tmp_path / "nowhere", "does not exist")):
        out = tmp_path / "model"
        assert main(["train", "--styles", str(folder), "--data", str(photos), "-o", str(out), "--steps", "1"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and word in err, err
        assert not out.exists()
    assert main(["train", str(bad / "a.jpg"), "--styles", str(bad), "--data", str(photos), "-o",
                 str(tmp_path / "m")]) == 2
    assert "not both" in capsys.readouterr().err


@pytest.mark.slow
def test_training_on_a_folder_of_paintings(trained, model, paintings, photos):
    doc = json.loads((trained / "model.json").read_text())
    assert doc["kind"] == "arbitrary" and doc["meta"]["steps"] == 4
    # 5 readable paintings: 2 held out of training for the previews, 3 trained on.
    assert doc["meta"]["styles"] == 3 and len(doc["meta"]["held_out_styles"]) == 2
    assert (trained / "checkpoints" / "checkpoint").is_file() and (trained / "logs").is_dir()
    assert model.style_dim == 8 and model.network == NETWORK_PRESETS["light"]
    # --predictor auto without EfficientNetB0 ImageNet weights: the loss network's early layers
    assert (doc["arbitrary"]["predictor"], doc["arbitrary"]["predictor_layer"]) == PREDICTOR_FALLBACK
    assert model.predictor.get_layer("predictor_trunk").output.shape[-1] == 256  # block3_conv1
    said = TRAIN_SAID[0]
    assert "NOTE: prediction network vgg19 to block3_conv1" in said and "random" in said, said


def test_auto_predictor_resolves_by_the_weights_found():
    auto = ArbitraryConfig(style_dim=4)
    assert auto.predictor == "auto"
    assert auto.resolved(True).predictor == PREDICTOR_AUTO and auto.resolved(True).cut == PREDICTOR_LAYERS[PREDICTOR_AUTO]
    assert (auto.resolved(False).predictor, auto.resolved(False).cut) == PREDICTOR_FALLBACK
    named = ArbitraryConfig(predictor="vgg16")
    assert named.resolved(False) is named
    with pytest.raises(ConfigError, match="not resolved"):
        auto.to_dict()
    with pytest.raises(ConfigError, match="named predictor"):
        ArbitraryConfig(predictor_layer="block2b_add").validate()


@pytest.mark.slow
def test_strength_and_blend_through_the_model(model, shared_images):
    photos = np.stack([real(shared_images, "content/chelsea_cat.png", (45, 61)),
                       real(shared_images, "content/coffee_cup.png", (45, 61))])
    a = load_image(shared_images / "style" / "munch_the_scream.jpg")
    b = load_image(shared_images / "style" / "hokusai_great_wave.jpg")
    va, vb = model.style_vector(a), model.style_vector(b)
    assert va.shape == (8,) and not np.allclose(va, vb)
    out = model.stylize(photos, va)
    assert out.shape == photos.shape
    # Strength 0: each photo with its own vector; 1: the painting's; between: the interpolated vector.
    own = model.photo_vectors(photos)
    np.testing.assert_allclose(model.stylize(photos, va, 0.0), np.asarray(model.transformer([photos, own])),
                               atol=1e-6)
    half = np.asarray(model.transformer([photos, 0.5 * va[None] + 0.5 * own]))
    np.testing.assert_allclose(model.stylize(photos, va, 0.5), half, atol=1e-6)
    mix = model.mixed_vector([a, b], [0.7, 0.3])
    np.testing.assert_allclose(mix, 0.7 * va + 0.3 * vb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.mixed_vector([a, b], [1, 0]), va, rtol=1e-6)


@pytest.mark.slow
def test_resume_continues_the_arbitrary_run(tmp_path, trained, paintings, photos):
    from tfstyle.feedforward.arbitrary_train import train_arbitrary

    d = shutil.copytree(trained, tmp_path / "m")
    # The settings of the `trained` fixture's command, to two more steps.
    config = TINY_TRAIN.replace(arch="light", steps=6, batch_size=2, checkpoint_every=2)
    r = train_arbitrary(paintings, photos, d, config, ArbitraryConfig(style_dim=8, style_image_size=64), resume=True)
    assert r.stop_reason == "done" and r.steps == 6
    assert json.loads((d / "model.json").read_text())["meta"]["steps"] == 6
    # Skipped and counted: the broken photo, the corrupt painting and the 1 x 50000 strip.
    assert {p.name for p in r.unreadable} == {"broken0.jpg", "broken.jpg", "strip.png"}


def _tflite(path, **inputs):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner("serve")
    (out,) = runner(**{k: np.asarray(v, np.float32) for k, v in inputs.items()}).values()
    return out


@pytest.mark.slow
@pytest.mark.parametrize("quantize,min_db", [("none", 40), ("int8", 20)])
def test_tflite_export_of_both_models_matches_keras(trained, model, shared_images, tmp_path, quantize, min_db):
    from tfstyle.export import export_model

    style = real(shared_images, "style/picabia_udnie.jpg", (64, 50))
    photo = real(shared_images, "content/astronaut_eileen_collins.png", (53, 70))[None]
    out = export_model(trained, "tflite", quantize, output=tmp_path / "x", named_styles={"udnie": style},
                       calibration_images=4, calibration_size=32)
    assert sorted(p.name for p in out.iterdir()) == ["predictor.tflite", "styles.json", "transformer.tflite"]
    doc = json.loads((out / "styles.json").read_text())
    v = model.style_vector(style)
    np.testing.assert_allclose(doc["styles"]["udnie"], v, rtol=1e-5, atol=1e-5)
    got_v = _tflite(out / "predictor.tflite", image=style[None])[0]
    want = model.stylize(photo, v)
    got = _tflite(out / "transformer.tflite", image=photo, style=v[None])
    assert got.shape == photo.shape
    print(quantize, "vector error", float(np.abs(got_v - v).max()), "transformer PSNR", psnr(got, want))
    assert psnr(got, want) >= min_db
    if quantize == "none":
        np.testing.assert_allclose(got_v, v, atol=1e-4)


@pytest.mark.slow
def test_tfjs_and_savedmodel_exports_match_keras(trained, model, shared_images, tmp_path):
    import tensorflow as tf

    from tfstyle.export import export_model

    style = real(shared_images, "style/monet_poppy_field.jpg", (48, 64))
    photo = real(shared_images, "content/coffee_cup.png", (41, 58))[None]
    v = model.style_vector(style)
    want = model.stylize(photo, v)
    sm = export_model(trained, "savedmodel", output=tmp_path / "sm")
    loaded = tf.saved_model.load(str(sm / "transformer"))
    assert psnr(loaded.serve(image=tf.constant(photo), style=tf.constant(v[None])).numpy(), want) >= 60
    loaded = tf.saved_model.load(str(sm / "predictor"))  # kept alive while its function runs
    np.testing.assert_allclose(loaded.serve(tf.constant(style[None])).numpy()[0], v, atol=1e-4)
    js = export_model(trained, "tfjs", output=tmp_path / "js")
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    np.ascontiguousarray(style[None], "<f4").tofile(jobs / "style.f32")
    np.ascontiguousarray(photo, "<f4").tofile(jobs / "photo.f32")
    np.ascontiguousarray(v[None], "<f4").tofile(jobs / "v.f32")
    items = [{"model": str(js / "predictor" / "model.json"),
              "inputs": {"image": {"path": str(jobs / "style.f32"), "shape": list(style[None].shape)}},
              "output": str(jobs / "v_out.f32")},
             {"model": str(js / "transformer" / "model.json"),
              "inputs": {"image": {"path": str(jobs / "photo.f32"), "shape": list(photo.shape)},
                         "style": {"path": str(jobs / "v.f32"), "shape": [1, 8]}},
              "output": str(jobs / "y.f32")}]
    spec = jobs / "job.json"
    spec.write_text(json.dumps({"node_modules": str(node_modules()), "backend": "wasm", "items": items}))
    runner = __import__("pathlib").Path(__file__).parent / "js" / "run_named_inputs.cjs"
    r = subprocess.run([shutil.which("node"), str(runner), str(spec)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    np.testing.assert_allclose(np.fromfile(jobs / "v_out.f32", "<f4"), v, atol=1e-3)
    got = np.fromfile(jobs / "y.f32", "<f4").reshape(photo.shape)
    print("tfjs transformer PSNR", psnr(got, want))
    assert psnr(got, want) >= 40


@pytest.mark.slow
def test_video_with_a_style_image(trained, tmp_path, capsys, shared_images):
    frames = tmp_path / "frames"
    frames.mkdir()
    cat = load_image(shared_images / "content" / "chelsea_cat.png")
    for i in range(3):
        Image.fromarray((resize(cat, (48, 64))[:, i:i + 60] * 255).astype(np.uint8)).save(frames / f"f{i}.png")
    style = shared_images / "style" / "munch_the_scream.jpg"
    out = tmp_path / "out" / ""
    assert main(["video", str(frames), "-o", str(out) + "/", "--model", str(trained), "--style", str(style),
                 "--strength", "0.8", "-q"]) == 0
    assert len(list((tmp_path / "out").glob("*.png"))) == 3
    for argv, word in (([str(frames), "--model", str(trained)], "needs a style image"),
                       ([str(frames), str(style), "--strength", "0.5"], "need an arbitrary-style --model")):
        assert main(["video", *argv, "-o", str(tmp_path / "v.mp4"), "-q"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and word in err, err
        assert not (tmp_path / "v.mp4").exists()
