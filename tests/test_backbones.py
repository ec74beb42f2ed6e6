"""Every loss network behind the one interface: the registry, the facts read off the graph against the
real model (spatial sizes, receptive fields), weight files in Keras's own h5 layout through the real
loading path, EfficientNet's ImageNet input scale, VGG unchanged, smoothing against NumPy."""

import os

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfstyle.backbones import get
from tfstyle.backbones.base import he_init
from tfstyle.backbones.extractor import FeatureExtractor, build_model, smooth
from tfstyle.backbones.weights import BackboneError, resolve_weights
from tfstyle.config import BACKBONES_REGISTRY, NETWORKS, ConfigError, StylizeConfig

NEW = ["resnet50", "efficientnetb0"]


def test_registry_lists_every_network_with_defaults_it_has():
    import importlib

    assert set(NETWORKS) == {"vgg19", "vgg16", "resnet50", "efficientnetb0"}
    for name in NETWORKS:
        bb = get(name)
        assert bb.name == name and bb.layers
        content, style = StylizeConfig(network=name).resolved_layers()
        assert set(content) <= set(bb.layers) and {n for n, _ in style} <= set(bb.layers)
        assert bb.weights_env == f"TFSTYLE_{name.upper()}_WEIGHTS"
        assert bb.weights_url().endswith(bb.weights_file)
        hashes = getattr(importlib.import_module(bb.keras_module), "WEIGHTS_HASHES", None)
        if hashes is not None:  # Keras's own md5 of the notop file
            key = "b0" if name == "efficientnetb0" else name
            assert bb.weights_md5 == hashes[key][1]
    with pytest.raises(ConfigError, match="network must be one of"):
        get("resnet18")
    # Residual networks are smoothed by default, VGG is not.
    assert [StylizeConfig(network=n).resolved_smoothing() for n in NETWORKS] == ["none", "none", "softmax", "softmax"]
    assert StylizeConfig(network="resnet50", smoothing="none").resolved_smoothing() == "none"
    assert BACKBONES_REGISTRY["vgg19"].content_layers == ("block4_conv2",)


def test_layer_names_are_checked_without_tensorflow_and_name_the_network():
    with pytest.raises(ConfigError, match="ResNet50 layers are conv1_relu"):
        get("resnet50").check_layers(["block4_conv2"])
    with pytest.raises(ConfigError, match="is not available for resnet50"):
        get("resnet50").check_pooling("avg")


