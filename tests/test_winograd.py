"""Winograd 3x3 convolutions (tfstyle.kernels.winograd): the same convolution and input gradient as
TensorFlow's, the layers it replaces, when "auto" picks it, and a run with it."""

import numpy as np
import pytest
import tensorflow as tf

from tfstyle.backbones.extractor import FeatureExtractor, resolve_conv
from tfstyle.kernels.native import _compiler as native_compiler
from tfstyle.backbones.weights import resolve_weights
from tfstyle.kernels.winograd import TransposedConv, WinogradConv
from tfstyle.config import ConfigError, StylizeConfig
from tfstyle.hardware import onednn_enabled


def _rel(a, b):
    return float(tf.reduce_max(tf.abs(a - b)) / tf.reduce_max(tf.abs(b)))


def _value_and_input_grad(fn, x, up):
    """``fn(x)`` and the gradient of ``sum(fn(x) * up)`` with respect to ``x``."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
        loss = tf.reduce_sum(y * up)
    return y, tape.gradient(loss, x)


@pytest.mark.parametrize("m,native", [(4, True), (4, False), (2, False), (6, False)])
@pytest.mark.parametrize("shape,k", [((1, 7, 9, 5), 6), ((2, 13, 10, 8), 4), ((1, 4, 4, 3), 3), ((1, 1, 6, 2), 2),
                                     ((1, 17, 21, 72), 9)])
def test_same_convolution_and_input_gradient_as_tensorflow(m, native, shape, k):
    """F(4, 3) with the native transforms (where a compiler built them) and with TensorFlow's ops, F(2, 3)
    and F(6, 3); odd sizes, a batch of two, and more channels than the native ops' block of 64."""
    rng = np.random.default_rng(1)
    x = tf.constant(rng.standard_normal(shape).astype(np.float32))
    g = rng.standard_normal((3, 3, shape[-1], k)).astype(np.float32)
    up = tf.constant(rng.standard_normal((*shape[:3], k)).astype(np.float32))
    conv = WinogradConv(g, m, native=native)
    assert (conv.native is not None) == (native and native_compiler() is not None)
    want_y, want_g = _value_and_input_grad(lambda v: tf.nn.conv2d(v, g, 1, "SAME"), x, up)
    got_y, got_g = _value_and_input_grad(conv, x, up)
    assert got_y.shape == want_y.shape and got_g.shape == want_g.shape
    assert _rel(got_y, want_y) < 1e-4 and _rel(got_g, want_g) < 1e-4
    # and inside a tf.function whose input has unknown height and width
    fn = tf.function(conv, input_signature=[tf.TensorSpec((None, None, None, shape[-1]), tf.float32)])
    assert _rel(fn(x), want_y) < 1e-4


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("transposed", [True, False])
def test_both_product_layouts_compute_the_convolution(monkeypatch, transposed, native):
    """The kernels are kept (36, K, C) where oneDNN runs the batched matmul and (36, C, K) under Eigen
    (``hardware.winograd_products_transposed``); both layouts give the convolution and its input
    gradient."""
    from tfstyle import hardware

    assert hardware.winograd_products_transposed() == hardware.onednn_enabled()
    monkeypatch.setattr(hardware, "winograd_products_transposed", lambda: transposed)
    rng = np.random.default_rng(2)
    x = tf.constant(rng.standard_normal((1, 11, 14, 12)).astype(np.float32))
    g = rng.standard_normal((3, 3, 12, 20)).astype(np.float32)
    conv = WinogradConv(g, 4, native=native)
    assert conv.u.shape == ((36, 20, 12) if transposed else (36, 12, 20))
    up = tf.constant(rng.standard_normal((1, 11, 14, 20)).astype(np.float32))
    y, gy = _value_and_input_grad(conv, x, up)
    want, gwant = _value_and_input_grad(lambda v: tf.nn.conv2d(v, g, 1, "SAME"), x, up)
    assert _rel(y, want) < 1e-4 and _rel(gy, gwant) < 1e-4


