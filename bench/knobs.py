"""Low-level speed knobs of one tfstyle step, each in a fresh process, in one run.

    PYTHONPATH=src python bench/knobs.py [--size 512] [--repeats 5]

Every variant times the same thing: the loss value and image gradient of tfstyle's default
objective (``Stylizer._value_and_grad``, VGG19 truncated at block5_conv1), median of ``--repeats``
calls after one warm-up call. Threads and oneDNN must be set before TensorFlow starts, hence one
process per variant. The baseline is the first row (tfstyle's default): ratios are against it.

Variants that are not library options (XLA, NCHW, K Adam steps per call) are built here to find out
whether they would be worth adding; see README "Speed benchmark" for what was kept.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> (environment, options). One row each; ratios against the first, tfstyle's default
# (precision auto: mixed_bfloat16 on a CPU with AMX or AVX512_BF16; one inter-op thread, intra-op
# threads as TensorFlow chooses: one per core). Every other row changes one thing.
VARIANTS: dict[str, tuple[dict, dict]] = {
    "tfstyle default": ({}, {}),
    "float32": ({}, {"precision": "float32"}),
    # The loss network's 3x3 convolutions (--conv-algorithm): TensorFlow's, or Winograd F(4x4, 3x3).
    "float32, direct convolutions": ({}, {"precision": "float32", "conv": "direct"}),
    "float32, Winograd convolutions": ({}, {"precision": "float32", "conv": "winograd",
                                            "vs": "float32, direct convolutions"}),
    # bfloat16 network, features cast to float32 before the Gram matmuls (see tfstyle.objective.losses.gram).
    "float32 Grams": ({}, {"f32_grams": True}),
    "inter-op per core (TF default)": ({}, {"inter": 0}),
    "intra=1 inter=1": ({}, {"intra": 1, "inter": 1}),
    "intra=1 inter=2": ({}, {"intra": 1, "inter": 2}),
    "oneDNN off": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, {}),
    # Without oneDNN: which part of the Winograd layers pays (Eigen's batched matmul, or the transforms)?
    "oneDNN off, TF-op transforms": ({"TF_ENABLE_ONEDNN_OPTS": "0", "TFSTYLE_NATIVE_KERNELS": "0"}, {"vs": "oneDNN off"}),
    "oneDNN off, direct convolutions": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, {"conv": "direct", "vs": "oneDNN off"}),
    "Winograd TF-op transforms": ({"TFSTYLE_NATIVE_KERNELS": "0"}, {}),
    "XLA jit_compile": ({}, {"jit": True}),
    "Adam, 1 step per call": ({}, {"adam_k": 1}),
    "Adam, 8 steps per call": ({}, {"adam_k": 8}),
    # Channel layout: Keras's VGG19 follows the global image_data_format, so these two rows build the
    # same hand-made float32 objective in each layout, at 64 px (NCHW is far too slow for more).
    "NCHW (channels_first), 64 px": ({}, {"layout": "channels_first", "size": 64, "vs": "NHWC same model, 64 px"}),
    "NHWC same model, 64 px": ({}, {"layout": "channels_last", "size": 64}),
}


def _images(size):
    from tfstyle.io.images import load_image

    root = HERE.parent.parent / "shared" / "images"
    return (load_image(root / "content" / "chelsea_cat.png"),
            load_image(root / "style" / "vangogh_starry_night.jpg"))


def _time(fn, repeats):
    fn()  # warm-up: tracing, oneDNN primitive creation
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _layout_fn(size, layout):
    """A hand-built copy of the default objective's cost (VGG19 to block5_conv1, five Grams, one
    content term) in either channel layout: Keras's VGG19 follows the global image_data_format."""
    import keras
    import tensorflow as tf

    keras.config.set_image_data_format(layout)
    shape = (3, None, None) if layout == "channels_first" else (None, None, 3)
    base = keras.applications.VGG19(include_top=False, weights=None, input_shape=shape)
    names = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1", "block4_conv2"]
    model = keras.Model(base.input, [base.get_layer(n).output for n in names])
    x = tf.Variable(tf.random.uniform((1, 3, size, size) if layout == "channels_first" else (1, size, size, 3)))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            total = 0.0
            for f in model(x):
                if layout == "channels_first":
                    f = tf.transpose(f, (0, 2, 3, 1))
                flat = tf.reshape(f, (-1, f.shape[-1]))  # (H*W, C)
                g = tf.matmul(flat, flat, transpose_a=True)
                total += tf.reduce_mean(tf.square(g))
        return total, tape.gradient(total, x)

    return lambda: [t.numpy() for t in step()]


