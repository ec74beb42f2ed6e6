"""``tfstyle export --format tfjs``: the graph-model files, their quantisation, one-line errors, atomic
writes, and numerical parity in Node with @tensorflow/tfjs (cpu and wasm backends) against the Keras
model on real photos, for both network presets."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from webdata import artifacts_dir, psnr, real_photos, run_node

from tfstyle.config import NETWORK_PRESETS
from tfstyle.export import ExportError, default_output, export_model
from tfstyle.export import tfjs
from tfstyle.feedforward.apply import StyleModel
from tfstyle.feedforward.networks import build_transform_net

QUANTIZE = ("none", "float16", "uint8")
MIN_DB = {"none": 40, "float16": 30, "uint8": 30}


@pytest.fixture(scope="module")
def models(web_models):
    """{"light": a briefly trained light network, "standard": a random-weight standard network}."""
    return web_models


@pytest.fixture(scope="module")
def exports(models, tmp_path_factory):
    """Every model exported at every quantisation: {(preset, quantize): folder}."""
    d = tmp_path_factory.mktemp("tfjs")
    return {(name, q): export_model(m, "tfjs", q, output=d / f"{name}_{q}") for name, m in models.items()
            for q in QUANTIZE}


def _doc(folder):
    return json.loads((folder / "model.json").read_text())


def test_graph_model_files(exports):
    """model.json is a TF.js graph model: a GraphDef whose constants live in the weight shards, a
    signature with dynamic batch, height and width, and a manifest that matches the shards' bytes."""
    for (name, q), folder in exports.items():
        doc = _doc(folder)
        assert doc["format"] == "graph-model" and doc["convertedBy"].startswith("tfstyle")
        sig = doc["signature"]
        for part, key in (("inputs", "image"), ("outputs", "stylized")):
            info = sig[part][key]
            assert [d["size"] for d in info["tensorShape"]["dim"]] == ["-1", "-1", "-1", "3"]
            assert info["dtype"] == "DT_FLOAT"
        nodes = {n["name"]: n for n in doc["modelTopology"]["node"]}
        assert nodes["image"]["op"] == "Placeholder"
        assert sig["inputs"]["image"]["name"] == "image:0" and sig["outputs"]["stylized"]["name"].split(":")[0] in nodes
        (group,) = doc["weightsManifest"]
        entries = {w["name"]: w for w in group["weights"]}
        consts = {n for n, v in nodes.items() if v["op"] == "Const"}
        assert consts == set(entries), "every constant is a weight and every weight a constant"
        for n in consts:  # values moved out, dtype and shape kept
            tensor = nodes[n]["attr"]["value"]["tensor"]
            assert set(tensor) <= {"dtype", "tensorShape"}, (n, set(tensor))
        # Copies TF.js would execute for nothing are gone: no variable reads, no NoOps.
        assert not [n for n in nodes.values() if n["op"] in ("NoOp", "ReadVariableOp", "VarHandleOp")]
        assert sum(n["op"] == "Identity" for n in nodes.values()) <= 1
        bytes_per = {"float32": 4, "int32": 4, "float16": 2, "uint8": 1}
        want = sum(int(np.prod(w["shape"])) * bytes_per[w.get("quantization", {}).get("dtype", w["dtype"])]
                   for w in group["weights"])
        assert sum((folder / p).stat().st_size for p in group["paths"]) == want
        assert all((folder / p).stat().st_size <= tfjs.SHARD_BYTES for p in group["paths"])
        assert sorted(p.name for p in folder.iterdir()) == sorted(["model.json", *group["paths"]])


def test_quantisation_uses_the_manifest_fields_and_shrinks_the_weights(exports):
    sizes = {}
    for (name, q), folder in exports.items():
        (group,) = _doc(folder)["weightsManifest"]
        sizes[name, q] = sum((folder / p).stat().st_size for p in group["paths"])
        quant = [w.get("quantization") for w in group["weights"] if w["dtype"] == "float32"]
        if q == "none":
            assert quant == [None] * len(quant)
        elif q == "float16":
            assert all(x == {"dtype": "float16", "original_dtype": "float32"} for x in quant)
        else:  # uint8: every kernel, small vectors and scalars stay float32
            big = [w for w in group["weights"] if w["dtype"] == "float32" and np.prod(w["shape"]) >= tfjs.UINT8_MIN_SIZE]
            assert big and all(w["quantization"]["dtype"] == "uint8" and w["quantization"]["scale"] > 0 for w in big)
            small = [w for w in group["weights"] if w["dtype"] == "float32" and np.prod(w["shape"]) < tfjs.UINT8_MIN_SIZE]
            assert all("quantization" not in w for w in small)
    for name in ("light", "standard"):
        assert 0.49 < sizes[name, "float16"] / sizes[name, "none"] < 0.52, sizes
        assert 0.25 < sizes[name, "uint8"] / sizes[name, "none"] < 0.32, sizes
    print("weight bytes:", {f"{n}/{q}": s for (n, q), s in sizes.items()})


def test_uint8_keeps_zero_exact_and_errors_within_half_a_step():
    rng = np.random.default_rng(0)
    for data in (rng.normal(0, 0.1, 1000).astype(np.float32), rng.uniform(0.2, 0.9, 500).astype(np.float32),
                 np.linspace(-3, 1, 300, dtype=np.float32), np.full(300, -0.25, np.float32)):
        q, p = tfjs.quantize_uint8(data)
        assert q.dtype == np.uint8 and q.shape == data.shape
        back = q.astype(np.float64) * p["scale"] + p["min"]
        step = p["scale"] if data.min() < data.max() else 0.0
        assert np.max(np.abs(back - data)) <= step / 2 + 1e-6
        if data.min() <= 0 <= data.max() and data.min() < data.max():
            zero = -p["min"] / p["scale"]
            assert abs(zero - round(zero)) < 1e-6, "0 must be one of the uint8 values"