@pytest.mark.parametrize("network", NETWORKS)
def test_strides_and_channels_match_the_real_model(network):
    """A tap's spatial size for a given input, from the facts, equals the real model's, at odd sizes."""
    bb = get(network)
    facts = bb.facts()
    model = bb.keras_model(None)
    probe = keras.Model(model.input, [model.get_layer(n).output for n in bb.layers])
    for h, w in [(67, 90), (96, 128)]:
        outs = probe(np.zeros((1, h, w, 3), np.float32))
        for name, out in zip(bb.layers, outs):
            f = facts[name]
            assert tuple(out.shape[1:]) == (f.cells(h), f.cells(w), f.channels), (name, h, w)
            assert -(-h // f.stride) - 1 <= f.cells(h) <= -(-h // f.stride), name


def _support(model, name, hw, cell):
    """Rows and columns of the input that the features at ``cell`` of layer ``name`` depend on."""
    probe = keras.Model(model.input, model.get_layer(name).output)
    x = tf.Variable(np.random.default_rng(0).uniform(-1, 1, (1, *hw, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        y = probe(x)
        value = tf.reduce_sum(y[0, cell[0], cell[1], :] ** 2)
    g = np.abs(tape.gradient(value, x).numpy()[0]).sum(axis=-1)
    rows, cols = np.nonzero(g.sum(axis=1))[0], np.nonzero(g.sum(axis=0))[0]
    return rows, cols


@pytest.mark.parametrize("network, layer, hw", [("vgg19", "block3_conv1", (96, 96)),
                                                ("vgg19", "block4_conv2", (160, 160)),
                                                ("resnet50", "conv2_block3_out", (96, 96)),
                                                ("resnet50", "conv3_block4_out", (192, 192)),
                                                ("efficientnetb0", "stem_activation", (64, 64))])
def test_receptive_field_contains_what_a_feature_really_sees(network, layer, hw):
    """The gradient of one interior feature reaches no pixel outside [anchor - left, anchor + right]."""
    bb = get(network)
    model = bb.keras_model(None)
    he_init(model, 3)
    f = bb.facts()[layer]
    cell = (f.cells(hw[0]) // 2, f.cells(hw[1]) // 2)
    rows, cols = _support(model, layer, hw, cell)
    anchor = np.array(cell) * f.stride
    assert rows.min() >= anchor[0] - f.left and rows.max() <= anchor[0] + f.right, (rows.min(), rows.max())
    assert cols.min() >= anchor[1] - f.left and cols.max() <= anchor[1] + f.right, (cols.min(), cols.max())
    if network == "vgg19":  # 3x3 convolutions and 2x2 pools: the bound is reached exactly
        assert (rows.min(), rows.max()) == (anchor[0] - f.left, anchor[0] + f.right)


def test_squeeze_and_excitation_makes_efficientnet_layers_global():
    bb = get("efficientnetb0")
    facts = bb.facts()
    assert not facts["stem_activation"].is_global and bb.tileable(["stem_activation"])
    assert all(facts[n].is_global for n in bb.layers[1:]) and not bb.tileable(["block2b_add"])
    # A corner feature of block2b_add depends on the opposite corner (the squeeze's global mean).
    model = bb.keras_model(None)
    he_init(model, 3)
    rows, cols = _support(model, "block2b_add", (64, 64), (0, 0))
    assert rows.max() == 63 and cols.max() == 63
    assert get("resnet50").tileable(get("resnet50").layers)


# --- weight files in Keras's own h5 layout -------------------------------------------------------------


def write_weight_file(network, path, seed=5):
    """``keras.applications.<Net>(weights=None)`` with seeded values, saved by Keras's legacy h5 writer.

    Returns {layer: [arrays]} of the layers with weights."""
    from keras.src.legacy.saving import legacy_h5_format

    bb = get(network)
    model = bb.keras_model(None)
    he_init(model, seed)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c), rng.normal(0, 0.5, c),
                               rng.uniform(0.5, 2.0, c)])
        elif type(layer).__name__ == "Normalization":  # what the ImageNet file holds (see efficientnet.py)
            layer.set_weights([np.array([0.485, 0.456, 0.406], np.float32),
                               np.array([0.229, 0.224, 0.225], np.float32), np.array(0)])
            layer.finalize_state()
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return model, {layer.name: [np.asarray(w) for w in layer.get_weights()] for layer in model.layers
                   if layer.get_weights()}


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    return {n: (root / get(n).weights_file, *write_weight_file(n, root / get(n).weights_file)) for n in NEW}


@pytest.fixture
def no_weights(monkeypatch, tmp_path):
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("TFSTYLE_OFFLINE", "1")
    for n in NETWORKS:
        monkeypatch.delenv(get(n).weights_env, raising=False)
    return home


@pytest.mark.slow
@pytest.mark.parametrize("network", NEW)
def test_weight_file_is_found_three_ways_and_loads_its_values(network, weight_files, no_weights, monkeypatch):
    path, _, values = weight_files[network]
    infos = [resolve_weights("imagenet", str(path), network)]
    monkeypatch.setenv(get(network).weights_env, str(path))
    infos.append(resolve_weights("auto", None, network))
    monkeypatch.delenv(get(network).weights_env)
    (no_weights / "models").mkdir(parents=True)
    os.symlink(path, no_weights / "models" / get(network).weights_file)
    infos.append(resolve_weights("imagenet", None, network))
    assert [i.source for i in infos] == ["flag", "env", "cache"]
    model = build_model(infos[0])
    for name, arrays in values.items():
        layer = next(x for x in model.layers if x.name == name or (
            type(x).__name__ == "Normalization" and name.startswith("normalization")))
        got = layer.get_weights()
        if type(layer).__name__ == "Normalization":
            # The ImageNet input scale Keras adds only for weights="imagenet", folded into the variance.
            np.testing.assert_allclose(got[1], arrays[1] * np.array([0.229, 0.224, 0.225]), rtol=1e-6)
            got, arrays = got[:1], arrays[:1]
        for g, a in zip(got, arrays):
            np.testing.assert_array_equal(g, a, err_msg=name)


@pytest.mark.slow
def test_efficientnet_from_a_path_is_kerass_imagenet_network(weight_files, monkeypatch):
    """Keras's EfficientNetB0(weights="imagenet") adds a Rescaling after its Normalization layer;
    loaded from a path it does not. tfstyle's network from the same file equals the "imagenet" one."""
    from keras.src.applications import efficientnet

    path, _, _ = weight_files["efficientnetb0"]
    monkeypatch.setattr(efficientnet.file_utils, "get_file", lambda *a, **k: str(path))
    reference = keras.applications.EfficientNetB0(include_top=False, weights="imagenet", input_shape=(None, None, 3))
    naive = keras.applications.EfficientNetB0(include_top=False, weights=str(path), input_shape=(None, None, 3))
    ours = build_model(resolve_weights("imagenet", str(path), "efficientnetb0"))
    x = np.random.default_rng(1).uniform(0, 255, (1, 64, 80, 3)).astype(np.float32)
    ref = reference(x).numpy()
    np.testing.assert_allclose(ours(x).numpy(), ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())

    def stem(model):
        return keras.Model(model.input, model.get_layer("stem_conv").output)(x).numpy()

    np.testing.assert_allclose(stem(ours), stem(reference), rtol=1e-4, atol=1e-3)
    # The pitfall is real: from a path Keras feeds the first convolution inputs sqrt(0.229) = 0.48x
    # as large as the ImageNet network's.
    ratio = np.abs(stem(naive)).mean() / np.abs(stem(reference)).mean()
    assert 0.45 < ratio < 0.5, ratio


@pytest.mark.slow
def test_a_file_of_another_network_is_a_one_line_error(weight_files):
    path, _, _ = weight_files["resnet50"]
    with pytest.raises(BackboneError, match="is not a EfficientNetB0 notop weight file"):
        FeatureExtractor(["block2b_add"], resolve_weights("imagenet", str(path), "efficientnetb0"))


def test_missing_weights_name_the_network_file_and_variable(no_weights):
    with pytest.raises(BackboneError, match=r"ResNet50 ImageNet weights not found.*resnet50_weights_tf_dim_ordering"
                                            r"_tf_kernels_notop.h5.*TFSTYLE_RESNET50_WEIGHTS"):
        resolve_weights("imagenet", None, "resnet50")
    info = resolve_weights("auto", None, "efficientnetb0")
    assert info.is_random and "fixed-seed random-weight EfficientNetB0" in info.notice
    assert "efficientnetb0_notop.h5" in info.notice


# --- random networks --------------------------------------------------------------------------------


@pytest.mark.parametrize("network", NEW)
def test_random_networks_are_deterministic_and_well_scaled(network):
    """Fixed-seed weights and batch-norm statistics measured on fixed noise: the same features in every
    process, and activations of order 1 at every default layer (Keras's untrained statistics let
    ResNet50's residual sums grow block after block)."""
    content, style = StylizeConfig(network=network).resolved_layers()
    layers = list(dict.fromkeys(list(content) + [n for n, _ in style]))
    info = resolve_weights("random", None, network)
    a = FeatureExtractor(layers, info)
    b = FeatureExtractor(layers, info)
    x = np.random.default_rng(2).uniform(0, 1, (1, 96, 96, 3)).astype(np.float32)
    fa, fb = a(x), b(x)
    for n in layers:
        np.testing.assert_array_equal(fa[n].numpy(), fb[n].numpy())
        rms = float(np.sqrt(np.mean(fa[n].numpy() ** 2)))
        assert 0.05 < rms < 20, (n, rms)


# --- VGG unchanged --------------------------------------------------------------------------------


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_vgg19_features_are_keras_vgg19_with_caffe_input(pooling):
    """The fixed-seed VGG19 through the interface equals keras.applications.VGG19 with the same He-normal
    filters (written out here again) and caffe preprocessing done by hand, max or average pooled."""
    layers = ["block1_conv1", "block3_conv1", "block4_conv2", "block5_conv1"]
    ours = FeatureExtractor(layers, resolve_weights("random"), pooling=pooling)
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    rng = np.random.default_rng(1234)  # config.RANDOM_BACKBONE_SEED
    x = inputs = keras.Input((None, None, 3))
    taps = {}
    for layer in vgg.layers[1:]:
        if isinstance(layer, keras.layers.Conv2D):
            shape = tuple(layer.kernel.shape)
            layer.set_weights([rng.standard_normal(shape).astype(np.float32) * np.sqrt(2.0 / np.prod(shape[:3])),
                               np.zeros(shape[-1], np.float32)])
        if pooling == "avg" and isinstance(layer, keras.layers.MaxPooling2D):
            layer = keras.layers.AveragePooling2D(2, 2)
        x = taps[layer.name] = layer(x)
    reference = keras.Model(inputs, [taps[n] for n in layers])
    rgb = np.random.default_rng(3).uniform(0, 1, (1, 48, 64, 3)).astype(np.float32)
    caffe = rgb[..., ::-1] * 255.0 - np.array([103.939, 116.779, 123.68], np.float32)
    got = ours(rgb)
    for name, ref in zip(layers, reference(caffe)):
        np.testing.assert_allclose(got[name].numpy(), ref.numpy(), rtol=1e-5, atol=1e-5 * np.abs(ref).max())


# --- smoothing --------------------------------------------------------------------------------------


def test_softmax_smoothing_against_numpy():
    rng = np.random.default_rng(4)
    f = rng.normal(0, 3, (2, 5, 7, 4)).astype(np.float32)
    for t in (1.0, 4.0):
        z = f.astype(np.float64).reshape(2, -1) / t
        e = np.exp(z - z.max(axis=1, keepdims=True))
        want = (e / e.sum(axis=1, keepdims=True) * z.shape[1]).reshape(f.shape)
        got = smooth(tf.constant(f), t).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5)
        np.testing.assert_allclose(got.reshape(2, -1).mean(axis=1), 1.0, rtol=1e-5)
    # bfloat16 activations are smoothed in float32.
    assert smooth(tf.cast(f, tf.bfloat16)).dtype == tf.float32


def test_plain_scaling_of_activations_changes_no_loss():
    """The other form of smoothing (the authors' later ``alpha * F``) is no change under tfstyle's
    losses, which are relative to their targets: measured here on every loss part (up to the 1e-8
    guard against all-zero targets)."""
    from tfstyle.objective.losses import StyleContentLoss, gram

    rng = np.random.default_rng(5)
    feats = {"a": rng.normal(size=(1, 6, 6, 4)).astype(np.float32), "b": rng.normal(size=(1, 3, 3, 8)).astype(np.float32)}
    target = {k: v + rng.normal(0, 0.5, v.shape).astype(np.float32) for k, v in feats.items()}
    image = tf.constant(rng.uniform(size=(1, 12, 12, 3)).astype(np.float32))

    def parts(alpha):
        loss = StyleContentLoss({"a": alpha * target["a"]}, {k: gram(tf.constant(alpha * v)) for k, v in target.items()},
                                {"a": 1.0, "b": 1.0}, 1.0, 10.0, 1.0)
        return loss({k: tf.constant(alpha * v) for k, v in feats.items()}, image)[1]

    base = parts(1.0)
    for alpha in (0.1, 10.0):
        scaled = parts(alpha)
        for k in base:
            assert float(scaled[k]) == pytest.approx(float(base[k]), rel=1e-3), (alpha, k)


# --- the networks in stylize, tiles, memory and training ----------------------------------------------


@pytest.fixture(scope="module")
def pair(content_path, style_path):
    from tfstyle.io.images import load_image, resize

    return resize(load_image(content_path), (112, 160)), resize(load_image(style_path), (96, 128))


@pytest.mark.slow
def test_resnet50_tiles_give_the_untiled_objective(pair):
    """Tileable without smoothing: tiled targets, loss and gradient equal the untiled ones with the margin
    read off the graph (49 px for conv3_block4_out, rounded up to its stride 8)."""
    from tfstyle.optimize.stylizer import Stylizer
    from tfstyle.optimize.tiling import TiledStylizer

    cfg = StylizeConfig(size=160, network="resnet50", smoothing="none", backbone="random", precision="float32",
                        content_layers=("conv3_block4_out",),
                        style_layers=(("conv1_relu", 1.0), ("conv2_block3_out", 1.0), ("conv3_block4_out", 1.0)))
    flat = Stylizer(*pair, cfg)
    tiled = TiledStylizer(*pair, cfg, flat.weights, tile=64, extractor=flat.extractor)
    assert tiled.objective.margin == 56
    for name, a in flat.loss.style_targets.items():
        np.testing.assert_allclose(tiled.loss.style_targets[name].numpy(), a.numpy(), rtol=1e-4,
                                   atol=1e-5 * np.abs(a.numpy()).max())
    x = np.clip(pair[0] + np.random.default_rng(0).normal(0, 0.1, pair[0].shape), 0, 1).astype(np.float32)
    total, _, grad = flat._value_and_grad(x[None])
    for offset in [(0, 0), (32, 8)]:
        t_total, _, t_grad = tiled.objective.value_and_grad(x, offset)
        assert t_total == pytest.approx(float(total), rel=1e-4)
        g, t = grad.numpy()[0].ravel(), t_grad.ravel()
        assert np.dot(g, t) / (np.linalg.norm(g) * np.linalg.norm(t)) > 0.9999


def test_untileable_runs_are_planned_whole_or_refused_in_one_line():
    from tfstyle.optimize.memory import GIB, MemoryLimitError, plan_scale

    eff = StylizeConfig(network="efficientnetb0", precision="float32", smoothing="none")
    assert plan_scale((512, 512), eff, get("efficientnetb0"), 100 * GIB)[0] == 0
    with pytest.raises(MemoryLimitError, match="cannot be tiled: EfficientNetB0's layers see the whole image"):
        plan_scale((4096, 4096), eff, get("efficientnetb0"), 4 * GIB)
    with pytest.raises(ConfigError, match="--tile-size 256: EfficientNetB0's layers see the whole image"):
        plan_scale((1024, 1024), eff.replace(tile_size=256), get("efficientnetb0"), 100 * GIB)
    smoothed = StylizeConfig(network="resnet50", precision="float32")
    with pytest.raises(ConfigError, match="softmax smoothing normalises each layer over the whole image"):
        plan_scale((1024, 1024), smoothed.replace(tile_size=256), get("resnet50"), 100 * GIB)
    # ResNet50 without smoothing tiles like VGG when memory requires it.
    tile, opt, _ = plan_scale((4096, 4096), smoothed.replace(smoothing="none"), get("resnet50"), 8 * GIB)
    assert 0 < tile < 4096 and opt == "adam"


@pytest.mark.parametrize("network", NETWORKS)
def test_activation_bytes_count_every_layer_the_truncated_network_computes(network):
    """The estimate's activations against the real model's own output shapes."""
    from tfstyle.optimize.memory import activation_bytes

    bb = get(network)
    content, style = StylizeConfig(network=network).resolved_layers()
    layers = list(content) + [n for n, _ in style]
    model = bb.keras_model(None)
    truncated = keras.Model(model.input, [model.get_layer(n).output for n in layers])
    names = [layer.name for layer in truncated.layers[1:]]
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    h, w = 80, 96
    outs = probe(np.zeros((1, h, w, 3), np.float32))
    elements = sum(int(np.prod(o.shape)) for o in outs)
    casts = sum(int(np.prod(o.shape)) for n, o in zip(names, outs) if n in layers)
    inputs = 2 * 3 * h * w * 4
    assert activation_bytes((h, w), layers, "float32", bb) == inputs + 4 * elements + 4 * casts
    assert activation_bytes((h, w), layers, "mixed_bfloat16", bb, "softmax") == inputs + 2 * elements + 12 * casts


@pytest.mark.slow
@pytest.mark.parametrize("network", NEW)
def test_stylize_with_masks_colour_and_scales(network, pair):
    """Each network in coarse-to-fine stylize, with a content mask and luminance-only colour."""
    import tfstyle

    mask = np.zeros(pair[0].shape[:2], np.float32)
    mask[:, :80] = 1.0
    cfg = StylizeConfig(size=128, steps=4, scales="64,128", network=network, backbone="random",
                        preserve_color="luminance", content_mask="mask.png")
    res = tfstyle.stylize(pair[0], pair[1], cfg, content_mask=mask)
    assert res.stop_reason == "done" and res.image.shape[:2] == (90, 128)
    assert [s.size for s in res.scales] == [64, 128]
    assert all(np.isfinite(v).all() for v in res.history.values())
    assert any(k.startswith(f"style/") for k in res.history)


@pytest.mark.slow
def test_train_with_a_resnet50_loss_network(tmp_path, shared_images, style_path):
    import json

    from ffdata import TINY_NET, TINY_TRAIN, make_photos

    import tfstyle

    photos = make_photos(tmp_path / "photos", shared_images, n=4, corrupt=0)
    cfg = TINY_TRAIN.replace(steps=3, network="resnet50", content_layers=("conv2_block1_out",),
                             style_layers=(("conv1_relu", 1.0), ("conv2_block1_out", 1.0)))
    res = tfstyle.train(style_path, photos, tmp_path / "m", cfg, network=TINY_NET)
    assert res.stop_reason == "done" and res.steps == 3 and np.isfinite(res.history["total"]).all()
    assert res.weights.network == "resnet50"
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert "resnet50" in json.dumps(meta)


def _cli(*args, env=None):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "tfstyle", *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=env)


