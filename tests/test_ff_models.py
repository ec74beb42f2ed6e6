import json

import numpy as np
import pytest
import tensorflow as tf
from ffdata import TINY_LIGHT_NET, TINY_NET

from tfstyle.config import NETWORK_PRESETS, NetworkConfig
from tfstyle.objective.losses import StyleContentLoss, gram
from tfstyle.feedforward.networks import (MODEL_FILE, WEIGHTS_FILE, ModelError, build_transform_net, load_model_dir,
                            network_cost, save_model_dir)


@pytest.mark.parametrize("net", [TINY_NET, TINY_LIGHT_NET])
@pytest.mark.parametrize("hw", [(16, 16), (17, 23), (33, 50), (64, 41)])
def test_any_input_size_comes_back_same_size(net, hw):
    model = build_transform_net(net)
    x = np.random.default_rng(0).random((2, *hw, 3), dtype=np.float32)
    y = model(x).numpy()
    assert y.shape == x.shape and y.dtype == np.float32
    assert 0.0 <= y.min() and y.max() <= 1.0


def test_no_transposed_convolutions_and_nearest_upsampling():
    model = build_transform_net(NETWORK_PRESETS["standard"])
    kinds = [layer.__class__.__name__ for layer in model.layers]
    assert "Conv2DTranspose" not in kinds
    ups = [layer for layer in model.layers if layer.__class__.__name__ == "NearestUp2"]
    assert len(ups) == 2
    x = np.arange(2 * 3 * 2, dtype=np.float32).reshape(1, 2, 3, 2)
    np.testing.assert_array_equal(ups[0](x).numpy(), np.repeat(np.repeat(x, 2, axis=1), 2, axis=2))


def test_network_cost_matches_a_hand_count():
    net = NetworkConfig(filters=(4, 8, 8), residual_blocks=1, separable=False, outer_kernel=3)
    h = w = 16
    macs = (h * w * 9 * 3 * 4            # down0
            + (h // 2) * (w // 2) * 9 * 4 * 8       # down1 (stride 2)
            + (h // 4) * (w // 4) * 9 * 8 * 8       # down2
            + 2 * (h // 4) * (w // 4) * 9 * 8 * 8   # residual block
            + (h // 2) * (w // 2) * 9 * 8 * 8       # up1
            + h * w * 9 * 8 * 4                     # up2
            + h * w * 9 * 4 * 3)                    # out
    cost = network_cost(net, (h, w))
    assert cost["macs"] == macs and cost["flops"] == 2 * macs
    params = (9 * 3 * 4 + 9 * 4 * 8 + 9 * 8 * 8 + 2 * 9 * 8 * 8 + 9 * 8 * 8 + 9 * 8 * 4 + 9 * 4 * 3 + 3
              + 2 * (4 + 8 + 8 + 8 + 8 + 8 + 4))  # convs (no bias but the last) + norm scale/shift
    assert cost["params"] == params


def test_light_network_is_much_cheaper_than_standard():
    std = network_cost(NETWORK_PRESETS["standard"])
    light = network_cost(NETWORK_PRESETS["light"])
    assert light["flops"] * 10 < std["flops"] and light["params"] * 10 < std["params"]


def test_model_folder_round_trip(tmp_path):
    model = build_transform_net(TINY_NET, seed=3)
    save_model_dir(model, TINY_NET, tmp_path / "m", {"steps": 7})
    loaded, net, meta = load_model_dir(tmp_path / "m")
    assert net == TINY_NET and meta == {"steps": 7}
    x = np.random.default_rng(2).random((1, 24, 28, 3), dtype=np.float32)
    np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())


def _write_model(tmp_path):
    d = tmp_path / "m"
    save_model_dir(build_transform_net(TINY_NET), TINY_NET, d)
    return d


@pytest.mark.parametrize("damage,needle", [
    (lambda d: (d / MODEL_FILE).unlink(), "model.json is missing"),
    (lambda d: (d / WEIGHTS_FILE).unlink(), "model.weights.h5 is missing"),
    (lambda d: (d / MODEL_FILE).write_text("{not json"), "not valid JSON"),
    (lambda d: (d / MODEL_FILE).write_text(json.dumps({"format": "keras", "version": 1})), "not a tfstyle"),
    (lambda d: (d / MODEL_FILE).write_text(json.dumps({"format": "tfstyle-feedforward", "version": 99,
                                                       "network": {}})), "version"),
    # Extra keys (e.g. a class name to import) are refused, not interpreted.
    (lambda d: _edit(d, lambda n: n.update(class_name="os.system")), "network keys"),
    (lambda d: _edit(d, lambda n: n.update(filters=[8, 16, -1])), "filters"),
    # The JSON describes another architecture than the weights file holds.
    (lambda d: _edit(d, lambda n: n.update(filters=[8, 16, 32])), "do not load"),
    (lambda d: (d / WEIGHTS_FILE).write_bytes(b"garbage"), "do not load"),
    (lambda d: _drop_layer_weights(d), "do not load"),
])
def test_malformed_model_folders_are_one_line_errors(tmp_path, damage, needle):
    d = _write_model(tmp_path)
    damage(d)
    with pytest.raises(ModelError) as e:
        load_model_dir(d)
    assert needle in str(e.value) and "\n" not in str(e.value)


def _edit(d, change):
    doc = json.loads((d / MODEL_FILE).read_text())
    change(doc["network"])
    (d / MODEL_FILE).write_text(json.dumps(doc))


def _drop_layer_weights(d):
    import h5py

    with h5py.File(d / WEIGHTS_FILE, "r+") as f:
        del f["layers/conv2d/vars/0"]  # the first convolution's kernel


def test_missing_model_folder(tmp_path):
    with pytest.raises(ModelError, match="no such directory"):
        load_model_dir(tmp_path / "nope")


def test_batched_losses_broadcast_style_targets_and_match_numpy():
    rng = np.random.default_rng(0)
    feats = rng.random((3, 5, 4, 6), dtype=np.float32)       # (B, h, w, C) of the outputs
    content = rng.random((3, 5, 4, 6), dtype=np.float32)     # per-photo content targets
    style = gram(rng.random((1, 7, 3, 6), dtype=np.float32)).numpy()  # (1, C, C)
    img = rng.random((3, 8, 8, 3), dtype=np.float32)
    loss = StyleContentLoss({}, {"s": style}, {"s": 1.0}, content_weight=2.0, style_weight=3.0, tv_weight=0.0)
    total, parts = loss({"s": tf.constant(feats), "c": tf.constant(feats)}, tf.constant(img),
                        content_targets={"c": tf.constant(content)})
    f = feats.reshape(3, 20, 6)
    g = np.einsum("bnc,bnd->bcd", f, f) / 20                 # (B, C, C)
    want_style = 3.0 * np.mean((g - style) ** 2) / np.mean(style ** 2)
    want_content = 2.0 * np.mean((feats - content) ** 2) / np.mean(content ** 2)
    np.testing.assert_allclose(float(parts["style/s"]), want_style, rtol=1e-5)
    np.testing.assert_allclose(float(parts["content/c"]), want_content, rtol=1e-5)
    np.testing.assert_allclose(float(total), want_style + want_content, rtol=1e-5)