@pytest.mark.parametrize("name", ["light", "standard"])
def test_rewritten_graph_computes_what_keras_computes_in_tensorflow(name):
    """The graph TF.js receives (instance-norm means as matrix products, ...) evaluated by TensorFlow
    itself: equal to the Keras model at odd sizes and batch 2."""
    model = build_transform_net(NETWORK_PRESETS[name], seed=3)
    graph_def, inp, out = tfjs.frozen_graph_def(model)
    ops = {n.op for n in graph_def.node}
    assert "BatchMatMulV2" in ops and "Mean" not in ops
    g = tf.Graph()
    with g.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    x = np.random.default_rng(0).random((2, 37, 50, 3), dtype=np.float32)
    with tf.compat.v1.Session(graph=g) as s:
        got = s.run(out, {inp: x})
    np.testing.assert_allclose(got, model(x).numpy(), atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["wasm", "cpu"])
def test_node_parity_with_keras_on_real_photos(models, exports, backend, shared_images, tmp_path,
                                               tmp_path_factory):
    """@tensorflow/tfjs in Node against the Keras model, both presets, every quantisation: PSNR
    >= 40 dB for float32 and >= 30 dB for float16 and uint8; dynamic shapes (two sizes, batch 2)."""
    photos = real_photos(shared_images)
    if backend == "cpu":
        # TF.js's plain-JavaScript backend takes seconds per standard image: one smaller photo.
        photos = real_photos(shared_images, (53, 70))[:1]
    jobs, want, keys = [], [], []
    for name, model_dir in models.items():
        keras_model = StyleModel(model_dir)
        for i, photo in enumerate(photos):
            ref = keras_model(photo)
            for q in QUANTIZE:
                jobs.append({"model": exports[name, q] / "model.json", "image": photo[None]})
                want.append(ref[None])
                keys.append((name, q, f"photo{i} {photo.shape[1]}x{photo.shape[0]}"))
        if backend == "wasm":  # another size and a batch of two through the same model
            batch = np.stack(real_photos(shared_images, (64, 48)))
            jobs.append({"model": exports[name, "none"] / "model.json", "image": batch})
            want.append(keras_model(batch))
            keys.append((name, "none", "batch of 2, 48x64"))
    got = run_node(jobs, backend, tmp_path)
    figures = []
    for key, g, w in zip(keys, got, want):
        assert g.shape == w.shape, key
        figures.append((key, round(psnr(g, w), 1)))
    (artifacts_dir(tmp_path_factory) / f"tfjs_parity_{backend}.json").write_text(
        json.dumps({" ".join(k): v for k, v in figures}, indent=1))
    print(backend, {" ".join(k): v for k, v in figures})
    for key, value in figures:
        assert value >= MIN_DB[key[1]], (backend, key, value)


def test_default_names_and_dispatch(models, tmp_path):
    assert default_output(models["light"], "tfjs", "none").name == "tfjs"
    assert default_output(models["light"], "tfjs", "uint8").name == "tfjs_uint8"
    with pytest.raises(Exception, match="--format tfjs takes --quantize none, float16, uint8"):
        export_model(models["light"], "tfjs", "int8", output=tmp_path / "x")


def test_existing_output_is_refused_and_a_failed_export_leaves_nothing(models, tmp_path, monkeypatch):
    target = tmp_path / "site_model"
    target.mkdir()
    (target / "keep.txt").write_text("keep me")
    with pytest.raises(ExportError, match="--overwrite"):
        export_model(models["light"], "tfjs", output=target)
    assert (target / "keep.txt").read_text() == "keep me"

    def broken(*a, **k):  # fails after the shards are written, before model.json
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tfjs, "_tensor_info", broken)
    with pytest.raises(OSError):
        export_model(models["light"], "tfjs", output=tmp_path / "new")
    with pytest.raises(OSError):
        export_model(models["light"], "tfjs", output=target, overwrite=True)
    assert not (tmp_path / "new").exists()
    assert (target / "keep.txt").read_text() == "keep me", "the old output stays until a new one is complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site_model"], "no staging folders left behind"


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tfstyle", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_cli_export_tfjs_and_one_line_errors(models, tmp_path):
    r = _cli("export", models["light"], "--format", "tfjs", "--quantize", "uint8", "-o", tmp_path / "m")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "m" / "model.json").is_file() and r.stderr.strip().endswith(f"wrote {tmp_path / 'm'}")
    bad_dir = tmp_path / "not_a_model"
    bad_dir.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_text("{not json")
    for args in (["export", models["light"], "--format", "tfjs", "-o", tmp_path / "m"],  # exists
                 ["export", models["light"], "--format", "tfjs", "--quantize", "int8", "-o", tmp_path / "q"],
                 ["export", bad_dir, "--format", "tfjs", "-o", tmp_path / "x"],
                 ["export", broken, "--format", "tfjs", "-o", tmp_path / "x"],
                 ["export", models["light"], "--format", "tfjs", "-o", tmp_path / "no" / "such" / "dir"]):
        r = _cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("tfstyle: error: ") and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "q").exists()
