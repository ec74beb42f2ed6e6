"""Memory estimates for one optimisation step, tiling decisions and refusing runs that cannot fit.

A run killed by the kernel's out-of-memory killer loses everything; a run refused up front with one
line naming the estimate and the limit loses nothing. The estimate of one step's peak resident
memory (bytes) is::

    BASE + BACKWARD_FACTOR * (activation bytes of the extractor for the (tile) image)
         + bytes of whole-image buffers (images, optimiser state, targets)

* activation bytes: every VGG19 layer up to the deepest one used, h_l * w_l * C_l elements each, at
  the policy's compute width (2 bytes under mixed_bfloat16 / mixed_float16, 4 under float32), plus
  the float32 copies of the layers the losses read (Grams are always float32);
* ``BACKWARD_FACTOR``: the backward pass keeps the forward activations and creates gradients of the
  same shapes, plus oneDNN scratch;
* ``BASE``: the TensorFlow runtime, the model and its compiled functions.

``BASE`` and ``BACKWARD_FACTOR`` were calibrated against the peak RSS (``resource.getrusage``) of
real runs in subprocesses: ``python bench/calibrate_memory.py`` prints measured next to estimated
(the README's high-resolution section has the table). The estimate counts VGG19 (the widest
supported backbone up to block5), so it is conservative for smaller ones.

Policy: a scale runs untiled when its untiled estimate is at most ``AUTO_TILE_FRACTION`` of the
limit (the limit is ``--memory-limit`` GiB, or the RAM psutil reports available); else in the
largest tiles whose estimate is within that fraction; a run whose smallest plan still exceeds the
limit is refused with :class:`MemoryLimitError` (exit 2 on the command line).
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import ConfigError, StylizeConfig
from .features import VGG_LAYERS, resolve_precision

GIB = 1024 ** 3
# Calibrated (bench/calibrate_memory.py): see the module docstring.
BASE = int(0.75 * GIB)
BACKWARD_FACTOR = 1.3
# Whole-image float32 RGB buffers alive during a step besides the optimiser's: the content and style
# images, the image variable or array, its gradient, L-BFGS's float64 copies in and out.
IMAGE_BUFFERS = 8
LBFGS_HISTORY = 20  # maxcor of tfstyle.optimize._LBFGSRun: pairs of float64 vectors kept
AUTO_TILE_FRACTION = 0.8
TILE_CANDIDATES = (2048, 1536, 1024, 768, 512, 384, 256, 128)
_CHANNELS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}


class MemoryLimitError(ConfigError):
    """The run is estimated to need more memory than allowed. Message is one line."""


@dataclass(frozen=True)
class Estimate:
    """Estimated peak resident bytes of one step, split into its parts."""

    base: int
    activations: int
    buffers: int

    @property
    def total(self) -> int:
        return self.base + self.activations + self.buffers


def layer_stride(name: str) -> int:
    """Pixels per feature cell of a VGG layer: block k conv layers 2^(k-1), block k pool 2^k."""
    block = int(name[5])
    return 2 ** (block if name.endswith("pool") else block - 1)


def layer_channels(name: str) -> int:
    return _CHANNELS[int(name[5])]


def _cells(n: int, stride: int) -> int:
    return n // stride  # VGG's poolings floor


def activation_bytes(hw: tuple[int, int], layers, policy: str) -> int:
    """Bytes of the forward activations up to the deepest of ``layers`` for an (H, W) input.

    Args:
        hw: (H, W) of the input image (or tile).
        layers: Keras layer names the losses read (their float32 copies are counted too).
        policy: "float32", "mixed_bfloat16" or "mixed_float16".
    """
    width = 4 if policy == "float32" else 2
    deepest = max(VGG_LAYERS.index(n) for n in layers)
    h, w = hw
    total = 3 * h * w * 4 * 2  # the [0, 1] input and its preprocessed copy (float32)
    for name in VGG_LAYERS[: deepest + 1]:
        s = layer_stride(name)
        total += _cells(h, s) * _cells(w, s) * layer_channels(name) * width
    for name in set(layers):
        s = layer_stride(name)
        total += _cells(h, s) * _cells(w, s) * layer_channels(name) * 4
    return total


def _layers(config: StylizeConfig) -> list[str]:
    return list(config.content_layers) + [n for n, w in config.style_layers if w > 0]


def target_bytes(hw: tuple[int, int], config: StylizeConfig) -> int:
    """float32 content targets (whole feature maps) and style Grams."""
    h, w = hw
    total = 0
    for name in config.content_layers:
        s = layer_stride(name)
        total += _cells(h, s) * _cells(w, s) * layer_channels(name) * 4
    for name, _ in config.style_layers:
        total += layer_channels(name) ** 2 * 4
    return total


def optimizer_bytes(hw: tuple[int, int], optimizer: str) -> int:
    n = hw[0] * hw[1] * 3
    if optimizer == "lbfgs":
        return n * 8 * (2 * LBFGS_HISTORY + 4)  # float64 s/y pairs plus SciPy's work vectors
    return n * 4 * 3  # Adam: iteration counter, momentum, velocity


def estimate_step(hw: tuple[int, int], config: StylizeConfig, tile: int = 0, optimizer: str | None = None,
                  policy: str | None = None) -> Estimate:
    """Estimated peak bytes of one step on an (H, W) image, untiled (``tile=0``) or in tiles.

    Tiles are estimated at their largest: a core of 1.25 * ``tile`` (small edge pieces merge into
    their neighbour) plus :func:`tfstyle.tiling.default_margin` on each side, clipped to the image.
    """
    from .tiling import default_margin, max_core

    policy = policy or resolve_precision(config.precision)
    optimizer = optimizer or config.optimizer
    if tile:
        ext = tuple(min(n, max_core(tile) + 2 * default_margin(_layers(config))) for n in hw)
    else:
        ext = hw
    acts = int(BACKWARD_FACTOR * activation_bytes(ext, _layers(config), policy))
    buffers = IMAGE_BUFFERS * hw[0] * hw[1] * 3 * 4 + optimizer_bytes(hw, optimizer) + target_bytes(hw, config)
    return Estimate(BASE, acts, buffers)


def available_bytes() -> int:
    """RAM available to a new allocation now (psutil), in bytes."""
    import psutil

    return int(psutil.virtual_memory().available)


def resolve_limit(config: StylizeConfig) -> int:
    """The run's memory limit in bytes: ``config.memory_limit`` GiB, or the available RAM if 0."""
    return int(config.memory_limit * GIB) if config.memory_limit > 0 else available_bytes()


