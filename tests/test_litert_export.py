"""The fixed-shape .tflite files the web app runs with LiteRT.js: the shapes a site exports, the ops the
export traces (reflection padding and nearest upsampling without MirrorPad or ResizeNearestNeighbor,
the same numbers), one signature per shape sharing the weights, and native LiteRT against Keras."""

import numpy as np
import pytest
import tensorflow as tf

from tfstyle.config import NETWORK_PRESETS, ConfigError, WebConfig, litert_shapes, parse_litert_sizes
from tfstyle.feedforward.networks import _nearest_up2_static, _reflect_pad_static, build_transform_net


def test_site_shapes_per_size_and_aspect():
    c = WebConfig()
    shapes = litert_shapes(c.litert_sizes, c.litert_aspects)
    assert shapes[256] == [(256, 256), (192, 256), (256, 192), (144, 256), (256, 144)]
    assert shapes[512][1] == (384, 512)
    # The short side is rounded to a multiple of 4 (the networks downsample twice by 2).
    assert litert_shapes((250,), ("3:2",)) == {250: [(168, 250)]}
    assert litert_shapes((), ("4:3",)) == {}
    assert parse_litert_sizes("none") == () and parse_litert_sizes("256, 512") == (256, 512)
    for sizes, aspects, words in [((8,), ("1:1",), "litert_sizes must be integers in 16..2048"),
                                  ((256, 256), ("1:1",), "names 256 twice"),
                                  ((256,), ("4x3",), "W:H"), ((256,), ("0:1",), "W:H"),
                                  ((256,), ("4:3", "8:6"), "twice"), ((256,), (), "at least one"),
                                  (tuple(range(16, 16 + 40)), ("1:1", "4:3"), "at most 64")]:
        with pytest.raises(ConfigError, match=words):
            litert_shapes(sizes, aspects)
    with pytest.raises(ConfigError, match="whole numbers"):
        parse_litert_sizes("256,big")


def test_static_reflection_padding_and_upsampling_equal_tf_ops():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((2, 7, 9, 3), np.float32))
    for pads in [((1, 1), (1, 1)), ((4, 4), (4, 4)), ((0, 3), (0, 1)), ((6, 6), (8, 8)), ((0, 0), (2, 0))]:
        want = tf.pad(x, [[0, 0], *pads, [0, 0]], mode="REFLECT")
        np.testing.assert_array_equal(_reflect_pad_static(x, pads).numpy(), want.numpy(), err_msg=str(pads))
    want = tf.image.resize(x, (14, 18), method="nearest")
    np.testing.assert_array_equal(_nearest_up2_static(x).numpy(), want.numpy())


def _ops(blob: bytes) -> set[str]:
    from ai_edge_litert.interpreter import Interpreter

    return {o["op_name"] for o in Interpreter(model_content=blob)._get_ops_details()}


@pytest.mark.slow
@pytest.mark.parametrize("preset,shapes", [("light", [(36, 48), (48, 48)]), ("standard", [(36, 48)])])
def test_fixed_shape_tflite_matches_keras_without_fallback_ops(preset, shapes):
    """36 is not a multiple of 8: the network pads it inside. The light network has one reflection pad
    (its border) and pads to a multiple of 4; the standard one pads before every convolution."""
    from ai_edge_litert.interpreter import Interpreter

    from tfstyle.export.tflite import tflite_bytes

    model = build_transform_net(NETWORK_PRESETS[preset], seed=3)
    blob = tflite_bytes(model, shapes=shapes)
    ops = _ops(blob)
    assert not ops & {"MIRROR_PAD", "RESIZE_NEAREST_NEIGHBOR"}, ops
    it = Interpreter(model_content=blob, num_threads=2)
    assert sorted(it.get_signature_list()) == sorted(f"s{h}x{w}" for h, w in shapes)
    rng = np.random.default_rng(1)
    for h, w in shapes:
        runner = it.get_signature_runner(f"s{h}x{w}")
        (detail,) = runner.get_input_details().values()
        assert list(detail["shape"]) == [1, h, w, 3] and list(detail["shape_signature"]) == [1, h, w, 3]
        x = rng.random((1, h, w, 3), np.float32)
        (y,) = runner(image=x).values()
        np.testing.assert_allclose(y, model(x).numpy(), atol=2e-4)
    if len(shapes) > 1:
        # The signatures share the weights: two shapes cost little more than one.
        one = tflite_bytes(model, shapes=shapes[:1])
        assert len(blob) - len(one) < 0.25 * model.count_params() * 4 + 60_000, (len(blob), len(one))
        # The file of any size (tfstyle export) keeps TensorFlow's own ops: only fixed shapes change.
        assert "MIRROR_PAD" in _ops(tflite_bytes(model))
