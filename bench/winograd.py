"""Would Winograd convolutions make a float32 step cheaper? VGG19's 3x3 layers, one by one.

    PYTHONPATH=src python bench/winograd.py [--size 256] [--seconds 1.0]

A float32 tfstyle step is almost all 3x3 convolutions, forward and input gradient, which TensorFlow
runs as direct (im2col-style) convolutions on a CPU without oneDNN's bfloat16 path. Winograd's
minimal filtering (Lavin & Gray 2016) computes F(m x m, 3 x 3) output tiles with (m + 2)^2 instead of
9 m^2 multiplications per tile and channel pair: 2.25x fewer for F(2, 3), 4x fewer for F(4, 3), 5.06x
fewer for F(6, 3) (larger transforms, less precise in float32).
``tfstyle.kernels.winograd.WinogradConv`` builds it from TensorFlow ops (its docstring says how),
with the input gradient by the same algorithm (recorded on the tapes); the library runs F(4, 3)
(``--conv-algorithm``) on the layers ``use_winograd`` picks from this table.

Each row times one VGG19 layer (the shapes of ``keras.applications.VGG19`` at ``--size``, truncated
at block5_conv2 as tfstyle's objective on the tutorial's layers) as a step uses it: forward and input
gradient in one ``tf.function``, best of two rounds of ``--seconds`` each. Baseline: the same layer
through ``tf.nn.conv2d`` and its autodiff gradient, in the same process. Errors are relative to the
baseline's largest value. ``--algorithms`` picks the columns (default: transposed, F(2, 3), F(4, 3);
F(6, 3), F(4, 3) with the TensorFlow-op transforms, F(4, 3) with XLA-compiled transforms,
TensorFlow's convolution in bfloat16 and F(4, 3) with bfloat16 products on request). F(4, 3) runs
the native transforms where they could be built (``tfstyle.kernels.native``; the header line says
which). The last rows add the layers up, per
column, and the fastest column per layer.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from tfstyle.kernels.winograd import TransposedConv, WinogradConv

def layers(size: int, last: str = "block5_conv2"):
    """[(name, input shape (1, H, W, C), kernel)] of VGG19's convolutions up to ``last`` at ``size``
    (longest side; the chelsea cat's 3:2 aspect), random kernels (speed does not depend on them)."""
    import keras

    h, w = round(size * 2 / 3), size
    model = keras.applications.VGG19(weights=None, include_top=False, input_shape=(h, w, 3))
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            out.append((layer.name, tuple(layer.input.shape[1:]), np.asarray(layer.kernel.numpy())))
            if layer.name == last:
                break
    return out


def best_time(fn, x, seconds: float) -> float:
    fn(x)
    best = float("inf")
    for _ in range(2):
        t0, n = time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            [t.numpy() for t in fn(x)]
            n += 1
        best = min(best, (time.perf_counter() - t0) / n)
    return best


ALGORITHMS = {"T": "transposed", "F2": "F(2,3)", "F4": "F(4,3)", "F6": "F(6,3)",
              "F4T": "F(4,3) TF-op transforms", "F4X": "F(4,3) XLA transforms",
              "D16": "direct bfloat16", "F4B": "F(4,3) bfloat16 products"}


def _weighted_sums(matrix, parts):
    """``[sum_j matrix[i][j] * parts[j] for each row i]``, skipping zeros and multiplying by +-1 as a
    sign: the sparse sums XLA can fuse into one loop."""
    out = []
    for row in matrix:
        terms = [p if c == 1 else -p if c == -1 else p * float(c) for c, p in zip(row, parts) if c != 0]
        out.append(sum(terms[1:], terms[0]))
    return out


class XlaTransformsConv:
    """F(4x4, 3x3) as :class:`WinogradConv`, with the products the same batched matmul, but the input
    transform (padding, tiles, ``B^T d B``) and the output transform (``A^T y A``, back to pixel
    order) each one XLA-compiled function of strided slices and the sparse sums of the transform
    matrices: could XLA fuse the memory-bound passes that TensorFlow runs one op at a time?"""

    def __init__(self, g):
        import tensorflow as tf

        from tfstyle.kernels.winograd import MATRICES
        from tfstyle.tape import record

        self._record = record
        bt, _, at = MATRICES[4]
        m, n = 4, 6

        @tf.function(jit_compile=True, autograph=False)
        def tiles(x):  # (1, H, W, C) -> (36, tiles, C)
            _, h, w, c = x.shape
            th, tw = (h + m - 1) // m, (w + m - 1) // m
            xp = tf.pad(x, [[0, 0], [1, m * th + 1 - h], [1, m * tw + 1 - w], [0, 0]])
            rows = _weighted_sums(bt, [xp[:, i:i + m * (th - 1) + 1:m] for i in range(n)])
            out = [v for r in rows for v in _weighted_sums(bt, [r[:, :, j:j + m * (tw - 1) + 1:m] for j in range(n)])]
            return tf.reshape(tf.stack(out), (n * n, th * tw, c))

        @tf.function(jit_compile=True, autograph=False)
        def pixels(prod, like):  # (36, tiles, K) -> (1, H, W, K), H and W those of ``like``
            h, w, k = like.shape[1], like.shape[2], prod.shape[-1]
            th, tw = (h + m - 1) // m, (w + m - 1) // m
            p = tf.reshape(prod, (n, n, th, tw, k))
            rows = _weighted_sums(at, [p[i] for i in range(n)])
            y = tf.stack([tf.stack(_weighted_sums(at, [r[j] for j in range(n)]), axis=2) for r in rows], axis=1)
            return tf.reshape(y, (1, th * m, tw * m, k))[:, :h, :w]

        def conv(x, u):
            return pixels(tf.matmul(tiles(x), u, transpose_b=transposed), x[..., :0])

        self._conv = conv
        # the transformed kernels, forward and turned for the input gradient, as the library's
        base = WinogradConv(g, 4, native=False)
        self.u, self.u_back, transposed = base.u, base.u_back, base.transposed

    def __call__(self, x):
        import tensorflow as tf

        y = tf.identity(self._conv(tf.stop_gradient(x), self.u))
        self._record("XlaTransformsConv", y, x, lambda dy: [self._conv(dy, self.u_back)])
        return y


class Bfloat16ProductsConv:
    """F(4x4, 3x3) as :class:`WinogradConv` (its transforms in float32, native where built), with the
    tiles and the transformed kernels rounded to bfloat16 for a bfloat16 batched matmul (oneDNN's
    sums in float32 and rounds the products once): could mixed precision run Winograd?"""

    def __init__(self, g):
        import tensorflow as tf

        from tfstyle.tape import record

        self._record = record
        base = WinogradConv(g, 4)
        self.native, self.transposed = base.native, base.transposed  # its kernels' layout, in bfloat16
        self.u, self.u_back = (tf.cast(u, tf.bfloat16) for u in (base.u, base.u_back))

    def _conv(self, x, u):
        import tensorflow as tf

        from tfstyle.kernels.winograd import reference_pixels, reference_tiles

        tiles, pixels = ((self.native.tfstyle_winograd_tiles, self.native.tfstyle_winograd_pixels)
                         if self.native is not None else (reference_tiles, reference_pixels))
        v = tf.cast(tiles(x), tf.bfloat16)
        return pixels(tf.cast(tf.matmul(v, u, transpose_b=self.transposed), tf.float32), x)

    def __call__(self, x):
        import tensorflow as tf

        y = tf.identity(self._conv(tf.stop_gradient(x), self.u))
        self._record("Bfloat16ProductsConv", y, x, lambda dy: [self._conv(dy, self.u_back)])
        return y


def _conv(key, g):
    import tensorflow as tf

    if key == "D16":  # TensorFlow's convolution in bfloat16, as a mixed_bfloat16 network runs it
        k16 = tf.constant(g, tf.bfloat16)
        return lambda x: tf.cast(tf.nn.conv2d(tf.cast(x, tf.bfloat16), k16, 1, "SAME"), tf.float32)
    if key == "F4B":
        return Bfloat16ProductsConv(g)
    if key == "T":
        return TransposedConv(tf.Variable(g))
    if key == "F4X":
        return XlaTransformsConv(g)
    return WinogradConv(g, 4, native=False) if key == "F4T" else WinogradConv(g, int(key[1:]))


def measure(name: str, shape, g: np.ndarray, seconds: float, keys=("T", "F2", "F4")) -> dict:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((1, *shape)).astype(np.float32))
    up = tf.constant(rng.standard_normal((1, *shape[:2], g.shape[3])).astype(np.float32))
    kernel = tf.constant(g)

    def step(conv):
        @tf.function
        def run(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                # ReLU, as in the network: the gradient needs the forward pass (a loss linear in the
                # output would let TensorFlow prune the forward convolution).
                loss = tf.reduce_sum(tf.nn.relu(conv(x)) * up)
            return loss, tape.gradient(loss, x)
        return run

    def input_gradient(conv):  # of a loss linear in the output: no ReLU flips in the comparison
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(conv(x) * up)
        return tape.gradient(loss, x)

    direct = step(lambda x: tf.nn.conv2d(x, kernel, 1, "SAME"))
    want_y, want_g = tf.nn.conv2d(x, kernel, 1, "SAME"), input_gradient(lambda x: tf.nn.conv2d(x, kernel, 1, "SAME"))
    row = {"layer": name, "shape": shape, "k": g.shape[3], "direct": best_time(direct, x, seconds)}
    for key in keys:
        conv = _conv(key, g)
        fn = step(conv)
        err_y = float(tf.reduce_max(tf.abs(conv(x) - want_y)) / tf.reduce_max(tf.abs(want_y)))
        err_g = float(tf.reduce_max(tf.abs(input_gradient(conv) - want_g)) / tf.reduce_max(tf.abs(want_g)))
        row[key] = best_time(fn, x, seconds)
        row["err" + key] = max(err_y, err_g)
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256, help="longest side of the image (default 256)")
    p.add_argument("--seconds", type=float, default=1.0, help="timing per round (two rounds, best kept)")
    p.add_argument("--last", default="block5_conv2", help="deepest VGG19 layer")
    p.add_argument("--algorithms", default="T,F2,F4",
                   help="comma-separated columns: T (transposed), F2, F4, F6 (Winograd F(m,3)), "
                        "F4T (F(4,3) with TensorFlow-op transforms), F4X (with XLA-compiled ones), "
                        "D16 (TensorFlow's convolution in bfloat16), F4B (F(4,3) with bfloat16 products)")
    a = p.parse_args(argv)
    keys = tuple(k.strip() for k in a.algorithms.split(",") if k.strip())
    if not keys or any(k not in ALGORITHMS for k in keys):
        p.error(f"--algorithms: choose from {','.join(ALGORITHMS)}")
    rows = [measure(n, s, g, a.seconds, keys) for n, s, g in layers(a.size, a.last) if s[2] > 3]
    from tfstyle.kernels.native import status

    print(f"F(4,3): {status() or 'not run'}")
    print(f"VGG19 3x3 convolutions at {a.size} px, forward + input gradient, ms (best of 2 x {a.seconds:g} s); "
          "speed-ups against tf.nn.conv2d (direct) in the same process\n")
    names = [ALGORITHMS[k] for k in keys]
    print("| layer | input (H x W x C) -> K | direct | " + " | ".join(names) + " | "
          + " | ".join(f"{n} speed-up" for n in names) + " | max rel. error " + " / ".join(names) + " |")
    print("|---|---|---:|" + "---:|" * (2 * len(keys)) + "---|")
    for r in rows:
        h, w, c = r["shape"]
        print(f"| {r['layer']} | {h} x {w} x {c} -> {r['k']} | {r['direct'] * 1e3:.1f} | "
              + " | ".join(f"{r[k] * 1e3:.1f}" for k in keys) + " | "
              + " | ".join(f"{r['direct'] / r[k]:.2f}x" for k in keys) + " | "
              + " / ".join(f"{r['err' + k]:.1e}" for k in keys) + " |")
    total = {k: sum(r[k] for r in rows) for k in ("direct", *keys)}
    best = sum(min(r[k] for k in ("direct", *keys)) for r in rows)
    print(f"| **all layers** | | {total['direct'] * 1e3:.1f} | " + " | ".join(f"{total[k] * 1e3:.1f}" for k in keys)
          + " | " + " | ".join(f"{total['direct'] / total[k]:.2f}x" for k in keys) + " | |")
    print(f"| **fastest per layer** | |" + " |" * (len(keys) + 1)
          + f" {total['direct'] / best:.2f}x ({best * 1e3:.1f} ms) |" + " |" * len(keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