@pytest.mark.slow
@pytest.mark.parametrize("network", NEW)
def test_cli_stylize_with_and_without_a_weight_file(network, weight_files, tmp_path, content_path, style_path):
    path, _, _ = weight_files[network]
    env = {**os.environ, "KERAS_HOME": str(tmp_path / "keras"), "TFSTYLE_OFFLINE": "1"}
    out = tmp_path / "w.png"
    r = _cli("stylize", content_path, style_path, "-o", out, "--network", network, "--weights", path, "--size", 64,
             "--steps", 2, env=env)
    assert r.returncode == 0, r.stderr
    assert "NOTE" not in r.stderr and f"ImageNet weights from {path}" in r.stderr
    r = _cli("stylize", content_path, style_path, "-o", tmp_path / "r.png", "--network", network, "--size", 64,
             "--steps", 2, "-q", env=env)
    assert r.returncode == 0, r.stderr
    notes = [line for line in r.stderr.splitlines() if "NOTE" in line and "weights" in line]
    assert len(notes) == 1 and "fixed-seed random-weight" in notes[0], r.stderr


@pytest.mark.slow
def test_cli_tiles_resnet50_and_refuses_to_tile_efficientnet(tmp_path, content_path, style_path):
    r = _cli("stylize", content_path, style_path, "-o", tmp_path / "t.png", "--network", "resnet50",
             "--smoothing", "none", "--size", 160, "--tile-size", 64, "--steps", 2, "-q")
    assert r.returncode == 0, r.stderr
    r = _cli("stylize", content_path, style_path, "-o", tmp_path / "e.png", "--network", "efficientnetb0",
             "--size", 160, "--tile-size", 64, "--steps", 2)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert "squeeze-and-excitation" in r.stderr and not (tmp_path / "e.png").exists()
    r = _cli("stylize", content_path, style_path, "-o", tmp_path / "l.png", "--network", "resnet50",
             "--content-layers", "block4_conv2")
    assert r.returncode == 2 and "ResNet50 layers are" in r.stderr


def test_weight_free_vgg_pools_by_average_unless_told(pair):
    """The offline default (bench/offline.py): random VGG with average pooling; ImageNet VGG as trained."""
    from tfstyle.optimize.stylizer import Stylizer

    assert StylizeConfig().resolved_pooling(True) == "avg" and StylizeConfig().resolved_pooling(False) == "max"
    assert StylizeConfig(pooling="max").resolved_pooling(True) == "max"
    assert StylizeConfig(network="resnet50").resolved_pooling(True) == "max"
    st = Stylizer(*pair, StylizeConfig(size=64, backbone="random"))
    assert st.extractor.pooling == "avg"
    assert any(isinstance(layer, keras.layers.AveragePooling2D) for layer in st.extractor.model.layers)
