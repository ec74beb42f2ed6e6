import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from ffdata import TINY_TRAIN, make_photos
from PIL import Image

from tfstyle.feedforward.apply import StyleModel, apply_files
from tfstyle.config import NETWORK_PRESETS
from tfstyle.export import ExportError, export_model
from tfstyle.io.images import ImageError, load_image, resize
from tfstyle.feedforward.networks import MODEL_FILE
from tfstyle import train


@pytest.fixture(scope="module")
def photos(tmp_path_factory, shared_images):
    return make_photos(tmp_path_factory.mktemp("photos"), shared_images, n=8)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, photos, style_path):
    """The light network, briefly trained (weights away from their initial values)."""
    d = tmp_path_factory.mktemp("model") / "m"
    r = train(style_path, photos, d, TINY_TRAIN.replace(steps=15, arch="light", checkpoint_every=100))
    assert r.stop_reason == "done"
    return d


@pytest.fixture(scope="module")
def real_photos(shared_images):
    """Two real photos at odd, non-square sizes (not multiples of 4)."""
    return [resize(load_image(shared_images / "content" / n), (101, 134))
            for n in ("chelsea_cat.png", "astronaut_eileen_collins.png")]


def _run_tflite(path, x):
    it = Interpreter(model_path=str(path))
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    assert list(inp["shape_signature"]) == [-1, -1, -1, 3]  # dynamic batch, height, width
    it.resize_tensor_input(inp["index"], x.shape)
    it.allocate_tensors()
    it.set_tensor(inp["index"], x.astype(np.float32))
    it.invoke()
    return it.get_tensor(out["index"])


def psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - b) ** 2))


@pytest.mark.parametrize("quantize,min_db", [("none", 40), ("float16", 40), ("dynamic", 28), ("int8", 28)])
def test_tflite_parity_with_keras_on_real_photos(model_dir, real_photos, quantize, min_db, tmp_path):
    out = export_model(model_dir, "tflite", quantize, output=tmp_path / f"{quantize}.tflite")
    keras_model = StyleModel(model_dir)
    for photo in real_photos:
        want = keras_model(photo)
        got = _run_tflite(out, photo[None])[0]
        assert got.shape == photo.shape
        print(quantize, round(psnr(got, want), 1))
        assert psnr(got, want) >= min_db, (quantize, psnr(got, want))


def test_tflite_runs_several_sizes_and_batches(model_dir, tmp_path):
    out = export_model(model_dir, "tflite", "none", output=tmp_path / "m.tflite")
    keras_model = StyleModel(model_dir)
    rng = np.random.default_rng(0)
    for shape in [(1, 16, 16, 3), (2, 37, 50, 3), (1, 128, 72, 3)]:
        x = rng.random(shape, dtype=np.float32)
        np.testing.assert_allclose(_run_tflite(out, x), keras_model(x), atol=1e-4)


def test_savedmodel_export_loads_without_tfstyle_code(model_dir, real_photos, tmp_path):
    out = export_model(model_dir, "savedmodel", output=tmp_path / "sm")
    loaded = tf.saved_model.load(str(out))
    x = real_photos[0][None]
    got = loaded.serve(tf.constant(x)).numpy()
    np.testing.assert_allclose(got, StyleModel(model_dir)(x), atol=1e-5)


def test_export_refuses_existing_output_and_int8_without_photos(model_dir, tmp_path):
    target = tmp_path / "x.tflite"
    target.write_bytes(b"keep me")
    with pytest.raises(ExportError, match="--overwrite"):
        export_model(model_dir, "tflite", output=target)
    assert target.read_bytes() == b"keep me"
    with pytest.raises(ExportError, match="does not exist"):
        export_model(model_dir, "tflite", "int8", output=tmp_path / "q.tflite", data_dir=tmp_path / "nothing")


def test_apply_api_batches_folders_and_files(model_dir, photos, shared_images, tmp_path):
    model = StyleModel(model_dir)
    seen = []
    cat = shared_images / "content" / "chelsea_cat.png"
    r = apply_files(model, [photos, cat], tmp_path / "out", size=64, batch_size=3, callback=seen.append)
    assert len(r.written) == 9 and seen == r.written
    assert [p.name for p, _ in r.skipped] == ["broken0.jpg"]
    assert (tmp_path / "out" / "set0" / "photo00.png").is_file()
    im = np.asarray(Image.open(tmp_path / "out" / "chelsea_cat.png"))
    assert max(im.shape[:2]) == 64 and im.shape[2] == 3
    # Outputs equal the model applied one by one.
    one = model(resize(load_image(cat), (im.shape[0], im.shape[1])))
    np.testing.assert_allclose(load_image(tmp_path / "out" / "chelsea_cat.png"), one, atol=1 / 255 + 1e-6)
    with pytest.raises(ImageError, match="already exists"):
        apply_files(model, [cat], tmp_path / "out")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tfstyle", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_cli_apply_and_export(model_dir, photos, tmp_path):
    r = _cli("apply", model_dir, photos, "-o", tmp_path / "out", "--size", "48", "--format", "jpg")
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "out").rglob("*.jpg"))) == 8 and "broken0.jpg" in r.stderr
    r = _cli("apply", model_dir, photos, "-o", tmp_path / "out", "--size", "48", "--format", "jpg")
    assert r.returncode == 2 and "already exists" in r.stderr
    r = _cli("export", model_dir, "--format", "tflite", "--quantize", "float16", "-o", tmp_path / "m.tflite")
    assert r.returncode == 0, r.stderr
    assert _run_tflite(tmp_path / "m.tflite", np.full((1, 20, 20, 3), 0.5, np.float32)).shape == (1, 20, 20, 3)
    r = _cli("export", model_dir, "--format", "tflite", "-o", tmp_path / "m.tflite")
    assert r.returncode == 2 and "already exists" in r.stderr
    r = _cli("export", model_dir, "--format", "savedmodel", "--quantize", "int8")
    assert r.returncode == 2 and "savedmodel takes --quantize none" in r.stderr


def test_cli_malformed_model_folders_exit_2(model_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / MODEL_FILE).write_text('{"format": "tfstyle-feedforward", "version": 1, "network": '
                                  '{"filters": [8, 8, 8], "residual_blocks": 1, "separable": false, '
                                  '"outer_kernel": 3}}')
    (bad / "model.weights.h5").write_bytes((model_dir / "model.weights.h5").read_bytes())
    img = tmp_path / "a.png"
    Image.new("RGB", (32, 32), "red").save(img)
    for args in (["apply", bad, img, "-o", tmp_path / "o"], ["export", bad, "-o", tmp_path / "x.tflite"],
                 ["apply", tmp_path / "nothing", img, "-o", tmp_path / "o"], ["export", img]):
        r = _cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "o").exists() and not (tmp_path / "x.tflite").exists()


def test_presets_export_with_dynamic_sizes(tmp_path):
    """Both real presets (random weights) convert and run at two sizes under LiteRT."""
    from tfstyle.export.tflite import tflite_bytes
    from tfstyle.feedforward.networks import build_transform_net

    for name, net in NETWORK_PRESETS.items():
        model = build_transform_net(net)
        path = tmp_path / f"{name}.tflite"
        path.write_bytes(tflite_bytes(model))
        for hw in [(36, 44), (64, 64)]:
            x = np.random.default_rng(1).random((1, *hw, 3), dtype=np.float32)
            np.testing.assert_allclose(_run_tflite(path, x), model(x).numpy(), atol=1e-4)
