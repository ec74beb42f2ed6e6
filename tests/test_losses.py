"""Every loss against a naive NumPy version, the full objective's gradient against finite
differences in float64, loss parts falling on real images, and mixed precision."""

import numpy as np
import pytest
import tensorflow as tf

from tfstyle import load_image  # noqa: E402
from tfstyle.config import StylizeConfig  # noqa: E402
from tfstyle.backbones.extractor import build_network  # noqa: E402
from tfstyle.backbones.vgg import BGR_MEAN as _BGR_MEAN  # noqa: E402
from tfstyle.backbones.weights import resolve_weights  # noqa: E402
from tfstyle.objective.losses import (  # noqa: E402
    StyleContentLoss,
    content_layer_loss,
    gram,
    style_layer_loss,
    total_variation,
)
from tfstyle.hardware import native_bfloat16  # noqa: E402
from tfstyle.optimize.stylizer import Stylizer  # noqa: E402

EPS = 1e-8  # the losses' guard against an all-zero target


# ---- naive references: loops and plain NumPy, float64 -------------------------------------------

def np_gram(f):
    """(B, H, W, C) -> (B, C, C) in float64: sum over pixels of outer products, divided by H*W."""
    b, h, w, c = f.shape
    flat = np.asarray(f, np.float64).reshape(b, h * w, c)
    return np.einsum("bpi,bpj->bij", flat, flat) / (h * w)


def np_style_layer(g, a):
    return np.mean((g - a) ** 2) / (np.mean(a ** 2) + EPS)


def np_content(f, p):
    return np.mean((f - p) ** 2) / (np.mean(p ** 2) + EPS)


def np_tv(img):
    _, h, w, _ = img.shape
    dy = img[:, 1:] - img[:, :-1]
    dx = img[:, :, 1:] - img[:, :, :-1]
    return (np.mean(dy ** 2) + np.mean(dx ** 2)) * np.sqrt(h * w) / 256.0


def np_objective(feats, image, content_targets, style_targets, layer_weights, cw, sw, tvw):
    total_w = sum(layer_weights.values())
    parts = {}
    for n, p in content_targets.items():
        parts[f"content/{n}"] = cw / len(content_targets) * np_content(feats[n], p)
    for n, a in style_targets.items():
        parts[f"style/{n}"] = sw * layer_weights[n] / total_w * np_style_layer(np_gram(feats[n]), a)
    parts["tv"] = tvw * np_tv(image)
    return sum(parts.values()), parts


# ---- the loss functions ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(7)


