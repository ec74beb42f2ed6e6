"""Temporal consistency: flow, warps, masks and losses against NumPy references; the warping error
falls on synthetic clips with exact flow (blend, temporally trained network, optimisation)."""

import sys
from pathlib import Path

import numpy as np
import pytest
from ffdata import TINY_NET, TINY_TRAIN, make_photos

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

from video_clips import motion_clip  # noqa: E402

from tfstyle.io.images import load_image  # noqa: E402
from tfstyle.objective import temporal  # noqa: E402
from tfstyle.video import flow as optical_flow  # noqa: E402


def _bilinear(image, x, y):
    """Naive bilinear sample of (H, W, C) at float (x, y), coordinates clamped to the edges."""
    h, w = image.shape[:2]
    x, y = min(max(x, 0.0), w - 1.0), min(max(y, 0.0), h - 1.0)
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
    fx, fy = x - x0, y - y0
    return ((1 - fx) * (1 - fy) * image[y0, x0] + fx * (1 - fy) * image[y0, x1] + (1 - fx) * fy * image[y1, x0]
            + fx * fy * image[y1, x1])


def test_warp_matches_a_naive_bilinear_reference():
    rng = np.random.default_rng(0)
    image = rng.random((9, 11, 3)).astype(np.float32)
    flow = rng.uniform(-2.5, 2.5, (9, 11, 2)).astype(np.float32)
    got = optical_flow.warp(image, flow)
    want = np.array([[_bilinear(image, x + flow[y, x, 0], y + flow[y, x, 1]) for x in range(11)] for y in range(9)])
    np.testing.assert_allclose(got, want, atol=2e-3)  # OpenCV's remap keeps 5 fractional bits


def test_consistency_mask_finds_disagreeing_flow_and_the_frame_edge():
    h, w = 20, 30
    backward = np.zeros((h, w, 2), np.float32)
    backward[..., 0] = 2.0  # current(x) = previous(x + 2)
    forward = -backward.copy()
    mask = optical_flow.consistency_mask(backward, forward)
    assert (mask[:, : w - 2] == 1).all() and (mask[:, w - 2:] == 0).all()  # the last columns leave the frame
    forward[5:10, 10:15] = 0.0  # the previous frame's pixels there went elsewhere: occluded now
    mask = optical_flow.consistency_mask(backward, forward)
    assert (mask[5:10, 8:13] == 0).all() and mask[15:, :20].min() == 1
    boundary = backward.copy()
    boundary[:, 15:, 0] = -3.0  # two motions meet: a motion boundary
    fwd = -boundary.copy()
    mask = optical_flow.consistency_mask(boundary, fwd)
    assert (mask[:, 14:16] == 0).all() and mask[:, 3:10].min() == 1


def test_warping_error_long_term_masks_and_temporal_loss_against_numpy():
    rng = np.random.default_rng(1)
    a, b = rng.random((2, 8, 10, 3)).astype(np.float32)
    flow = rng.uniform(-1, 1, (8, 10, 2)).astype(np.float32)
    mask = (rng.random((8, 10)) > 0.3).astype(np.float32)
    wb = optical_flow.warp(b, flow)
    want = np.sum(np.sum((a - wb) ** 2, axis=-1) * mask) / mask.sum()
    assert optical_flow.warping_error(a, b, flow, mask) == pytest.approx(want, rel=1e-5)
    assert optical_flow.warping_error(a, a, np.zeros_like(flow), mask) == 0.0

    m1, m2, m3 = (rng.random((4, 5)) > 0.5).astype(np.float32), np.ones((4, 5), np.float32), np.ones((4, 5), np.float32)
    l1, l2, l3 = optical_flow.long_term_masks([m1, m2, m3])
    np.testing.assert_array_equal(l1, m1)
    np.testing.assert_array_equal(l2, 1 - m1)  # only where the nearer frame was occluded
    assert l3.sum() == 0

    import tensorflow as tf

    x, wv = rng.random((2, 1, 8, 10, 3)).astype(np.float32)
    c = mask[None, :, :, None]
    got = float(temporal.temporal_loss(tf.constant(x), tf.constant(wv), tf.constant(c)))
    assert got == pytest.approx(np.sum(c * (x - wv) ** 2) / x.size, rel=1e-5)  # Ruder et al.: / D
    term = temporal.TemporalTerm([wv[0]], [mask], weight=3.0)
    total, parts = term(tf.constant(x))
    assert float(total) == pytest.approx(3 * got, rel=1e-5) and set(parts) == {"temporal"}


