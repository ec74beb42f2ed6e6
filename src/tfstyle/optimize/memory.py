"""Memory estimates for one optimisation step, tiling decisions and refusing runs that cannot fit.

A run killed by the kernel's out-of-memory killer loses everything; a run refused up front with one
line naming the estimate and the limit loses nothing. The estimate of one step's peak resident
memory (bytes) is::

    MEMORY_BASE + MEMORY_BACKWARD_FACTOR * (activation bytes of the extractor for the (tile) image)
                + unfolding workspace (without oneDNN)
                + bytes of whole-image buffers (images, optimiser state, targets)

* activation bytes: every layer the truncated network computes (the ancestors of the layers the
  losses read, from the backbone's graph facts: ``tfstyle.backbones.base.graph_facts``), cells x
  channels each, at the policy's compute width (2 bytes under mixed_bfloat16 / mixed_float16, 4
  under float32), plus the float32 copies of the layers the losses read (two more under softmax
  smoothing);
* ``MEMORY_BACKWARD_FACTOR``: the backward pass keeps the forward activations and creates gradients
  of the same shapes, plus oneDNN scratch;
* unfolding workspace (:func:`tfstyle.hardware.unfolds_convolutions`): where TensorFlow runs without
  oneDNN (CPUs without AVX-512, e.g. AVX2-only AMD and older Intel), its Eigen convolution gradients unfold the input of a convolution into
  k*k*channels values per cell ("im2col"); the largest such copy (VGG's ``block1_conv2``: 64 * 9
  float32 values per pixel) is alive at the peak, and the measured peaks need it
  (bench/results/decisions.md, "unfolding workspace");
* Winograd convolutions (``--conv-algorithm``, :func:`winograd_bytes`): their transformed kernels for
  the whole run, and a workspace proportional to the largest replaced layer's input;
* ``MEMORY_BASE``: the TensorFlow runtime, the model and its compiled functions.

Both constants live in ``tfstyle.config`` and were calibrated against the peak RSS of real runs in
subprocesses: ``python bench/calibrate_memory.py`` prints measured next to estimated for every network
(bench/results/avx512_bf16/memory.md; the documentation's high-resolution page has the table).

Policy: a scale runs untiled when its untiled estimate is at most ``AUTO_TILE_FRACTION`` of the
limit (the limit is ``--memory-limit`` GiB, or the RAM psutil reports available); else in the
largest tiles whose estimate is within that fraction; a run whose smallest plan still exceeds the
limit is refused with :class:`MemoryLimitError` (exit 2 on the command line). Networks whose
features see the whole image (EfficientNet's squeeze-and-excitation) and softmax smoothing (which
normalises over the whole image) cannot be tiled: their runs are planned untiled or refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..backbones.base import Backbone
from ..backbones.extractor import resolve_conv
from ..config import (AUTO_TILE_FRACTION, MEMORY_BACKWARD_FACTOR, MEMORY_BASE_GIB,
                      MEMORY_IMAGE_BUFFERS, OPTIMIZERS_REGISTRY, TILE_CANDIDATES, WINOGRAD_WORKSPACE_FACTOR,
                      ConfigError, StylizeConfig)
from ..hardware import resolve_precision, unfolds_convolutions

GIB = 1024 ** 3
BASE = int(MEMORY_BASE_GIB * GIB)


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


def activation_bytes(hw: tuple[int, int], layers, policy: str, backbone: Backbone, smoothing: str = "none") -> int:
    """Bytes of the forward activations of the network truncated after ``layers``, for an (H, W) input.

    Args:
        hw: (H, W) of the input image (or tile).
        layers: Keras layer names the losses read (their float32 copies are counted too).
        policy: "float32", "mixed_bfloat16" or "mixed_float16".
        backbone: the loss network (its graph facts give every layer's cells and channels).
        smoothing: "softmax" adds two float32 copies of each layer the losses read.
    """
    facts = backbone.facts()
    width = 4 if policy == "float32" else 2
    h, w = hw
    computed = set().union(*(facts[n].ancestors for n in layers))

    def elements(name):
        f = facts[name]
        return f.cells(h) * f.cells(w) * f.channels

    total = 3 * h * w * 4 * 2  # the [0, 1] input and its preprocessed copy (float32)
    total += sum(elements(n) for n in computed if len(facts[n].ancestors) > 1) * width  # not the input
    copies = 3 if smoothing == "softmax" else 1
    total += sum(elements(n) for n in set(layers)) * 4 * copies
    return total


def workspace_bytes(hw: tuple[int, int], layers, backbone: Backbone) -> int:
    """Bytes of the largest unfolded convolution input (float32) of the network truncated after
    ``layers``, where TensorFlow's convolutions run without oneDNN; 0 where they run with it."""
    if not unfolds_convolutions():
        return 0
    facts = backbone.facts()
    computed = set().union(*(facts[n].ancestors for n in layers))
    h, w = hw
    return max((facts[n].cells(h) * facts[n].cells(w) * facts[n].patch * 4 for n in computed), default=0)


def winograd_bytes(hw: tuple[int, int], layers, backbone: Backbone, policy: str, conv: str) -> tuple[int, int]:
    """``(kernels, workspace)`` bytes where the run's 3x3 convolutions are Winograd's
    (:mod:`tfstyle.kernels.winograd`), ``(0, 0)`` otherwise. Kernels: for each replaced layer, 36/9
    of its float32 kernel for the forward pass and as much for the input gradient, alive for the
    whole run. Workspace: the tiles, their transforms and the products of the largest replaced
    layer, ``WINOGRAD_WORKSPACE_FACTOR`` times its float32 input."""
    if resolve_conv(conv, policy, backbone.chain) != "winograd":
        return 0, 0
    facts = backbone.facts()
    computed = set().union(*(facts[n].ancestors for n in layers))
    from ..kernels.winograd import wide_enough

    # The networks Winograd runs (plain chains: VGG) have only 3x3 convolutions: input channels = patch / 9.
    replaced = [facts[n] for n in computed if facts[n].patch and wide_enough(facts[n].patch // 9)]
    if not replaced:
        return 0, 0
    kernels = sum(2 * 4 * 4 * f.patch * f.channels for f in replaced)
    largest = max(f.cells(hw[0]) * f.cells(hw[1]) * (f.patch // 9) for f in replaced)
    return kernels, int(WINOGRAD_WORKSPACE_FACTOR * 4 * largest)


def _layers(config: StylizeConfig) -> list[str]:
    content, style = config.resolved_layers()
    return list(content) + [n for n, w in style if w > 0]


def target_bytes(hw: tuple[int, int], config: StylizeConfig, backbone: Backbone) -> int:
    """float32 content targets (whole feature maps) and style Grams."""
    facts = backbone.facts()
    content, style = config.resolved_layers()
    total = 0
    for name in content:
        f = facts[name]
        total += f.cells(hw[0]) * f.cells(hw[1]) * f.channels * 4
    for name, _ in style:
        total += facts[name].channels ** 2 * 4
    return total


def optimizer_bytes(hw: tuple[int, int], optimizer: str) -> int:
    """Bytes of the optimiser's state for an (H, W) RGB image (``OptimizerEntry.state_bytes`` per value)."""
    return hw[0] * hw[1] * 3 * OPTIMIZERS_REGISTRY[optimizer].state_bytes


def tiled_optimizer(optimizer: str) -> str:
    """The optimiser of a tiled scale: ``optimizer`` where it takes the tiled objective
    (``OptimizerEntry.tiles``), else the first registered one that does."""
    if OPTIMIZERS_REGISTRY[optimizer].tiles:
        return optimizer
    return next(name for name, entry in OPTIMIZERS_REGISTRY.items() if entry.tiles)


def estimate_step(hw: tuple[int, int], config: StylizeConfig, backbone: Backbone, tile: int = 0,
                  optimizer: str | None = None, policy: str | None = None) -> Estimate:
    """Estimated peak bytes of one step on an (H, W) image, untiled (``tile=0``) or in tiles.

    Tiles are estimated at their largest: a core of 1.25 * ``tile`` (small edge pieces merge into
    their neighbour) plus :func:`tfstyle.optimize.tiling.default_margin` on each side, clipped to the
    image.
    """
    from .tiling import default_margin, max_core

    policy = policy or resolve_precision(config.precision)
    optimizer = optimizer or config.optimizer
    layers = _layers(config)
    if tile:
        margin = default_margin(backbone.facts(), layers)
        ext = tuple(min(n, max_core(tile) + 2 * margin) for n in hw)
    else:
        ext = hw
    acts = int(MEMORY_BACKWARD_FACTOR * activation_bytes(ext, layers, policy, backbone, config.resolved_smoothing()))
    acts += workspace_bytes(ext, layers, backbone)
    kernels, winograd_workspace = winograd_bytes(ext, layers, backbone, policy, config.conv_algorithm)
    acts += winograd_workspace
    buffers = (MEMORY_IMAGE_BUFFERS * hw[0] * hw[1] * 3 * 4 + optimizer_bytes(hw, optimizer)
               + target_bytes(hw, config, backbone) + kernels)
    return Estimate(BASE, acts, buffers)


def untileable_reason(config: StylizeConfig, backbone: Backbone) -> str | None:
    """Why ``config``'s objective cannot be computed in tiles by ``backbone`` (its network), or None
    if it can."""
    if not backbone.tileable(_layers(config)):
        return (f"{backbone.title}'s layers see the whole image (squeeze-and-excitation's global pooling), "
                f"so tiles cannot compute them")
    if config.resolved_smoothing() == "softmax":
        return "softmax smoothing normalises each layer over the whole image (use --smoothing none to tile)"
    return None


def available_bytes() -> int:
    """RAM available to a new allocation now (psutil), in bytes."""
    import psutil

    return int(psutil.virtual_memory().available)


def resolve_limit(config: StylizeConfig) -> int:
    """The run's memory limit in bytes: ``config.memory_limit`` GiB, or the available RAM if 0."""
    return int(config.memory_limit * GIB) if config.memory_limit > 0 else available_bytes()


def _limit_name(config: StylizeConfig) -> str:
    return "--memory-limit" if config.memory_limit > 0 else "available RAM"


def plan_scale(hw: tuple[int, int], config: StylizeConfig, backbone: Backbone, limit: int,
               policy: str | None = None) -> tuple[int, str, int]:
    """Decide how to run one scale of (H, W): ``(tile, optimizer, estimated bytes)``; tile 0 = untiled.
    ``policy``: the run's resolved Keras dtype policy (None: resolved from ``config.precision``).

    Tiled scales use an optimiser that takes the tiled objective (:func:`tiled_optimizer`: Adam where
    L-BFGS is configured): the moving tile grid makes the objective slightly different at every
    evaluation, which L-BFGS's line search does not tolerate, and L-BFGS would keep its vector pairs
    of the whole image.

    Raises:
        MemoryLimitError: not even the smallest plan fits ``limit``.
    """
    budget = AUTO_TILE_FRACTION * limit
    longest = max(hw)
    untileable = untileable_reason(config, backbone)
    if config.tile_size and longest > config.tile_size and untileable:
        raise ConfigError(f"--tile-size {config.tile_size}: {untileable}")
    if config.tile_size:
        if longest <= config.tile_size:
            plans = [(0, config.optimizer)]
        else:
            plans = [(config.tile_size, tiled_optimizer(config.optimizer))]
    elif untileable:
        plans = [(0, config.optimizer)]
    else:
        plans = [(0, config.optimizer)] + [(t, tiled_optimizer(config.optimizer)) for t in TILE_CANDIDATES
                                           if t < longest]
    chosen = None
    for tile, opt in plans:
        est = estimate_step(hw, config, backbone, tile, opt, policy).total
        if est <= budget:
            return tile, opt, est
        chosen = (tile, opt, est)
    tile, opt, est = chosen
    if est <= limit:
        return tile, opt, est
    how = f"in tiles of {tile} px" if tile else "untiled"
    why_not_tiles = f" (it cannot be tiled: {untileable})" if untileable and not tile else ""
    raise MemoryLimitError(
        f"a {hw[1]}x{hw[0]} step {how} needs an estimated {est / GIB:.1f} GiB, more than the "
        f"{limit / GIB:.1f} GiB limit ({_limit_name(config)}){why_not_tiles}; lower --size"
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


__all__ = ["MemoryLimitError", "Estimate", "estimate_step", "activation_bytes", "plan_scale", "untileable_reason",
           "resolve_limit", "available_bytes", "peak_rss_bytes", "GIB"]