def test_gram_matches_numpy(rng):
    f = rng.standard_normal((2, 5, 7, 4)).astype(np.float32)
    np.testing.assert_allclose(gram(tf.constant(f)).numpy(), np_gram(f), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("compiled", [False, True])
def test_gram_gradient_is_autodiffs(rng, compiled):
    """The recorded one-matmul input gradient equals autodiff's of F^T F / (H*W), batches included,
    eagerly and inside a tf.function, for a loss that is not symmetric in G."""
    f = tf.constant(rng.standard_normal((2, 5, 7, 6)).astype(np.float32))
    w = tf.constant(rng.standard_normal((2, 6, 6)).astype(np.float32))

    def grads(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            ours = tf.reduce_sum(w * gram(x) ** 2)
            flat = tf.reshape(x, (2, 35, 6))
            plain = tf.reduce_sum(w * (tf.matmul(flat, flat, transpose_a=True) / 35.0) ** 2)
        return tape.gradient(ours, x), tape.gradient(plain, x)

    ours, plain = (tf.function(grads) if compiled else grads)(f)
    np.testing.assert_allclose(ours.numpy(), plain.numpy(), rtol=1e-5, atol=1e-6)


def test_gram_is_float32_for_low_precision_input(rng):
    f = rng.standard_normal((1, 6, 6, 3)).astype(np.float32)
    # float16 features are multiplied in float32 (float16 sums of H*W products overflow): exact.
    g = gram(tf.cast(f, tf.float16))
    assert g.dtype == tf.float32
    np.testing.assert_allclose(g.numpy(), np_gram(tf.cast(tf.cast(f, tf.float16), tf.float32).numpy()),
                               rtol=1e-5, atol=1e-6)
    # bfloat16 features: at most one bfloat16 rounding (8 bits) of the result, on any CPU.
    g = gram(tf.cast(f, tf.bfloat16))
    assert g.dtype == tf.float32
    ref = np_gram(tf.cast(tf.cast(f, tf.bfloat16), tf.float32).numpy())
    np.testing.assert_allclose(g.numpy(), ref, rtol=2.0 ** -8, atol=1e-3)


def _bf16_features():
    return tf.cast(tf.nn.relu(tf.random.stateless_normal((1, 300, 300, 16), seed=(1, 2))), tf.bfloat16)


def test_bfloat16_gram_sums_in_float32():
    """A Gram of 90,000 pixels of bfloat16 features: summed in bfloat16 it would be off by percents
    (each addition rounds to 8 bits); summed in float32 and rounded once, it is within 2^-8. gram()
    takes the bfloat16 matmul only where it sums in float32 (native bfloat16), float32 elsewhere:
    this holds on every CPU kind."""
    f = _bf16_features()
    exact = np_gram(tf.cast(f, tf.float64).numpy())
    g = gram(f).numpy()
    rel = np.abs(g - exact) / np.abs(exact).max()
    assert rel.max() <= 2.0 ** -8
    assert np.sqrt(np.mean((g - exact) ** 2) / np.mean(exact ** 2)) < 3e-3


def test_gram_path_follows_native_bfloat16():
    """Where bfloat16 is native the Gram is the bfloat16 matmul's (each entry of F^T F a bfloat16
    value, then divided by H*W in float32); elsewhere it is the float32 Gram of the same features,
    to float32 rounding."""
    f = _bf16_features()
    g = gram(f)
    float32 = gram(tf.cast(f, tf.float32)).numpy()
    if native_bfloat16():
        sums = g.numpy() * (f.shape[1] * f.shape[2])  # F^T F, to float32 rounding
        np.testing.assert_allclose(sums, tf.cast(tf.cast(sums, tf.bfloat16), tf.float32).numpy(), rtol=1e-6)
        assert not np.allclose(g.numpy(), float32, rtol=1e-5)  # the bfloat16 matmul, not a float32 one
    else:
        np.testing.assert_allclose(g.numpy(), float32, rtol=1e-6)


def test_gram_multiplies_in_float32_where_bfloat16_is_not_native(monkeypatch):
    """The fallback of CPUs without native bfloat16, checked on every CPU kind."""
    from tfstyle import hardware

    monkeypatch.setattr(hardware, "native_bfloat16", lambda: False)
    f = _bf16_features()
    exact = np_gram(tf.cast(f, tf.float64).numpy())
    g = gram(f).numpy()
    assert np.abs(g - exact).max() / np.abs(exact).max() < 1e-6


def test_onednn_off_means_no_native_bfloat16_and_float32_by_default(tmp_path):
    """With TF_ENABLE_ONEDNN_OPTS=0 bfloat16 is emulated even on AMX: auto precision stays float32."""
    import os
    import subprocess
    import sys

    code = ("from tfstyle import hardware; "
            "print(hardware.native_bfloat16(), hardware.resolve_precision('auto'))")
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "0"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-1000:]
    assert r.stdout.split() == ["False", "float32"]


def test_style_layer_loss_matches_numpy(rng):
    g = rng.standard_normal((1, 6, 6)).astype(np.float32)
    a = rng.standard_normal((1, 6, 6)).astype(np.float32)
    assert float(style_layer_loss(g, a)) == pytest.approx(np_style_layer(g, a), rel=1e-5)
    assert float(style_layer_loss(a, a)) == 0.0


def test_content_loss_matches_numpy(rng):
    f = rng.standard_normal((1, 4, 5, 3)).astype(np.float32)
    p = rng.standard_normal((1, 4, 5, 3)).astype(np.float32)
    assert float(content_layer_loss(f, p)) == pytest.approx(np_content(f, p), rel=1e-5)


def test_total_variation_matches_numpy(rng):
    img = rng.uniform(0, 1, (1, 9, 13, 3)).astype(np.float32)
    assert float(total_variation(tf.constant(img))) == pytest.approx(np_tv(img), rel=1e-5)
    flat = np.full((1, 8, 8, 3), 0.3, np.float32)
    assert float(total_variation(tf.constant(flat))) == 0.0


def test_style_content_loss_parts_match_numpy(rng):
    feats = {"a": rng.standard_normal((1, 6, 6, 4)).astype(np.float32),
             "b": rng.standard_normal((1, 3, 3, 8)).astype(np.float32)}
    image = rng.uniform(0, 1, (1, 12, 12, 3)).astype(np.float32)
    content_targets = {"b": rng.standard_normal((1, 3, 3, 8)).astype(np.float32)}
    style_targets = {"a": np_gram(rng.standard_normal((1, 6, 6, 4))),
                     "b": np_gram(rng.standard_normal((1, 3, 3, 8)))}
    weights = {"a": 1.0, "b": 3.0}
    loss = StyleContentLoss(content_targets, style_targets, weights, content_weight=2.0,
                            style_weight=10.0, tv_weight=5.0)
    total, parts = loss({k: tf.constant(v) for k, v in feats.items()}, tf.constant(image))
    ref_total, ref_parts = np_objective(feats, image, content_targets, style_targets, weights, 2.0, 10.0, 5.0)
    assert set(parts) == {"content/b", "style/a", "style/b", "tv"}
    for k, v in ref_parts.items():
        assert float(parts[k]) == pytest.approx(v, rel=1e-5), k
    assert float(total) == pytest.approx(ref_total, rel=1e-5)


# ---- the full objective ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def images(content_path, style_path):
    return load_image(content_path), load_image(style_path)


def _float64_objective(st: Stylizer):
    """The Stylizer's objective rebuilt in float64: the same VGG19 weights and pooling under a float64 policy,
    the caffe preprocessing and the naive NumPy losses above."""
    import keras

    _, inputs, taps, _ = build_network(st.weights, "float64", st.extractor.pooling)
    layers = st.extractor.layers
    model = keras.Model(inputs, {n: taps[n] for n in layers})

    def feats(rgb):  # (1, H, W, 3) float64 in [0, 1]
        x = rgb[..., ::-1] * 255.0 - np.array(_BGR_MEAN)
        out = model(tf.constant(x, tf.float64))
        return {n: out[n].numpy() for n in layers}

    c = st.config
    layer_w = {n: w for n, w in c.style_layers if w > 0}
    cf = feats(st.content[None].astype(np.float64))
    sf = feats(st.style[None].astype(np.float64))
    content_t = {n: cf[n] for n in c.content_layers}
    style_t = {n: np_gram(sf[n]) for n in layer_w}

    def objective(img):
        return np_objective(feats(img), img, content_t, style_t, layer_w, c.content_weight,
                            c.style_weight, c.tv_weight)

    return objective


@pytest.mark.slow
def test_gradient_matches_float64_finite_differences(images):
    """d(objective)/d(pixel) from the library's tape (float32) equals central differences of the
    objective rebuilt in float64, on a 16x24 image."""
    cfg = StylizeConfig(size=24, steps=1, precision="float32", content_weight=1.0, style_weight=10.0,
                        tv_weight=5.0, style_layers=(("block1_conv1", 1.0), ("block2_conv1", 0.5),
                                                     ("block3_conv1", 1.0)),
                        content_layers=("block2_conv2",))
    content, style = images
    side = min(style.shape[:2])  # a square crop: the wide style image would fall under 16 px
    st = Stylizer(content, style[:side, :side], cfg, resolve_weights("random"))
    assert st.shape == (16, 24)
    x = np.random.default_rng(3).uniform(0.1, 0.9, (1, *st.shape, 3))
    total, parts, grad = st._value_and_grad(tf.constant(x, tf.float32))
    grad = grad.numpy()[0].astype(np.float64)

    objective = _float64_objective(st)
    ref_total, ref_parts = objective(x)
    assert float(total) == pytest.approx(ref_total, rel=1e-4)  # float32 vs float64 forward
    for k, v in ref_parts.items():
        assert float(parts[k]) == pytest.approx(v, rel=1e-3, abs=1e-7), k

    h = 1e-4
    pixels = [(0, 0, 0), (5, 7, 1), (8, 12, 2), (15, 23, 0), (3, 20, 2), (11, 2, 1)]
    fd, tape = [], []
    for y, xx, ch in pixels:
        up, down = x.copy(), x.copy()
        up[0, y, xx, ch] += h
        down[0, y, xx, ch] -= h
        fd.append((objective(up)[0] - objective(down)[0]) / (2 * h))
        tape.append(grad[y, xx, ch])
    fd, tape = np.array(fd), np.array(tape)
    assert np.abs(fd).max() > 0
    # float32 tape vs float64 differences: agree to ~0.1% of the gradient's scale.
    np.testing.assert_allclose(tape, fd, rtol=2e-3, atol=2e-3 * np.abs(fd).max())


def _falls(history, key, start=1):
    """Mean of the last three steps below the value at ``start`` (step 1 is 0 for some parts)."""
    h = np.array(history[key])
    return h[-3:].mean() < h[start - 1]


@pytest.mark.slow
def test_run_lowers_every_loss_part_from_noise(images):
    cfg = StylizeConfig(size=48, steps=40, optimizer="adam", lr=0.02, init="noise", precision="float32", pooling="max")
    res = Stylizer(*images, cfg, resolve_weights("random")).run()
    assert res.stop_reason == "done" and res.steps == 40
    for key in res.history:
        assert _falls(res.history, key), (key, res.history[key][0], res.history[key][-1])
    assert {k for k in res.history if k.startswith("style/")} == {f"style/{n}" for n, _ in cfg.resolved_layers()[1]}


@pytest.mark.slow
def test_run_lowers_style_from_content(images):
    cfg = StylizeConfig(size=48, steps=15, optimizer="lbfgs", init="content", precision="float32")
    res = Stylizer(*images, cfg, resolve_weights("random")).run()
    style = np.sum([res.history[k] for k in res.history if k.startswith("style/")], axis=0)
    assert style[-1] < 0.7 * style[0], style
    assert res.history["total"][-1] < res.history["total"][0]
    for key in (k for k in res.history if k.startswith("style/")):
        assert res.history[key][-1] < res.history[key][0], key


@pytest.mark.slow
def test_mixed_precision_runs_with_float32_grams(images):
    cfg = StylizeConfig(size=32, steps=3, optimizer="adam", precision="mixed")
    st = Stylizer(*images, cfg, resolve_weights("random"))
    assert st.policy in ("mixed_bfloat16", "mixed_float16")
    conv = st.extractor.model.get_layer("block1_conv1")
    assert conv.compute_dtype in ("bfloat16", "float16")  # really low-precision math
    feats = st.extractor(st.content[None])
    assert all(v.dtype == tf.float32 for v in feats.values())
    # The optimiser's own path keeps bfloat16 features for the Grams (never float16 ones).
    kept = st.extractor(st.content[None], keep_bfloat16=True)
    want = tf.bfloat16 if st.policy == "mixed_bfloat16" else tf.float32
    assert all(v.dtype == want for v in kept.values())
    assert all(t.dtype == tf.float32 for t in st.loss.style_targets.values())
    res = st.run()
    assert res.stop_reason == "done" and res.policy == st.policy
    for k, v in res.history.items():
        assert np.isfinite(v).all(), k
    # The mixed run's loss is close to the float32 one at the same image (bf16 has 8 bits of mantissa).
    st32 = Stylizer(*images, cfg.replace(precision="float32"), resolve_weights("random"))
    x = tf.constant(st.content[None])
    t_mixed = float(st._value_and_grad(x)[0])
    t32 = float(st32._value_and_grad(x)[0])
    assert np.isfinite(t_mixed)
    assert t_mixed == pytest.approx(t32, rel=0.2, abs=0.05)