def test_affine_warp_moves_images_like_opencv_and_masks_the_outside():
    import cv2
    import tensorflow as tf

    rng = np.random.default_rng(2)
    images = rng.random((2, 16, 20, 3)).astype(np.float32)
    motion = temporal.random_affine(2, 16, max_shift=2.0, max_angle=0.05, max_zoom=0.05, seed=3)
    warped, valid = temporal.affine_warp(tf.constant(images), motion)
    m = motion.numpy()
    for i in range(2):
        affine = np.array([[m[i, 0], m[i, 1], m[i, 2]], [m[i, 3], m[i, 4], m[i, 5]]])
        want = cv2.warpAffine(images[i], affine, (20, 16), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        v = valid.numpy()[i, ..., 0] > 0
        assert 0.5 < v.mean() < 1.0
        np.testing.assert_allclose(warped.numpy()[i][v], want[v], atol=2e-3)
    a, b = rng.random((2, 1, 4, 4, 3)).astype(np.float32)
    mask = np.zeros((1, 4, 4, 1), np.float32)
    mask[:, :2] = 1
    assert float(temporal.masked_mse(a, b, mask)) == pytest.approx(np.mean((a - b)[:, :2] ** 2), rel=1e-5)


@pytest.fixture(scope="module")
def pan(shared_images):
    return motion_clip(load_image(shared_images / "content" / "chelsea_cat.png"), (48, 64), 8, "pan", 1.3,
                       noise=0.02)


def test_dis_flow_is_close_to_the_exact_flow(pan):
    fe = optical_flow.FlowEstimator("medium")
    backward, mask = fe.pair(pan.frames[3], pan.frames[2])
    inner = pan.masks[3] * mask
    epe = np.sqrt(np.sum((backward - pan.flows[3]) ** 2, axis=-1))
    assert inner.mean() > 0.8 and np.median(epe[inner > 0]) < 0.3


def _random_net():
    from tfstyle.feedforward.networks import build_transform_net

    model = build_transform_net(TINY_NET, seed=5)
    return lambda x: model(x[None])[0].numpy()


def _werr(clip, outs):
    return np.mean([optical_flow.warping_error(outs[t], outs[t - 1], clip.flows[t], clip.masks[t])
                    for t in range(1, len(outs))])


def test_blend_halves_the_warping_error_of_independent_frames(pan):
    from tfstyle.video import FeedForwardFrames

    net = _random_net()
    independent = [FeedForwardFrames(net)(f) for f in pan.frames]  # a fresh processor per frame
    blended = FeedForwardFrames(net, blend=0.5, flow=optical_flow.FlowEstimator("medium"))
    outs = [blended(f) for f in pan.frames]
    assert np.array_equal(outs[0], independent[0])
    assert _werr(pan, outs) < 0.5 * _werr(pan, independent)
    # Blending is a mean of nearby outputs: it stays close to the independent frames.
    assert np.abs(np.mean(outs[-1]) - np.mean(independent[-1])) < 0.02


@pytest.mark.slow
def test_temporal_training_lowers_the_warping_error(pan, tmp_path, shared_images, style_path):
    from tfstyle.feedforward.apply import StyleModel
    from tfstyle.feedforward.train import train

    photos = make_photos(tmp_path / "photos", shared_images, n=8, corrupt=0)
    config = TINY_TRAIN.replace(steps=60, checkpoint_every=1000, lr=5e-3, batch_size=4)
    errors = {}
    for weight in (0.0, 30.0):
        r = train(style_path, photos, tmp_path / f"m{weight}", config.replace(temporal_weight=weight),
                  network=TINY_NET)
        assert ("temporal" in r.history) == (weight > 0)
        model = StyleModel(tmp_path / f"m{weight}")
        errors[weight] = _werr(pan, [model(f.astype(np.float32) / 255) for f in pan.frames])
    assert errors[30.0] < 0.5 * errors[0.0], errors


@pytest.mark.slow
def test_optimisation_with_the_temporal_loss_lowers_the_warping_error(pan, style_path):
    from tfstyle import StylizeConfig, VideoConfig
    from tfstyle.video import OptimisedFrames

    clip = type(pan)(pan.frames[:5], pan.flows[:5], pan.masks[:5])
    cfg = StylizeConfig(size=64, steps=15, backbone="random", precision="float32",
                        content_layers=("block2_conv2",), style_layers=(("block1_conv1", 1.0), ("block2_conv1", 1.0)))
    style = load_image(style_path)
    outs = {}
    for weight in (0.0, VideoConfig().temporal_weight):
        frames = OptimisedFrames(style, cfg, VideoConfig(temporal_weight=weight))
        outs[weight] = [frames(f) for f in clip.frames]
        if weight:
            assert "temporal" in frames.last_parts
    independent, consistent = outs[0.0], outs[VideoConfig().temporal_weight]
    assert _werr(clip, consistent) < 0.5 * _werr(clip, independent)


@pytest.mark.slow
def test_long_term_terms_use_frames_further_back(pan, style_path, monkeypatch):
    from tfstyle import StylizeConfig, VideoConfig
    from tfstyle.video import OptimisedFrames

    seen = []
    real = temporal.TemporalTerm

    def spy(warped, masks, weight):
        seen.append(len(warped))
        # Long-term masks never count a pixel twice.
        assert np.max(np.sum(masks, axis=0)) <= 1.0
        return real(warped, masks, weight)

    monkeypatch.setattr(temporal, "TemporalTerm", spy)
    cfg = StylizeConfig(size=64, steps=2, backbone="random", precision="float32",
                        content_layers=("block1_conv2",), style_layers=(("block1_conv1", 1.0),))
    frames = OptimisedFrames(load_image(style_path), cfg, VideoConfig(long_term=(2, 3)))
    outs = [frames(f) for f in pan.frames[:4]]
    assert seen == [1, 2, 3] and all(o.shape == (48, 64, 3) for o in outs)
