"""Artist controls of ``tfstyle stylize``: each test measures the control's effect on tiny images."""

import subprocess
import sys

import h5py
import numpy as np
import pytest
from PIL import Image

from tfstyle.objective import color
from tfstyle.config import PRESETS, ConfigError, StylizeConfig
from tfstyle.io.images import ImageError, load_image, resize

SIZE = 64


@pytest.fixture(scope="module")
def weights():
    from tfstyle.backbones.weights import resolve_weights

    return resolve_weights("random")


@pytest.fixture(scope="module")
def content(content_path):
    return load_image(content_path)


@pytest.fixture(scope="module")
def scream(shared_images):  # warm oranges
    return load_image(shared_images / "style" / "munch_the_scream.jpg")


@pytest.fixture(scope="module")
def wave(shared_images):  # cold blues
    return load_image(shared_images / "style" / "hokusai_great_wave.jpg")


def style_distance(st, image, style):
    """Mean relative Gram error over the style layers between ``image`` and ``style`` (lower = closer)."""
    from tfstyle.objective.losses import gram, style_layer_loss

    f, g = st.extractor(image[None]), st.extractor(style[None])
    return float(np.mean([float(style_layer_loss(gram(f[n]), gram(g[n]))) for n, _ in st.config.resolved_layers()[1]]))


def run_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "tfstyle", "stylize", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def assert_usage_error(r, *words):
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], lines[0]


# --- several styles ----------------------------------------------------------------------------