@pytest.mark.parametrize("compiled", [False, True])
def test_transposed_convolution_matches_tensorflows(compiled):
    """Forward and input gradient of TransposedConv against tf.nn.conv2d, odd sizes, 3 -> 5 channels."""
    rng = np.random.default_rng(1)
    x = tf.constant(rng.standard_normal((2, 9, 14, 3)).astype(np.float32))
    k = tf.Variable(rng.standard_normal((3, 3, 3, 5)).astype(np.float32))
    w = tf.constant(rng.standard_normal((2, 9, 14, 5)).astype(np.float32))
    conv = TransposedConv(k)

    def both(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            ours, ref = conv(x), tf.nn.conv2d(x, k, 1, "SAME")
            lo, lr = tf.reduce_sum(tf.sin(ours) * w), tf.reduce_sum(tf.sin(ref) * w)
        return ours, ref, tape.gradient(lo, x), tape.gradient(lr, x)

    ours, ref, go, gr = (tf.function(both) if compiled else both)(x)
    assert _rel(ours, ref) < 1e-5 and _rel(go, gr) < 1e-5


def test_refuses_other_kernels():
    with pytest.raises(ValueError, match="3x3"):
        WinogradConv(np.zeros((5, 5, 2, 2), np.float32))
    with pytest.raises(ValueError, match="m in"):
        WinogradConv(np.zeros((3, 3, 2, 2), np.float32), m=3)


LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1", "block4_conv2"]


@pytest.fixture(scope="module")
def extractors():
    info = resolve_weights("random")
    return tuple(FeatureExtractor(LAYERS, info, "float32", pooling="avg", conv=c) for c in ("direct", "winograd"))


def test_extractor_matches_tensorflow_and_replaces_the_wide_layers(extractors):
    direct, wino = extractors
    assert direct.conv == "direct" and wino.conv == "winograd"
    # Layers with enough input channels (64 under oneDNN, else 128), up to the deepest requested
    # layer (block5_conv1); under oneDNN the first (3 channels) as a transposed convolution.
    wide = ["block2_conv2", "block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4", "block4_conv1",
            "block4_conv2", "block4_conv3", "block4_conv4", "block5_conv1"]
    if onednn_enabled():
        assert wino._chain.replaced == ["block1_conv2", "block2_conv1"] + wide
        assert wino._chain.transposed == ["block1_conv1"]
    else:
        assert wino._chain.replaced == wide and wino._chain.transposed == []
    x = tf.constant(np.random.default_rng(0).random((1, 45, 70, 3)).astype(np.float32))

    def run(e):
        with tf.GradientTape() as tape:
            tape.watch(x)
            f = e(x)
            loss = sum(tf.reduce_mean(v ** 2) for v in f.values())
        return f, tape.gradient(loss, x)

    fd, gd = run(direct)
    fw, gw = run(wino)
    assert sorted(fw) == sorted(LAYERS)
    for n in LAYERS:
        assert fw[n].dtype == tf.float32 and _rel(fw[n], fd[n]) < 1e-4, n
    # A ReLU whose input is within rounding of 0 may pass or stop the gradient: compare in L2.
    assert float(tf.norm(gw - gd) / tf.norm(gd)) < 1e-3


def test_auto_picks_winograd_for_float32_vgg_on_any_cpu(monkeypatch):
    import tfstyle.hardware

    monkeypatch.setattr(tfstyle.hardware, "cpu_has_bf16_instructions", lambda: False)
    assert resolve_conv("auto", "float32", chain=True) == "winograd"
    assert resolve_conv("auto", "float32", chain=False) == "direct"
    assert resolve_conv("auto", "mixed_bfloat16", chain=True) == "direct"
    assert resolve_conv("direct", "float32", chain=True) == "direct"
    monkeypatch.setattr(tfstyle.hardware, "cpu_has_bf16_instructions", lambda: True)
    assert resolve_conv("auto", "float32", chain=True) == "winograd"  # float32 asked for on a bf16 CPU
    assert resolve_conv("auto", "mixed_bfloat16", chain=True) == "direct"
    assert resolve_conv("winograd", "float32", chain=True) == "winograd"
    with pytest.raises(ConfigError, match="VGG"):
        resolve_conv("winograd", "float32", chain=False)
    with pytest.raises(ConfigError, match="float32"):
        resolve_conv("winograd", "mixed_bfloat16", chain=True)
    with pytest.raises(ConfigError, match="conv_algorithm"):
        StylizeConfig(conv_algorithm="fft").validate()


def test_a_run_with_winograd_follows_the_direct_run(content_path, style_path):
    """Stylize 8 steps both ways: the loss histories agree to float32 rounding."""
    from tfstyle import stylize

    hist = {}
    for conv in ("direct", "winograd"):
        cfg = StylizeConfig(size=64, steps=8, precision="float32", backbone="random", conv_algorithm=conv)
        res = stylize(content_path, style_path, cfg)
        hist[conv] = np.array(res.history["total"])
        assert res.image.shape[:2] == (43, 64)
    np.testing.assert_allclose(hist["winograd"], hist["direct"], rtol=1e-3)
    assert hist["direct"][-1] < hist["direct"][0]