def _limit_name(config: StylizeConfig) -> str:
    return "--memory-limit" if config.memory_limit > 0 else "available RAM"


def plan_scale(hw: tuple[int, int], config: StylizeConfig, limit: int) -> tuple[int, str, int]:
    """Decide how to run one scale of (H, W): ``(tile, optimizer, estimated bytes)``; tile 0 = untiled.

    Tiled scales use Adam: L-BFGS would keep 20 float64 vector pairs of the whole image (16 GiB at
    4096 px), and the moving tile grid makes the objective slightly different at every evaluation,
    which L-BFGS's line search does not tolerate.

    Raises:
        MemoryLimitError: not even the smallest plan fits ``limit``.
    """
    budget = AUTO_TILE_FRACTION * limit
    longest = max(hw)
    if config.tile_size:
        if longest <= config.tile_size:
            plans = [(0, config.optimizer)]
        else:
            plans = [(config.tile_size, "adam")]
    else:
        plans = [(0, config.optimizer)] + [(t, "adam") for t in TILE_CANDIDATES if t < longest]
    chosen = None
    for tile, opt in plans:
        est = estimate_step(hw, config, tile, opt).total
        if est <= budget:
            return tile, opt, est
        chosen = (tile, opt, est)
    tile, opt, est = chosen
    if est <= limit:
        return tile, opt, est
    how = f"in tiles of {tile} px" if tile else "untiled"
    raise MemoryLimitError(
        f"a {hw[1]}x{hw[0]} step {how} needs an estimated {est / GIB:.1f} GiB, more than the "
        f"{limit / GIB:.1f} GiB limit ({_limit_name(config)}); lower --size"
        + (" or --tile-size" if config.tile_size else "") + " or free memory")


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far, in bytes.

    Linux: ``VmHWM`` of /proc/self/status, the high-water mark of this process's own address space.
    ``getrusage``'s ru_maxrss is not used there: it survives ``exec``, so a child forked from a large
    parent (a test runner, a benchmark driver) would report the parent's size.
    """
    import resource
    import sys

    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r if sys.platform == "darwin" else r * 1024)


__all__ = ["MemoryLimitError", "Estimate", "estimate_step", "activation_bytes", "plan_scale",
           "resolve_limit", "available_bytes", "peak_rss_bytes", "GIB"]