def test_blend_target_is_weighted_sum_of_style_grams(content, scream, wave, weights):
    from tfstyle.objective.losses import gram
    from tfstyle.optimize.stylizer import Stylizer

    st = Stylizer(content, [scream, wave], StylizeConfig(size=SIZE, style_blend=(3.0, 1.0)), weights)
    assert st.blend == (0.75, 0.25)
    for name, target in st.loss.style_targets.items():
        ga = gram(st.extractor(st.styles[0][None])[name])
        gb = gram(st.extractor(st.styles[1][None])[name])
        np.testing.assert_allclose(target.numpy(), (0.75 * ga + 0.25 * gb).numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_style_loss_against_each_style_moves_with_its_weight(content, scream, wave, weights):
    from tfstyle.optimize.stylizer import Stylizer

    dist = {}
    for blend in ((0.9, 0.1), (0.1, 0.9)):
        cfg = StylizeConfig(size=SIZE, steps=15, style_blend=blend, optimizer="lbfgs")
        st = Stylizer(content, [scream, wave], cfg, weights)
        out = st.run().image
        dist[blend] = (style_distance(st, out, st.styles[0]), style_distance(st, out, st.styles[1]))
    # More weight on a style brings the output closer to that style, and further from the other.
    assert dist[(0.9, 0.1)][0] < 0.5 * dist[(0.1, 0.9)][0], dist
    assert dist[(0.1, 0.9)][1] < 0.5 * dist[(0.9, 0.1)][1], dist


def test_blend_weights_validation():
    assert StylizeConfig().blend_weights(2) == (0.5, 0.5)
    with pytest.raises(ConfigError, match="3 weights for 2 style images"):
        StylizeConfig(style_blend=(1, 2, 3)).blend_weights(2)
    with pytest.raises(ConfigError, match="not all be 0"):
        StylizeConfig(style_blend=(0, 0)).validate()


def test_cli_blend_count_mismatch_is_a_one_line_usage_error(tmp_path, content_path, style_path):
    out = tmp_path / "out.png"
    r = run_cli(content_path, style_path, style_path, "-o", out, "--style-blend", "0.2,0.3,0.5")
    assert_usage_error(r, "style_blend", "3 weights for 2 style images")
    assert not out.exists()
    r = run_cli(content_path, style_path, "-o", out, "--style-blend", "0.2,x")
    assert_usage_error(r, "--style-blend", "'x' is not a number")


@pytest.mark.slow
def test_cli_two_styles_with_blend_writes_image(tmp_path, content_path, shared_images):
    out = tmp_path / "out.png"
    r = run_cli(content_path, shared_images / "style" / "munch_the_scream.jpg",
                shared_images / "style" / "hokusai_great_wave.jpg", "-o", out, "--style-blend", "0.7,0.3",
                "--size", "48", "--steps", "3", "-q")
    assert r.returncode == 0, r.stderr
    assert max(Image.open(out).size) == 48


# --- style scale -------------------------------------------------------------------------------


def test_style_scale_resizes_style_relative_to_output_keeping_its_aspect(content, scream, weights):
    from tfstyle.optimize.stylizer import Stylizer

    for scale in (0.5, 2.0):
        st = Stylizer(content, scream, StylizeConfig(size=SIZE, style_scale=scale), weights)
        h, w = st.style.shape[:2]
        assert max(h, w) == round(SIZE * scale)
        assert abs(w / h - scream.shape[1] / scream.shape[0]) < 0.05  # never stretched to the content's
    with pytest.raises(ConfigError, match="style-scale"):
        Stylizer(content, scream, StylizeConfig(size=SIZE, style_scale=0.1), weights)
    with pytest.raises(ConfigError, match="style_scale must be at most 8"):
        StylizeConfig(style_scale=9).validate()


def _spectral_centroid(img):
    """Power-weighted mean spatial frequency (cycles/pixel) of the luminance: halves when features double."""
    y = color.luminance(img)
    p = np.abs(np.fft.fft2(y - y.mean())) ** 2
    r = np.hypot(*np.meshgrid(np.fft.fftfreq(y.shape[0]), np.fft.fftfreq(y.shape[1]), indexing="ij"))
    return float((p * r).sum() / p.sum())


@pytest.mark.slow
def test_style_scale_2_makes_features_twice_as_large(weights):
    from tfstyle.optimize.stylizer import Stylizer

    # Style: a checkerboard of 4-px squares at the output size; texture synthesis from noise.
    i = np.arange(SIZE)
    checker = np.repeat((((i[:, None] // 4) + (i[None, :] // 4)) % 2).astype(np.float32)[..., None], 3, -1)
    flat = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    centroid = {}
    for scale in (1.0, 2.0):
        # Max pooling, as measured: a weight-free VGG's average pooling blurs 4-px squares away.
        cfg = StylizeConfig(size=SIZE, steps=25, init="noise", content_weight=0, style_scale=scale,
                            optimizer="lbfgs", pooling="max")
        centroid[scale] = _spectral_centroid(Stylizer(flat, checker, cfg, weights).run().image)
    # Measured: 0.232 -> 0.118 cycles/px at 40 steps (ratio 1.97).
    assert 1.5 < centroid[1.0] / centroid[2.0] < 2.6, centroid


# --- colour preservation -----------------------------------------------------------------------


def test_match_color_gives_the_content_colour_statistics(content, scream):
    out = color.match_color(scream, content)
    c = content.reshape(-1, 3)
    o = out.reshape(-1, 3)
    np.testing.assert_allclose(o.mean(0), c.mean(0), atol=0.02)
    np.testing.assert_allclose(np.cov(o, rowvar=False), np.cov(c, rowvar=False), atol=0.004)
    # ... while the style's own statistics were far off.
    assert np.abs(scream.reshape(-1, 3).mean(0) - c.mean(0)).max() > 0.1


def test_yiq_round_trip_and_with_chrominance(content, scream):
    np.testing.assert_allclose(color.yiq_to_rgb(color.rgb_to_yiq(content)), content, atol=1e-5)
    a = resize(scream, content.shape[:2])
    mixed = color.with_chrominance(a, content)
    inside = (mixed > 0.01).all(-1) & (mixed < 0.99).all(-1)  # not clipped
    np.testing.assert_allclose(color.rgb_to_yiq(mixed)[inside][:, 1:], color.rgb_to_yiq(content)[inside][:, 1:],
                               atol=1e-4)
    np.testing.assert_allclose(color.luminance(mixed)[inside], color.luminance(a)[inside], atol=1e-4)


@pytest.mark.slow
def test_preserve_color_keeps_the_content_chrominance(content, scream, weights):
    from tfstyle.optimize.stylizer import Stylizer

    chroma_err, mean_err, luma_change = {}, {}, {}
    for mode in ("none", "luminance", "histogram"):
        st = Stylizer(content, scream, StylizeConfig(size=SIZE, steps=15, preserve_color=mode), weights)
        out = st.run().image
        luma_change[mode] = float(np.abs(color.luminance(out) - color.luminance(st.content)).mean())
        iq_out, iq_c = color.rgb_to_yiq(out)[..., 1:], color.rgb_to_yiq(st.content)[..., 1:]
        chroma_err[mode] = float(np.abs(iq_out - iq_c).mean())  # per pixel
        mean_err[mode] = float(np.abs(iq_out.mean((0, 1)) - iq_c.mean((0, 1))).max())  # global colour cast
    # Without preservation the scream's oranges come in.
    assert chroma_err["none"] > 0.03, chroma_err
    # Luminance-only transfer: the output's chrominance is the content's (up to clipping).
    assert chroma_err["luminance"] < 0.005, chroma_err
    assert luma_change["luminance"] > 0.02, luma_change  # ... while the style did change the luminance
    # Histogram matching: the overall colour stays the content's.
    assert mean_err["histogram"] < 0.5 * mean_err["none"], mean_err


# --- init --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_init_from_file_noise_and_style(tmp_path, content, scream, weights):
    from tfstyle.io.images import save_image
    from tfstyle.optimize.stylizer import Stylizer

    init_path = tmp_path / "init.png"
    save_image(resize(scream, (60, 40)), init_path)
    st = Stylizer(content, scream, StylizeConfig(size=SIZE, init=str(init_path)), weights)
    start = st.initial_image()
    assert start.shape == (*st.shape, 3)
    np.testing.assert_allclose(start, resize(load_image(init_path), st.shape), atol=1e-6)
    # A run starts from it: one tiny Adam step leaves the file's image.
    out = Stylizer(content, scream, StylizeConfig(size=SIZE, init=str(init_path), steps=1, optimizer="adam",
                                                  lr=1e-5), weights).run().image
    assert np.abs(out - start).max() < 1e-3
    assert np.abs(out - st.content).mean() > 0.1
    noise = [Stylizer(content, scream, StylizeConfig(size=SIZE, init="noise", seed=s), weights).initial_image()
             for s in (1, 1, 2)]
    np.testing.assert_array_equal(noise[0], noise[1])
    assert np.abs(noise[0] - noise[2]).mean() > 0.1
    style_start = Stylizer(content, scream, StylizeConfig(size=SIZE, init="style"), weights).initial_image()
    np.testing.assert_allclose(style_start, resize(st.style, st.shape), atol=1e-6)


def test_cli_missing_init_file_is_a_one_line_usage_error(tmp_path, content_path, style_path):
    out = tmp_path / "out.png"
    r = run_cli(content_path, style_path, "-o", out, "--init", tmp_path / "nope.png")
    assert_usage_error(r, "nope.png", "no such file")
    assert not out.exists()


# --- pooling -----------------------------------------------------------------------------------


def test_average_pooling_rebuilds_the_network_with_the_same_weights(content, scream, weights):
    import keras

    from tfstyle.optimize.stylizer import Stylizer

    st = {p: Stylizer(content, scream, StylizeConfig(size=SIZE, pooling=p), weights) for p in ("max", "avg")}
    layers = {p: {type(layer).__name__ for layer in s.extractor.model.layers} for p, s in st.items()}
    assert "MaxPooling2D" not in layers["avg"] and "AveragePooling2D" in layers["avg"]
    assert "MaxPooling2D" in layers["max"] and "AveragePooling2D" not in layers["max"]
    for layer in st["avg"].extractor.model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            other = st["max"].extractor.model.get_layer(layer.name)
            for a, b in zip(layer.get_weights(), other.get_weights()):
                np.testing.assert_array_equal(a, b)
    x = st["max"].content[None]  # the default starting image
    fmax, favg = st["max"].extractor(x), st["avg"].extractor(x)
    np.testing.assert_allclose(fmax["block1_conv1"].numpy(), favg["block1_conv1"].numpy(), rtol=1e-5, atol=1e-5)
    # Average pooling shrinks deeper activations a lot (measured: block5_conv1 mean square 12x lower),
    # so raw Gram losses would change by orders of magnitude ...
    energy = {p: float(np.mean(np.square(f["block5_conv1"]))) for p, f in (("max", fmax), ("avg", favg))}
    assert energy["max"] > 4 * energy["avg"], energy
    # ... but the losses are relative errors, so the same weights give comparable magnitudes
    # (measured at the content image: total 4.07 max vs 5.90 avg, each part within 2.1x).
    losses = {}
    for p, s in st.items():
        total, parts, grad = s._value_and_grad(x)
        assert np.isfinite(float(total)) and np.isfinite(grad.numpy()).all()
        losses[p] = {"total": float(total), **{k: float(v) for k, v in parts.items() if k.startswith("style/")}}
    for part, value in losses["max"].items():
        assert 1 / 3 < losses["avg"][part] / value < 3, (part, losses)


@pytest.mark.slow
def test_average_pooling_run_lowers_the_loss(content, scream, weights):
    from tfstyle.optimize.stylizer import Stylizer

    r = Stylizer(content, scream, StylizeConfig(size=SIZE, steps=10, pooling="avg"), weights).run()
    assert r.stop_reason in ("done", "converged")
    assert np.isfinite(r.history["total"]).all()
    assert r.history["total"][-1] < 0.5 * r.history["total"][0]


# --- VGG16 -------------------------------------------------------------------------------------


def _write_legacy_h5(model, path):
    """A notop weight file in Keras's legacy h5 layout (what keras.applications loads)."""
    convs = [layer for layer in model.layers if layer.get_weights()]
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        for layer in model.layers:
            g = f.create_group(layer.name)
            names = [f"{layer.name}/kernel:0", f"{layer.name}/bias:0"] if layer in convs else []
            g.attrs["weight_names"] = [n.encode() for n in names]
            for n, w in zip(names, layer.get_weights()):
                g.create_dataset(n, data=w)


def test_vgg16_random_backbone_and_layer_names(weights):
    import keras

    from tfstyle.backbones.extractor import FeatureExtractor
    from tfstyle.backbones.weights import resolve_weights

    info = resolve_weights("random", network="vgg16")
    assert info.network == "vgg16" and "VGG16" in info.notice
    fx = FeatureExtractor(["block4_conv2", "block5_conv3"], info)
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in fx.model.layers) == 13
    with pytest.raises(ConfigError, match="block5_conv4"):
        FeatureExtractor(["block5_conv4"], info)
    with pytest.raises(ConfigError, match="network is vgg16"):
        StylizeConfig(backbone="vgg19", network="vgg16").validate()


def test_vgg16_weights_from_env_and_cache_through_the_loading_code(tmp_path, monkeypatch):
    import keras

    from tfstyle.backbones.extractor import FeatureExtractor, build_model
    from tfstyle.backbones.weights import BackboneError, WeightsInfo, resolve_weights

    # A VGG16 whose weights differ from the built-in random ones.
    ref = build_model(WeightsInfo(None, "random", "", "vgg16"))
    rng = np.random.default_rng(7)
    for layer in ref.layers:
        if isinstance(layer, keras.layers.Conv2D):
            k, b = layer.get_weights()
            layer.set_weights([k * rng.uniform(0.5, 1.5, k.shape).astype(np.float32),
                               rng.normal(0, 0.1, b.shape).astype(np.float32)])
    path = tmp_path / "mine.h5"
    _write_legacy_h5(ref, path)
    monkeypatch.setenv("TFSTYLE_VGG16_WEIGHTS", str(path))
    info = resolve_weights("imagenet", network="vgg16")
    assert (info.source, info.path, info.network) == ("env", str(path), "vgg16")
    x = np.random.default_rng(0).uniform(0, 1, (1, 48, 48, 3)).astype(np.float32)
    got = FeatureExtractor(["block5_conv3"], info)(x)["block5_conv3"].numpy()
    want = keras.Model(ref.input, ref.get_layer("block5_conv3").output)(
        FeatureExtractor(["block1_conv1"], info).preprocess(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # The VGG19 variable does not count for VGG16, and the Keras cache has its own file name.
    monkeypatch.delenv("TFSTYLE_VGG16_WEIGHTS")
    monkeypatch.setenv("TFSTYLE_VGG19_WEIGHTS", str(path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    with pytest.raises(BackboneError, match="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        resolve_weights("imagenet", network="vgg16")
    assert resolve_weights("auto", network="vgg16").is_random
    (tmp_path / "keras" / "models").mkdir(parents=True)
    (tmp_path / "keras" / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(
        path.read_bytes())
    assert resolve_weights("imagenet", network="vgg16").source == "cache"
    # A VGG19 file is not a VGG16 file: one-line error naming it.
    vgg19_file = tmp_path / "vgg19.h5"
    _write_legacy_h5(build_model(WeightsInfo(None, "random", "", "vgg19")), vgg19_file)
    with pytest.raises(BackboneError, match="vgg19.h5 is not a VGG16 notop weight file"):
        FeatureExtractor(["block1_conv1"], WeightsInfo(str(vgg19_file), "flag", "", "vgg16"))


@pytest.mark.slow
def test_cli_vgg16_avg_pooling_run(tmp_path, content_path, style_path):
    out = tmp_path / "out.png"
    r = run_cli(content_path, style_path, "-o", out, "--network", "vgg16", "--pooling", "avg",
                "--size", "48", "--steps", "3")
    assert r.returncode == 0, r.stderr
    assert "random-weight VGG16" in r.stderr
    assert out.exists()


# --- masks -------------------------------------------------------------------------------------


def test_masked_gram_matches_numpy():
    import tensorflow as tf

    from tfstyle.objective.losses import gram, masked_gram

    rng = np.random.default_rng(0)
    f = rng.normal(size=(2, 5, 6, 4)).astype(np.float32)
    m = rng.uniform(0, 1, size=(1, 5, 6, 1)).astype(np.float32)
    flat, w = f.reshape(2, 30, 4), m.reshape(1, 30, 1)
    want = np.einsum("bpi,bpj->bij", flat * w, flat) / w.sum()
    np.testing.assert_allclose(masked_gram(tf.constant(f), tf.constant(m)).numpy(), want, rtol=1e-5)
    ones = np.ones_like(m)
    np.testing.assert_allclose(masked_gram(f, ones).numpy(), gram(f).numpy(), rtol=1e-5)
    # A binary mask gives the Gram of the selected pixels alone.
    half = np.zeros_like(m)
    half[:, :, :3] = 1
    np.testing.assert_allclose(masked_gram(f, half).numpy(), gram(f[:, :, :3]).numpy(), rtol=1e-5)


def _halves(shape):
    left = np.zeros(shape, np.float32)
    left[:, : shape[1] // 2] = 1
    return left, 1 - left


@pytest.mark.slow
def test_content_mask_stylises_inside_and_keeps_the_content_outside(content, scream, weights):
    from tfstyle.optimize.stylizer import Stylizer

    h, w = content.shape[:2]
    left, _ = _halves((h, w))
    st = Stylizer(content, scream, StylizeConfig(size=SIZE, steps=15, init="noise"), weights, content_mask=left)
    seen = []
    out = st.run(callback=lambda p: seen.append(p.image) if p.step == 15 else None).image
    np.testing.assert_array_equal(seen[-1], out)  # progress shows output images too
    mask = st.mask
    margin = st.shape[1] // 2 + 2  # beyond the (resized, slightly soft) edge
    outside = np.abs(out[:, margin:] - st.content[:, margin:])
    inside = np.abs(out[:, : st.shape[1] // 2 - 2] - st.content[:, : st.shape[1] // 2 - 2])
    assert mask[:, margin:].max() < 0.01
    assert outside.max() < 1e-5, outside.max()
    assert inside.mean() > 0.05, inside.mean()


@pytest.mark.slow
def test_style_masks_put_each_style_in_its_region(content, scream, wave, weights):
    from tfstyle.optimize.stylizer import Stylizer

    left, right = _halves(content.shape[:2])
    st = Stylizer(content, [scream, wave], StylizeConfig(size=SIZE, steps=20, optimizer="lbfgs"), weights,
                  style_masks=[left, right])
    assert set(st.loss(st.extractor(st.content[None]), st.content[None])[1]) >= {"style/s1/block1_conv1",
                                                                               "style/s2/block5_conv1"}
    out = st.run().image
    half = st.shape[1] // 2
    lo, ro = out[:, : half - 2], out[:, half + 2:]
    # Left half is nearer the scream than the wave; right half the other way round (Gram distances).
    assert style_distance(st, lo, st.styles[0]) < style_distance(st, lo, st.styles[1])
    assert style_distance(st, ro, st.styles[1]) < style_distance(st, ro, st.styles[0])
    # And it is the masks that did it: the content's halves are ordered the other way or less apart.
    before = style_distance(st, st.content[:, : half - 2], st.styles[1]) - style_distance(
        st, st.content[:, : half - 2], st.styles[0])
    after = style_distance(st, lo, st.styles[1]) - style_distance(st, lo, st.styles[0])
    assert after > before


def test_mask_errors(tmp_path, content, scream, weights, content_path, style_path):
    from tfstyle.objective.masks import load_mask, load_masks

    left, right = _halves((40, 60))
    with pytest.raises(ConfigError, match="style mask 1 does not overlap the content mask"):
        load_masks((40, 60), 1, left, [right])
    with pytest.raises(ConfigError, match="2 masks for 1 style images"):
        load_masks((40, 60), 1, None, [left, right])
    mask, regions = load_masks((40, 60), 2, left, [np.ones((40, 60), np.float32), left])
    np.testing.assert_array_equal(regions[0], mask)  # regions are cut to the content mask
    with pytest.raises(ImageError, match="aspect ratio"):
        load_mask(np.ones((50, 50), np.float32), (40, 60))
    with pytest.raises(ImageError, match="all black"):
        load_mask(np.zeros((40, 60), np.float32), (40, 60))
    m = load_mask(np.ones((80, 120, 3), np.float32), (40, 60))
    assert m.shape == (40, 60) and m.min() == 1.0
    mask = tmp_path / "m.png"
    Image.fromarray(np.full((300, 451), 255, np.uint8)).save(mask)
    r = run_cli(content_path, style_path, style_path, "-o", tmp_path / "o.png", "--style-masks", str(mask))
    assert_usage_error(r, "--style-masks", "1 masks for 2 style images")
    r = run_cli(content_path, style_path, "-o", tmp_path / "o.png", "--content-mask", tmp_path / "none.png")
    assert_usage_error(r, "none.png", "no such file")


# --- presets -----------------------------------------------------------------------------------


def test_presets_set_size_steps_optimizer_and_flags_override():
    from tfstyle.cli.flags import config_from as _config_from
    from tfstyle.cli.main import build_parser

    assert StylizeConfig.from_preset("draft").size == PRESETS["draft"]["size"]
    sizes = [StylizeConfig.from_preset(p).size * StylizeConfig.from_preset(p).steps for p in
             ("draft", "balanced", "quality")]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3  # each costs more than the one before
    assert StylizeConfig.from_preset("balanced") == StylizeConfig()
    parser = build_parser()
    args = parser.parse_args(["stylize", "c.png", "s.png", "-o", "o.png", "--preset", "draft", "--steps", "7"])
    cfg = _config_from(args, StylizeConfig)
    assert (cfg.size, cfg.steps, cfg.optimizer) == (PRESETS["draft"]["size"], 7, PRESETS["draft"]["optimizer"])
    args = parser.parse_args(["stylize", "c.png", "s.png", "-o", "o.png"])
    assert _config_from(args, StylizeConfig) == StylizeConfig()
    with pytest.raises(ConfigError, match="preset"):
        StylizeConfig.from_preset("ultra")


def test_cli_unknown_preset_is_a_usage_error(tmp_path, content_path, style_path):
    r = run_cli(content_path, style_path, "-o", tmp_path / "o.png", "--preset", "ultra")
    assert_usage_error(r, "--preset", "ultra")


def test_python_api_takes_a_list_of_styles_and_mask_arrays(content_path, shared_images, weights):
    import tfstyle

    styles = [shared_images / "style" / "munch_the_scream.jpg", shared_images / "style" / "hokusai_great_wave.jpg"]
    c = load_image(content_path)
    left, _ = _halves(c.shape[:2])
    r = tfstyle.stylize(content_path, styles, StylizeConfig(size=48, steps=2, style_blend=(0.7, 0.3)),
                        weights=weights, content_mask=left)
    ref = resize(c, r.image.shape[:2])
    np.testing.assert_array_equal(r.image[:, 26:], ref[:, 26:])
    assert np.abs(r.image[:, :22] - ref[:, :22]).mean() > 0.001
