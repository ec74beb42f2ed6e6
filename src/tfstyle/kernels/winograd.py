"""3x3 convolutions by Winograd's minimal filtering, F(4x4, 3x3), from TensorFlow ops.

On a CPU where TensorFlow runs float32 convolutions through Eigen (oneDNN off: AVX2 CPUs), a
stylisation step is almost all 3x3 convolutions, forward and input gradient, and TensorFlow's input
gradient (``Conv2DBackpropInput``) is its slowest part. Winograd's algorithm (Lavin & Gray 2016)
computes each 4x4 output tile from a 6x6 input tile with 36 products per channel pair instead of 144:

* input tiles by one gather of pixel rows (C floats each); the input transform ``B^T d B`` one side
  at a time (:func:`_sandwich`: a 6x6 matmul, then a batch of them), a third of the multiplications
  of one matmul with ``kron(B^T, B^T)``, and faster;
* the 36 products as one batched matmul with the kernel transformed once (``G g G^T``), as the
  network's weights are fixed while a loss uses it, stored in the layout the process's matmul runs
  fastest (:func:`tfstyle.hardware.winograd_products_transposed`);
* the output transform ``A^T y A`` the same way, then one gather back to pixel order;
* the input gradient by the same algorithm with the kernel turned 180 degrees and its channels
  swapped (recorded on the gradient tapes, :func:`tfstyle.tape.record`), instead of the gradients
  of the slicing ops.

Float32 rounding differs from the direct convolution's (relative error ~1e-5 of the largest
output). ``bench/winograd.py`` times every VGG19 layer both ways; :class:`WinogradChain` runs a plain
chain of Keras layers (VGG) with its 3x3 convolutions replaced where that was faster
(:func:`use_winograd`). No weight gradient: the network is a fixed loss network here.
"""

from __future__ import annotations

import numpy as np

from .. import hardware
from ..tape import record