def worker(name: str, size: int, repeats: int) -> dict:
    import tfstyle  # noqa: F401 - first, as its users import it (it may ask TensorFlow for oneDNN)
    import tensorflow as tf

    env, opt = VARIANTS[name]
    size = opt.get("size", size)
    if "intra" in opt:
        tf.config.threading.set_intra_op_parallelism_threads(opt["intra"])
    tf.config.threading.set_inter_op_parallelism_threads(opt.get("inter", 1))  # 0: TensorFlow's default
    from tfstyle import StylizeConfig
    from tfstyle.backbones.weights import resolve_weights
    from tfstyle.optimize.stylizer import Stylizer

    if "layout" in opt:
        fn = _layout_fn(size, opt["layout"])
        times = _time(fn, repeats)
        return {"median": statistics.median(times), "steps_per_call": 1}
    c, s = _images(size)
    # inter_op_threads=0: leave TensorFlow's pools as this variant set them above.
    cfg = StylizeConfig(size=size, precision=opt.get("precision", "auto"), optimizer="adam",
                        inter_op_threads=0, conv_algorithm=opt.get("conv", "auto"))
    st = Stylizer(c, s, cfg, resolve_weights("random"))
    x = tf.constant(st.initial_image()[None])
    if "adam_k" in opt:
        import keras

        k = opt["adam_k"]
        var = tf.Variable(x)
        adam = keras.optimizers.Adam(0.02, epsilon=1e-10)
        adam.build([var])

        @tf.function
        def k_steps():
            # K steps in one graph (a tf.while_loop): no host round trip between them.
            total = tf.constant(0.0)
            for _ in tf.range(k):
                total, _, grad = st._value_and_grad_impl(var)
                adam.apply_gradients([(grad, var)])
                var.assign(tf.clip_by_value(var, 0.0, 1.0))
            return total

        times = _time(lambda: float(k_steps()), repeats)
        return {"median": statistics.median(times) / k, "steps_per_call": k}
    impl = st._value_and_grad_impl
    if opt.get("f32_grams"):
        def impl(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                total, parts = st.loss(st.extractor(x), x)  # float32 features: float32 Grams
            return total, parts, tape.gradient(total, x)
    fn = tf.function(impl, jit_compile=bool(opt.get("jit")))
    times = _time(lambda: [t.numpy() for t in tf.nest.flatten(fn(x))], repeats)
    return {"median": statistics.median(times), "steps_per_call": 1, "policy": st.policy}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--only", help="semicolon-separated variant names")
    p.add_argument("--timeout", type=float, default=600, help="seconds per variant before giving up")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        print(json.dumps(worker(a.worker, a.size, a.repeats)))
        return 0
    names = [n for n in VARIANTS if not a.only or n in a.only.split(";")]
    rows = []
    for n in names:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TFSTYLE_OFFLINE": "1", **VARIANTS[n][0]}
        try:
            r = subprocess.run([sys.executable, __file__, "--worker", n, "--size", str(a.size),
                                "--repeats", str(a.repeats)], env=env, capture_output=True, text=True,
                               timeout=a.timeout)
        except subprocess.TimeoutExpired:
            r = None
        if r is None:
            rows.append((n, None, f"over {a.timeout:g} s"))
        elif r.returncode != 0:
            err = (r.stderr.strip().splitlines() or ["?"])[-1][:100]
            rows.append((n, None, err))
        else:
            rows.append((n, json.loads(r.stdout.strip().splitlines()[-1])["median"], ""))
        print(f"{n:32s} {rows[-1][1] if rows[-1][1] is not None else 'failed'} {rows[-1][2]}",
              file=sys.stderr, flush=True)
    times = {n: t for n, t, _ in rows}
    print(f"\nper step at {a.size}x{a.size}-fit (unless the row says), median of {a.repeats} (s); "
          f"speed-up = baseline / variant, the baseline being the first row unless named\n")
    print(f"| {'variant':36s} | s/step | speed-up |")
    print(f"|{'-' * 38}|--------|----------|")
    for n, t, err in rows:
        vs = VARIANTS[n][1].get("vs", rows[0][0])
        base = times.get(vs)
        if t is None:
            print(f"| {n:36s} | failed | {err} |")
        elif base is None or "size" in VARIANTS[n][1] and "vs" not in VARIANTS[n][1]:
            print(f"| {n:36s} | {t:6.3f} | - |")
        else:
            print(f"| {n:36s} | {t:6.3f} | {base / t:7.3g}x" + ("" if vs == rows[0][0] else f" vs {vs!r}") + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