# Winograd F(m x m, 3 x 3) matrices (B^T, G, A^T), from Lavin & Gray 2016; F(4, 3) uses the
# interpolation points 0, +-1, +-2, F(6, 3) 0, +-1, +-2, +-1/2 (as NNPACK). The library runs F(4, 3):
# F(6, 3) made a step hardly faster for much more transformed kernels' memory (bench/winograd.py
# compares them; bench/results/decisions.md).
MATRICES = {
    2: ([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
        [[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]],
        [[1, 1, 1, 0], [0, 1, -1, -1]]),
    4: ([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0],
         [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
        [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6],
         [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
        [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]),
    6: ([[1, 0, -21 / 4, 0, 21 / 4, 0, -1, 0], [0, 1, 1, -17 / 4, -17 / 4, 1, 1, 0],
         [0, -1, 1, 17 / 4, -17 / 4, -1, 1, 0], [0, 1 / 2, 1 / 4, -5 / 2, -5 / 4, 2, 1, 0],
         [0, -1 / 2, 1 / 4, 5 / 2, -5 / 4, -2, 1, 0], [0, 2, 4, -5 / 2, -5, 1 / 2, 1, 0],
         [0, -2, 4, 5 / 2, -5, -1 / 2, 1, 0], [0, -1, 0, 21 / 4, 0, -21 / 4, 0, 1]],
        [[1, 0, 0], [-2 / 9, -2 / 9, -2 / 9], [-2 / 9, 2 / 9, -2 / 9], [1 / 90, 1 / 45, 2 / 45],
         [1 / 90, -1 / 45, 2 / 45], [32 / 45, 16 / 45, 8 / 45], [32 / 45, -16 / 45, 8 / 45], [0, 0, 1]],
        [[1, 1, 1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 1 / 2, -1 / 2, 0], [0, 1, 1, 4, 4, 1 / 4, 1 / 4, 0],
         [0, 1, -1, 8, -8, 1 / 8, -1 / 8, 0], [0, 1, 1, 16, 16, 1 / 16, 1 / 16, 0],
         [0, 1, -1, 32, -32, 1 / 32, -1 / 32, 1]]),
}


def transform_kernel(g, m: int = 4):
    """(3, 3, C, K) kernel -> ((m + 2)^2, C, K) float32 tensor, ``G g G^T`` per channel pair (two
    small matmuls in TensorFlow: a VGG19 kernel of 512x512 channels takes milliseconds)."""
    import tensorflow as tf

    gm = tf.constant(np.array(MATRICES[m][1], np.float32))
    g = tf.convert_to_tensor(g, tf.float32)
    c, k = g.shape[2], g.shape[3]
    t = tf.reshape(tf.matmul(gm, tf.reshape(g, (3, -1))), (m + 2, 3, c * k))  # G g: (a, j, C*K)
    u = tf.einsum("bj,ajx->abx", gm, t)  # (a, b, C*K)
    return tf.reshape(u, ((m + 2) ** 2, c, k))


class WinogradConv:
    """A 'same', stride-1 3x3 convolution without bias, ``(B, H, W, C) -> (B, H, W, K)`` float32, with
    the fixed kernel ``g`` (3, 3, C, K), by F(m x m, 3 x 3) (``m`` 4 or 2); calling it is
    differentiable with respect to the input. F(4, 3) runs the native transforms where they can be
    had (:mod:`tfstyle.kernels.native`; ``native=False`` keeps the TensorFlow-op ones)."""

    def __init__(self, g: np.ndarray, m: int = 4, native: bool = True):
        import tensorflow as tf


        g = np.asarray(g, np.float32)
        if g.shape[:2] != (3, 3) or m not in MATRICES:
            raise ValueError(f"Winograd F(m, 3) needs a 3x3 kernel and m in {sorted(MATRICES)}, "
                             f"got {g.shape[:2]} and {m}")
        self.m = m
        bt, _, at = (np.array(x, np.float64) for x in MATRICES[m])
        # Variables, not constants: a traced function captures them by reference instead of copying
        # the transformed kernels' bytes into its graph (which made the first steps seconds slower).
        self.transposed = hardware.winograd_products_transposed()
        lay = _kc if self.transposed else (lambda u: u)
        self.u = tf.Variable(lay(transform_kernel(g, m)), trainable=False)
        # The input gradient of a 'same' 3x3 convolution is the 'same' convolution of the output
        # gradient with the kernel turned 180 degrees and its input and output channels swapped.
        self.u_back = tf.Variable(lay(transform_kernel(np.transpose(g[::-1, ::-1], (0, 1, 3, 2)), m)),
                                  trainable=False)
        self.bt = tf.constant(bt.astype(np.float32))  # (n, n)
        self.at = tf.constant(at.astype(np.float32))  # (m, n)
        # Built (once per machine) and loaded here, outside any traced function.
        self.native = native_transforms() if native and m == 4 else None

    def __call__(self, x):
        import tensorflow as tf

        y = tf.identity(_winograd(tf.stop_gradient(x), self.u, self.bt, self.at, self.m, self.native,
                                  self.transposed))
        u_back, bt, at, m, native, tr = self.u_back, self.bt, self.at, self.m, self.native, self.transposed
        record("WinogradConv", y, x, lambda dy: [_winograd(dy, u_back, bt, at, m, native, tr)])
        return y


def native_transforms():
    """The native F(4, 3) transforms (:mod:`tfstyle.kernels.native`), checked once against
    :func:`reference_tiles` and :func:`reference_pixels`, or None (``native.status()`` says why)."""
    from .native import winograd_ops

    return winograd_ops(check=_agrees)


def _agrees(ops) -> str | None:
    """None if the native ops give the TensorFlow-op transforms on a small odd-sized input."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((2, 7, 10, 5)).astype(np.float32))
    v, want_v = ops.tfstyle_winograd_tiles(x), reference_tiles(x)
    prod = tf.constant(rng.standard_normal((*want_v.shape[:2], 3)).astype(np.float32))
    y, want_y = ops.tfstyle_winograd_pixels(prod, x), reference_pixels(prod, x)
    for got, want, name in ((v, want_v, "tiles"), (y, want_y, "pixels")):
        if got.shape != want.shape or not np.allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4):
            return f"their {name} differ from TensorFlow's"
    return None


def _kc(u):
    import tensorflow as tf

    return tf.transpose(u, (0, 2, 1))


def _winograd(x, u, bt, at, m: int, native=None, transposed: bool = True):
    """F(m, 3) of ``x`` (B, H, W, C) with transformed kernels ``u``, (n^2, K, C) if ``transposed`` else
    (n^2, C, K), and the transforms
    ``bt`` = B^T (n, n), ``at`` = A^T (m, n), n = m + 2, or the ``native`` op library's (F(4, 3)). Its
    Python loops only build the graph: autograph is kept out (converting them slowed every trace)."""
    import tensorflow as tf

    return tf.autograph.experimental.do_not_convert(_winograd_ops)(x, u, bt, at, m, native, transposed)


def _sandwich(left, d):
    """``left @ t @ left^T`` for every column t of ``d`` (n * n, N) read as n x n tiles, (r * r, N) out,
    ``left`` (r, n): one side at a time, a matmul then a batch of r matmuls."""
    import tensorflow as tf

    r, n = left.shape
    half = tf.reshape(tf.matmul(left, tf.reshape(d, (n, -1))), (r, n, -1))  # rows: (r, n, N)
    return tf.reshape(tf.matmul(tf.broadcast_to(left, (r, r, n)), half), (r * r, -1))  # then columns


def _winograd_ops(x, u, bt, at, m: int, native=None, transposed: bool = True):
    import tensorflow as tf

    if native is not None:  # F(4, 3) by the native transforms (tfstyle.kernels.native)
        return native.tfstyle_winograd_pixels(tf.matmul(native.tfstyle_winograd_tiles(x), u, transpose_b=transposed), x)
    v = reference_tiles(x, bt, m)  # input transform: (n^2, B*th*tw, C)
    return reference_pixels(tf.matmul(v, u, transpose_b=transposed), x, at, m)  # products: (n^2, B*th*tw, K)


def _sizes(x, m: int):
    """(b, h, w, th, tw) of ``x``: static sizes where the graph has them (a single-scale run), so the
    index arithmetic is folded into constants."""
    import tensorflow as tf

    shape = tf.shape(x)
    b, h, w = (x.shape[i] if x.shape[i] is not None else shape[i] for i in range(3))
    return b, h, w, (h + m - 1) // m, (w + m - 1) // m


def reference_tiles(x, bt=None, m: int = 4):
    """The input transform from TensorFlow ops: ``x`` (B, H, W, C) -> (n^2, B*th*tw, C), tile (b, a, t)'s
    ``B^T d B`` for its n x n window from pixel (m*a - 1, m*t - 1) (zeros outside), n = m + 2.
    ``bt`` = B^T (n, n), F(m, 3)'s own by default."""
    import tensorflow as tf

    n = m + 2
    bt = tf.constant(np.array(MATRICES[m][0], np.float32)) if bt is None else bt
    b, h, w, th, tw = _sizes(x, m)
    c = x.shape[-1]
    hp, wp = m * th + 2, m * tw + 2  # whole tiles plus the 1-pixel 'same' border
    xp = tf.pad(x, [[0, 0], [1, hp - h - 1], [1, wp - w - 1], [0, 0]])
    # Tile (a, b)'s pixel (i, j) is padded pixel (m*a + i, m*b + j): one gather of pixel rows (C
    # floats each) builds every tile, ordered (i, j, image, a, b).
    i = tf.reshape(tf.range(n), (n, 1, 1, 1, 1))
    j = tf.reshape(tf.range(n), (1, n, 1, 1, 1))
    img = tf.reshape(tf.range(b), (1, 1, -1, 1, 1))
    ta = tf.reshape(tf.range(th), (1, 1, 1, -1, 1))
    tb = tf.reshape(tf.range(tw), (1, 1, 1, 1, -1))
    rows = tf.reshape((img * hp + m * ta + i) * wp + m * tb + j, (-1,))
    d = tf.reshape(tf.gather(tf.reshape(xp, (-1, c)), rows), (n * n, -1))  # (n^2, B*th*tw*C)
    return tf.reshape(_sandwich(bt, d), (n * n, -1, c))


def reference_pixels(prod, like, at=None, m: int = 4):
    """The output transform from TensorFlow ops: ``prod`` (n^2, B*th*tw, K) -> (B, H, W, K), the (B, H,
    W) of ``like``: tile (b, a, t)'s ``A^T M A`` at pixels (m*a, m*t) on, cropped. ``at`` = A^T (m, n)."""
    import tensorflow as tf

    n = m + 2
    at = tf.constant(np.array(MATRICES[m][2], np.float32)) if at is None else at
    b, h, w, th, tw = _sizes(like, m)
    k = prod.shape[-1]
    y = tf.reshape(_sandwich(at, tf.reshape(prod, (n * n, -1))), (-1, k))  # rows (p, q, image, a, b)
    # Output pixel (r, s) of image z is tile (r // m, s // m)'s pixel (r % m, s % m): one gather.
    r = tf.reshape(tf.range(h), (1, -1, 1))
    s = tf.reshape(tf.range(w), (1, 1, -1))
    z = tf.reshape(tf.range(b), (-1, 1, 1))
    tiles = b * th * tw
    out = ((r % m) * m + s % m) * tiles + (z * th + r // m) * tw + s // m
    return tf.reshape(tf.gather(y, tf.reshape(out, (-1,))), [b, h, w, k])  # ints or tensors: packed


def winograd_eligible(layer) -> bool:
    """A Keras Conv2D that :class:`WinogradConv` computes: 3x3, stride 1, dilation 1, 'same'."""
    import keras

    return (type(layer) is keras.layers.Conv2D and tuple(layer.kernel_size) == (3, 3)
            and tuple(layer.strides) == (1, 1) and tuple(layer.dilation_rate) == (1, 1)
            and layer.padding == "same" and layer.groups == 1)


def wide_enough(in_channels: int) -> bool:
    """Whether a 3x3 convolution with this many input channels is worth Winograd's transforms on this
    machine (:func:`tfstyle.hardware.winograd_min_channels`)."""
    return in_channels >= hardware.winograd_min_channels()


def use_winograd(layer) -> bool:
    """Where F(4, 3) was faster than TensorFlow's float32 convolution (``bench/winograd.py``): eligible
    layers that are :func:`wide_enough`."""
    return winograd_eligible(layer) and wide_enough(layer.kernel.shape[2])


class TransposedConv:
    """A 'same', stride-1 3x3 convolution without bias, ``(B, H, W, C) -> (B, H, W, K)``, computed as
    the transpose of a convolution (``Conv2DBackpropInput``) with the kernel turned 180 degrees and
    its channels swapped; its input gradient is TensorFlow's own (``Conv2DBackpropInput`` with the
    kernel). Where oneDNN runs the convolutions its backward-data kernel is faster than its forward
    one on VGG19's first layers; with Eigen's it is the other way round, so :class:`WinogradChain`
    uses it only where :func:`tfstyle.hardware.transposed_convolutions_faster` says so
    (bench/results/decisions.md)."""

    def __init__(self, kernel):
        import tensorflow as tf

        self.kernel = kernel  # (3, 3, C, K), the layer's own variable
        self.turned = tf.Variable(tf.transpose(tf.reverse(kernel, [0, 1]), (0, 1, 3, 2)), trainable=False)

    def __call__(self, x):
        import tensorflow as tf

        y = tf.identity(_transposed(tf.stop_gradient(x), self.turned))
        record("TransposedConv", y, x, lambda dy: [_transposed(dy, self.kernel)])
        return y


def _transposed(x, kernel):
    """The transpose of the 'same' stride-1 convolution with ``kernel`` (h, w, C_out, C_in), applied
    to ``x`` (B, H, W, C_in): (B, H, W, C_out)."""
    import tensorflow as tf

    shape = tf.shape(x)
    sizes = [x.shape[i] if x.shape[i] is not None else shape[i] for i in range(3)] + [kernel.shape[2]]
    return tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.stack(sizes), filter=kernel, out_backprop=x,
                                          strides=[1, 1, 1, 1], padding="SAME")


class WinogradChain:
    """Runs a plain chain of Keras layers (each layer's input is the previous one's output, as in
    VGG), float32, with :func:`use_winograd` convolutions computed by :class:`WinogradConv` (plus the
    layer's bias and activation), the other 3x3 convolutions (VGG's first, from 3 channels) by
    :class:`TransposedConv` where :func:`tfstyle.hardware.transposed_convolutions_faster`, and every
    other layer as Keras runs it.

    Built for the layer names ``taps``, it stops after the last of them; ``chain(x)`` returns
    ``{name: output}`` for ``taps``.
    """

    def __init__(self, layers, taps):
        self.taps = frozenset(taps)
        taps = set(taps)
        self.steps = []
        self.replaced = []
        self.transposed = []
        for layer in layers:
            bias = layer.bias if getattr(layer, "use_bias", False) else None
            if use_winograd(layer):
                conv = WinogradConv(layer.kernel.numpy())
                self.steps.append((layer.name, _ConvStep(conv, bias, layer.activation)))
                self.replaced.append(layer.name)
            elif winograd_eligible(layer) and hardware.transposed_convolutions_faster():
                self.steps.append((layer.name, _ConvStep(TransposedConv(layer.kernel), bias, layer.activation)))
                self.transposed.append(layer.name)
            else:
                self.steps.append((layer.name, layer))
            taps.discard(layer.name)
            if not taps:
                break
        if taps:
            raise ValueError(f"layers not in the chain: {sorted(taps)}")

    def __call__(self, x):
        out = {}
        for name, step in self.steps:  # the steps end at the last tap
            x = step(x)
            if name in self.taps:
                out[name] = x
        return out


class _ConvStep:
    def __init__(self, conv, bias, activation):
        self.conv, self.bias, self.activation = conv, bias, activation

    def __call__(self, x):
        y = self.conv(x)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)


__all__ = ["MATRICES", "TransposedConv", "WinogradConv", "WinogradChain", "native_transforms",
           "reference_pixels", "reference_tiles", "transform_kernel", "use_winograd", "wide_enough",
           "winograd_eligible"]
