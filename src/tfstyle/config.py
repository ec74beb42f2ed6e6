"""Every default of tfstyle lives here.

The command line builds its flags and help text from these dataclasses (``help`` in each field's
metadata), so a default changed here changes everywhere.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Layer names are Keras's own (keras.applications), never indices.
# VGG content: conv4_2 as in Gatys et al. (the TF tutorial uses block5_conv2).
DEFAULT_CONTENT_LAYERS: tuple[str, ...] = ("block4_conv2",)
# VGG style: conv1_1 .. conv5_1 with equal weights, as in Gatys et al.
DEFAULT_STYLE_LAYERS: tuple[tuple[str, float], ...] = (
    ("block1_conv1", 1.0),
    ("block2_conv1", 1.0),
    ("block3_conv1", 1.0),
    ("block4_conv1", 1.0),
    ("block5_conv1", 1.0),
)


@dataclass(frozen=True)
class BackboneEntry:
    """A loss network: where its implementation lives and its defaults.

    Attributes:
        implementation: "module:Class" of its :class:`tfstyle.backbones.base.Backbone` (imported
            on first use). Adding a network is one file under ``tfstyle/backbones`` and one entry in
            :data:`BACKBONES_REGISTRY`.
        content_layers, style_layers: the default layers (Keras layer names; style layers with
            weights).
        smoothing: what ``smoothing="auto"`` means for it (see ``SMOOTHINGS``).
        lr: what ``lr=0`` (Adam's default rate, [0, 1] pixel units) means for it.
        random_pooling: what ``pooling="auto"`` means for its fixed-seed random variant (its
            ImageNet weights always get the pooling they were trained with, "max").
    """

    implementation: str
    content_layers: tuple[str, ...]
    style_layers: tuple[tuple[str, float], ...]
    smoothing: str = "none"
    lr: float = 0.1
    random_pooling: str = "max"


# The weight-free fallback: random VGG with average pooling moved colours as far toward the style as
# with max pooling (0.77 vs 0.74 of the way, three image pairs, bench/offline.py) with 2.4x less noise
# in the content's flat regions (95x vs 230x the photo's); random ResNet50 and EfficientNetB0 hardly
# moved at all (0.01-0.07), with or without smoothing.
# VGG's Adam rate (0.1) makes the deeper, batch-normalised networks diverge: measured with their random
# variants at 128 px, 60 steps, the loss rose from the first step at 0.05 and 0.1 and fell at 0.01.
# Residual networks: Wang et al. (CVPR 2021, "Rethinking and Improving the Robustness of Image
# Style Transfer") found their activations peaky (small entropy) and smoothed them with a softmax;
# their ResNet50 layers, in Keras's names: style relu1, conv2_3, conv3_4, conv4_6, conv5_3 block
# outputs, content conv4_6.
BACKBONES_REGISTRY: dict[str, BackboneEntry] = {
    "vgg19": BackboneEntry("tfstyle.backbones.vgg:VGG19", DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS,
                           random_pooling="avg"),
    "vgg16": BackboneEntry("tfstyle.backbones.vgg:VGG16", DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS,
                           random_pooling="avg"),
    "resnet50": BackboneEntry(
        "tfstyle.backbones.resnet:ResNet50", ("conv4_block6_out",),
        (("conv1_relu", 1.0), ("conv2_block3_out", 1.0), ("conv3_block4_out", 1.0), ("conv4_block6_out", 1.0),
         ("conv5_block3_out", 1.0)),
        smoothing="softmax", lr=0.01),
    "efficientnetb0": BackboneEntry(
        "tfstyle.backbones.efficientnet:EfficientNetB0", ("block4c_add",),
        (("stem_activation", 1.0), ("block2b_add", 1.0), ("block3b_add", 1.0), ("block4c_add", 1.0),
         ("block6d_add", 1.0)),
        smoothing="softmax", lr=0.01),
}
# The architecture (--network); every one has Keras's layer names and its own preprocessing.
NETWORKS = tuple(BACKBONES_REGISTRY)

OPTIMIZERS = ("lbfgs", "adam")
LR_SCHEDULES = ("auto", "cosine", "exponential", "wsd")
INITS = ("content", "noise", "style")  # or the path of an image file
PRECISIONS = ("auto", "float32", "mixed")
CONV_ALGORITHMS = ("auto", "direct", "winograd")
# Where the weights come from ("vgg19" is the older spelling of "imagenet", valid with network vgg19).
BACKBONES = ("auto", "imagenet", "vgg19", "random")
POOLINGS = ("auto", "max", "avg")
# Feature smoothing before the losses (tfstyle.backbones.extractor.smooth): none, softmax (Wang et
# al.), or auto (the network's own default, BackboneEntry.smoothing).
SMOOTHINGS = ("auto", "none", "softmax")
PRESERVE_COLORS = ("none", "luminance", "histogram")
MAX_STYLE_SCALE = 8.0

# Environment variable naming a VGG19 "notop" weight file (Keras h5 layout) ...
WEIGHTS_ENV = "TFSTYLE_VGG19_WEIGHTS"


def weights_env(network: str) -> str:
    """The environment variable naming ``network``'s weight file: ``TFSTYLE_<NETWORK>_WEIGHTS``."""
    return f"TFSTYLE_{network.upper()}_WEIGHTS"


# ... and the one for each network.
WEIGHTS_ENVS = {name: weights_env(name) for name in NETWORKS}
# Set to 1 to never try Keras's download (useful offline: fail fast, no network wait).
OFFLINE_ENV = "TFSTYLE_OFFLINE"
# The fixed seed of the weight-free backbones: the same random filters on every run and machine.
RANDOM_BACKBONE_SEED = 1234

# --- image optimisation internals -------------------------------------------------------------
# Turn oneDNN on for TensorFlow's CPU kernels where TensorFlow leaves it off (x86 CPUs without
# AVX-512, such as AVX2-only AMD EPYC), when tfstyle is imported before TensorFlow: there a float32
# VGG19 step at 256 px took 0.336 s against 0.567 s with Eigen's kernels (Winograd layers included;
# oneDNN's batched matmul and convolutions, bench/knobs.py). TF_ENABLE_ONEDNN_OPTS, when set, wins.
PREFER_ONEDNN = True
# Winograd F(4x4, 3x3) (tfstyle.backbones.winograd) for 3x3 convolutions with at least this many input
# channels (bench/winograd.py, forward and input gradient, AVX2 EPYC). With oneDNN's kernels every VGG19
# layer from block1_conv2 (64 channels) won, 1.37-3.55x at 256 and 512 px. With Eigen's (oneDNN off),
# block1_conv2 lost (0.79x) and block2_conv1 broke even (1.04x) at 256 px; from 128 channels it won.
WINOGRAD_MIN_CHANNELS = 128
WINOGRAD_MIN_CHANNELS_ONEDNN = 64
# Peak workspace of Winograd convolutions, in float32 inputs of the largest replaced layer (tiles,
# transforms, products, in the forward pass and the input gradient, plus what the allocator keeps).
# Fitted on an AVX2 EPYC, VGG19 at 512x341: peak RSS 2740 MiB against 1858 MiB with TensorFlow's
# convolutions, of which the transformed kernels are 464 MiB (bench/speed.py, README).
WINOGRAD_WORKSPACE_FACTOR = 18
# Native Winograd transforms (tfstyle.backbones.native): C++ ops built on first use with the installed
# TensorFlow's flags and a C++ compiler ($CXX, else g++), cached per TensorFlow version, compiler and
# CPU. Where they cannot be built the TensorFlow-op transforms run. TFSTYLE_NATIVE_KERNELS=0 turns
# them off; the build gives up after NATIVE_BUILD_TIMEOUT seconds.
NATIVE_KERNELS = True
NATIVE_KERNELS_ENV = "TFSTYLE_NATIVE_KERNELS"
NATIVE_BUILD_TIMEOUT = 300
# tfstyle's cache (built kernels): $TFSTYLE_CACHE_DIR, else $XDG_CACHE_HOME/tfstyle, else ~/.cache/tfstyle.
NATIVE_CACHE_ENV = "TFSTYLE_CACHE_DIR"


def default_cache_dir():
    """tfstyle's cache folder (see ``NATIVE_CACHE_ENV``), as a Path; not created here."""
    if os.environ.get(NATIVE_CACHE_ENV):
        return Path(os.environ[NATIVE_CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "tfstyle"


# Adam's epsilon: per-pixel gradients of a mean-based loss are ~1e-6; Keras's 1e-7 would damp them.
ADAM_EPSILON = 1e-10
# L-BFGS-B correction pairs (SciPy's maxcor).
LBFGS_HISTORY = 20
# The coarsest automatic scale (longest side). Below ~256 px VGG's deep layers see only a few cells.
MIN_COARSE = 256
# --scale-split auto with two scales (512 px: 256 then 512): the coarse scale's steps over the fine
# one's; from three scales auto stays equal. Measurements and reasons: tfstyle.optimize.multiscale's
# docstring ("Steps").
TWO_SCALE_SPLIT = 0.5

# --- memory planning (tfstyle.optimize.memory) --------------------------------------------------
# Peak RSS of one step = MEMORY_BASE + MEMORY_BACKWARD_FACTOR * activation bytes + whole-image
# buffers; both fitted to measured peaks (bench/calibrate_memory.py).
MEMORY_BASE_GIB = 0.75
MEMORY_BACKWARD_FACTOR = 1.3
# Whole-image float32 RGB buffers alive during a step besides the optimiser's.
MEMORY_IMAGE_BUFFERS = 8
# A scale runs untiled if its estimate is at most this fraction of the limit.
AUTO_TILE_FRACTION = 0.8
# Tile sizes tried, largest first, when a scale must be tiled.
TILE_CANDIDATES = (2048, 1536, 1024, 768, 512, 384, 256, 128)

# --- command-line only ------------------------------------------------------------------------
SAVE_EVERY = 0       # stylize --save-every: intermediate images every N steps (0: never)
PREVIEW_EVERY = 100  # train --preview-every: TensorBoard preview images every N steps


MAX_SIZE = 16384
MAX_STEPS = 1_000_000
_FLOAT32_MAX = 3.4028234663852886e38


class ConfigError(ValueError):
    """A configuration value is out of range or inconsistent. Message is one line."""


class _LossNetworkSettings:
    """Resolution of the loss network's "use its defaults" settings, shared by the configs that
    have ``network``, ``content_layers``, ``style_layers`` and ``smoothing`` fields."""

    def resolved_layers(self) -> tuple[tuple[str, ...], tuple[tuple[str, float], ...]]:
        """``(content_layers, style_layers)``; an empty setting means the network's defaults."""
        entry = BACKBONES_REGISTRY[self.network]
        return (tuple(self.content_layers) or entry.content_layers,
                tuple(self.style_layers) or entry.style_layers)

    def resolved_pooling(self, random_weights: bool) -> str:
        """``pooling`` with "auto" replaced: max with ImageNet weights, the network's ``random_pooling``
        with its random fallback."""
        if self.pooling != "auto":
            return self.pooling
        return BACKBONES_REGISTRY[self.network].random_pooling if random_weights else "max"

    def resolved_smoothing(self) -> str:
        """"none" or "softmax": ``smoothing`` with "auto" replaced by the network's default."""
        return BACKBONES_REGISTRY[self.network].smoothing if self.smoothing == "auto" else self.smoothing

    def _validate_loss_network(self) -> None:
        _choice("network", self.network, NETWORKS)
        _choice("pooling", self.pooling, POOLINGS)
        _choice("smoothing", self.smoothing, SMOOTHINGS)
        _finite("smoothing_temperature", self.smoothing_temperature, positive=True)
        if self.backbone == "vgg19" and self.network != "vgg19":
            raise ConfigError(f"backbone vgg19 means VGG19 weights but network is {self.network}; "
                              f"use backbone imagenet")
        content, style = self.resolved_layers()
        for name, w in style:
            _finite(f"weight of style layer {name}", w, positive=False)
        if sum(w for _, w in style) <= 0:
            raise ConfigError("style layer weights must not all be 0")


def _h(text: str, **extra) -> dict:
    return {"help": text, **extra}


@dataclass(frozen=True)
class StylizeConfig(_LossNetworkSettings):
    """Settings of one image-optimisation run (Gatys et al.).

    Loss weights are dimensionless: every loss part is divided by the magnitude of its own target
    (see ``tfstyle.losses``), so the same weights mean the same at any size, layer choice or
    backbone.
    """

    size: int = field(default=512, metadata=_h("longest side of the output in pixels"))
    steps: int = field(default=300, metadata=_h("optimisation steps (Adam steps or L-BFGS iterations); coarse to "
                                                "fine, the learning-rate schedule's length, of which coarser "
                                                "scales may run part (--coarse-fraction); auto: at most "
                                                "AUTO_MAX_STEPS, stopping early by --stop-margin",
                                                parse=lambda text: parse_steps(text)))
    # Adam by default. Measured at 512 px with bfloat16 (README, speed section): its steps cost half
    # an L-BFGS-B iteration (SciPy's bookkeeping alone takes 0.19 s per iteration, about as long as
    # the loss and gradient), at equal time it reached a lower loss on two of three image pairs,
    # and it reaches the speed benchmark's target where L-BFGS-B does not.
    optimizer: str = field(
        default="adam",
        metadata=_h("adam (decaying learning rate, projected into [0, 1]) or lbfgs (SciPy L-BFGS-B with "
                    "[0, 1] box bounds)", choices=OPTIMIZERS),
    )
    # 0.1 in [0, 1] pixel units, decaying to 0.01 (the TF tutorial keeps 0.02 throughout). Measured
    # at 512 px, 300 steps: lower losses than 0.05 on tfstyle's loss and on the speed benchmark's.
    lr: float = field(default=0.0, metadata=_h("Adam learning rate, in [0, 1] pixel units; 0: the network's own "
                                               "(vgg19, vgg16: 0.1; resnet50, efficientnetb0: 0.01)"))
    lr_decay: float = field(
        default=0.1, metadata=_h("Adam: the learning rate falls to lr*lr_decay at the last step (one schedule over "
                                 "all scales)")
    )
    # How it falls (tfstyle.optimize.loops.learning_rate). Cosine keeps the rate near lr for the first
    # third of the run and anneals after. Measured on an AVX2 CPU, 256 px, random VGG19: the speed
    # benchmark's target in 80 steps instead of 90 (bench/levers.py), and after 300 steps a lower
    # loss on all three README pairs, 0.973-0.994x the exponential schedule's (bench/final_loss.py). But at
    # 512 px, coarse-to-fine, the fine scale starts at a higher rate and cosine ended worse on two pairs
    # (1.002x, 1.025x). A schedule that decays over the whole budget leaves a short --steps behind the
    # same steps of a long run; wsd holds lr and decays over the last lr_cooldown of the budget only, and
    # reached a given quality with fewer steps in a whole command at 256 px (docs/time-to-quality.md).
    # So "auto" (resolved_lr_schedule) takes wsd for a single-scale run and keeps exponential for a
    # coarse-to-fine one, where wsd has not been measured against it to the end.
    lr_schedule: str = field(
        default="auto", metadata=_h("Adam: how the learning rate falls from lr to lr*lr_decay: exponential, "
                                    "cosine (half a cosine wave), wsd (held at lr, then half a cosine wave over "
                                    "the last --lr-cooldown of the steps) or auto (wsd for a single-scale run, "
                                    "exponential for a coarse-to-fine one)", choices=LR_SCHEDULES))
    stop_margin: float = field(
        default=0.0, metadata=_h("Adam: once the best loss has fallen by less than this fraction over the last "
                                 "AUTO_WINDOW steps, the rate decays over --lr-cooldown of the steps run so far "
                                 "and the run ends (the last scale only; 0: every step runs; --steps auto: "
                                 "AUTO_STOP_MARGIN)"))
    lr_cooldown: float = field(
        default=0.2, metadata=_h("Adam, --lr-schedule wsd: the last fraction of the steps over which the rate "
                                 "falls from lr to lr*lr_decay (the rate stays at lr before)"))
    # Off by default: after a warm-up-stable-decay schedule the mean of the last iterates scored
    # worse than the last iterate itself (docs/time-to-quality.md); it helps a rate that never decays.
    iterate_average: float = field(
        default=0.0, metadata=_h("Adam: average the images of the last this fraction of the steps; the mean is "
                                 "the output where its loss is lower than the best image's (0: off)"))
    # The loss network's 3x3 convolutions: "winograd" (F(4x4, 3x3), tfstyle.backbones.winograd) for a
    # float32 VGG network on a CPU (no GPU): the precision auto picks on CPUs without bfloat16
    # instructions, or float32 asked for. VGG19, forward and input gradient of every layer: 2.2x at
    # 256 px with oneDNN's kernels on an AVX2 EPYC (Zen 3), 1.3x with Eigen's (bench/winograd.py);
    # a float32 step at 512 px on an AVX-512 EPYC (Zen 4) 1.77x (bench/knobs.py).
    conv_algorithm: str = field(
        default="auto", metadata=_h("the loss network's 3x3 convolutions: direct (TensorFlow's), winograd "
                                    "(F(4x4,3x3); float32, VGG only) or auto (winograd for float32 VGG on "
                                    "a CPU)", choices=CONV_ALGORITHMS))
    content_weight: float = field(default=1.0, metadata=_h("weight of the (normalised) content loss"))
    style_weight: float = field(default=10.0, metadata=_h("weight of the (normalised) style loss"))
    tv_weight: float = field(default=1.0, metadata=_h("weight of the total-variation (smoothness) loss"))
    content_layers: tuple[str, ...] = field(
        default=(), metadata=_h("comma-separated Keras layer names; none: the network's own (vgg19: "
                                "block4_conv2)")
    )
    style_layers: tuple[tuple[str, float], ...] = field(
        default=(),
        metadata=_h("comma-separated layer names, each with an optional :weight (block1_conv1:0.5,...); "
                    "none: the network's own (vgg19: block1_conv1..block5_conv1)"),
    )
    init: str = field(
        default="content",
        metadata=_h("starting image: content, noise (seeded), style, or the path of an image file "
                    "(resized to the output size)", metavar="{content,noise,style,PATH}"),
    )
    seed: int = field(default=0, metadata=_h("random seed (noise init, random backbone is always fixed)"))
    precision: str = field(
        default="auto",
        metadata=_h(
            "float32, mixed (bfloat16 on CPU, float16 on GPU; Grams and losses stay float32) or auto "
            "(mixed only where the hardware has fast low-precision math)",
            choices=PRECISIONS,
        ),
    )
    backbone: str = field(
        default="auto",
        metadata=_h(
            "where the --network's weights come from: imagenet (fail if missing), random (fixed-seed "
            "random filters) or auto (imagenet if its weights can be found, else random, said plainly); "
            "vgg19 is the older spelling of imagenet",
            choices=BACKBONES,
        ),
    )
    weights: str | None = field(
        default=None,
        metadata=_h("notop weight file (.h5, Keras's layout) of the --network; else "
                    "$TFSTYLE_<NETWORK>_WEIGHTS (e.g. $TFSTYLE_VGG19_WEIGHTS)"),
    )
    network: str = field(
        default="vgg19",
        metadata=_h("the loss network (keras.applications): vgg19, vgg16, resnet50 or efficientnetb0, "
                    "each with its own layers and weight file", choices=NETWORKS),
    )
    pooling: str = field(
        default="auto",
        metadata=_h("VGG only: max (as trained), avg (Gatys et al.: the same conv weights chained "
                    "through average pooling) or auto (max with ImageNet weights, avg with the random "
                    "fallback, where it is less noisy)", choices=POOLINGS),
    )
    smoothing: str = field(
        default="auto",
        metadata=_h("smooth each tapped layer before the losses: softmax over all its positions and "
                    "channels (Wang et al. 2021), none, or auto (softmax for resnet50 and efficientnetb0, "
                    "none for VGG)", choices=SMOOTHINGS),
    )
    smoothing_temperature: float = field(
        default=1.0, metadata=_h("softmax smoothing: activations are divided by this before the softmax"))
    style_blend: tuple[float, ...] = field(
        default=(),
        metadata=_h("comma-separated weight of each style image, e.g. 0.7,0.3; none: equal weights",
                    parse=lambda text: parse_floats(text, "style_blend")),
    )
    style_scale: float = field(
        default=1.0,
        metadata=_h("size of the style's features in the output: the style image is resized to a "
                    "longest side of size*style_scale (2 = features twice as large)"),
    )
    preserve_color: str = field(
        default="none",
        metadata=_h("keep the content's colours: luminance (transfer on luminance only, chrominance "
                    "from the content) or histogram (style colours matched to the content's first)",
                    choices=PRESERVE_COLORS),
    )
    content_mask: str | None = field(
        default=None,
        metadata=_h("greyscale image: stylise only where it is white; black keeps the content"),
    )
    style_masks: tuple[str, ...] = field(
        default=(),
        metadata=_h("comma-separated greyscale images, one per style: where each style goes",
                    parse=lambda text: parse_paths(text, "style_masks")),
    )
    inter_op_threads: int = field(
        default=1,
        metadata=_h("TensorFlow inter-op threads (0: TensorFlow's default, one per core); fixed when "
                    "TensorFlow starts, so only the first run in a process sets it"),
    )
    # High resolution (tfstyle.multiscale, tfstyle.tiling, tfstyle.memory).
    scales: str = field(
        default="auto",
        metadata=_h("coarse-to-fine longest sides, e.g. 256,512 (SIZE is always the last); auto: halve "
                    "SIZE down to 256 px (one scale below 512 px); steps split by --scale-split"),
    )
    coarsest: int = field(
        default=MIN_COARSE, metadata=_h("--scales auto: halve SIZE while the result stays at least this many px"))
    scale_split: float = field(
        default=0.0, metadata=_h("steps of a scale over those of the next finer one (1: equal; 2: each coarser "
                                 "scale twice the steps); 0: auto (1:2 with two scales, equal with more)"))
    # Whole shares by default: every fraction below 1 measured reached the speed benchmark's target
    # sooner but ended worse after the default budget. Measurements and reasons:
    # tfstyle.optimize.multiscale's docstring ("Coarse scales may stop early").
    coarse_fraction: float = field(
        default=1.0, metadata=_h("Adam: a coarser scale stops after this fraction of its share of the steps and "
                                 "the next scale starts where the share ends in the learning-rate schedule, so "
                                 "a coarse-to-fine run takes fewer steps than --steps (1: whole shares; 0.8 at "
                                 "512 px: sooner to a given quality, a little worse at the end)"))
    tile_size: int = field(
        default=0,
        metadata=_h("optimise scales larger than this in tiles of this many pixels (multiple of 32) with "
                    "global style statistics; 0: tile only when memory requires it"),
    )
    memory_limit: float = field(
        default=0.0,
        metadata=_h("GiB a run may use; refuse (exit 2) runs estimated above it; 0: the available RAM"),
    )

    def __post_init__(self):
        if self.steps == "auto":  # --steps auto: the cap, and the stop margin unless one is given
            object.__setattr__(self, "steps", AUTO_MAX_STEPS)
            object.__setattr__(self, "stop_margin", self.stop_margin or AUTO_STOP_MARGIN)

    def validate(self) -> "StylizeConfig":
        """Raise ConfigError (one line) for any value out of range; return self."""
        _positive_int("size", self.size, minimum=16)
        _positive_int("steps", self.steps, minimum=1)
        # Upper bounds so that a typo fails at once instead of exhausting memory (a 10^6 px side) or
        # overflowing SciPy's 32-bit iteration counters.
        if self.size > MAX_SIZE:
            raise ConfigError(f"size must be at most {MAX_SIZE}, got {self.size}")
        if self.steps > MAX_STEPS:
            raise ConfigError(f"steps must be at most {MAX_STEPS}, got {self.steps}")
        _positive_int("inter_op_threads", self.inter_op_threads, minimum=0)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        if not isinstance(self.init, str) or not self.init.strip():
            raise ConfigError(f"init must be content, noise, style or an image path, got {self.init!r}")
        _choice("preserve_color", self.preserve_color, PRESERVE_COLORS)
        _choice("backbone", self.backbone, BACKBONES)
        self._validate_loss_network()
        _finite("style_scale", self.style_scale, positive=True)
        if self.style_scale > MAX_STYLE_SCALE:  # the style image's one forward pass grows as scale^2
            raise ConfigError(f"style_scale must be at most {MAX_STYLE_SCALE:g}, got {self.style_scale}")
        for w in self.style_blend:
            _finite("style_blend weight", w, positive=False)
        if self.style_blend and sum(self.style_blend) <= 0:
            raise ConfigError("style_blend weights must not all be 0")
        _choice("precision", self.precision, PRECISIONS)
        _choice("conv_algorithm", self.conv_algorithm, CONV_ALGORITHMS)
        _finite("lr", self.lr, positive=False)
        _finite("lr_decay", self.lr_decay, positive=True)
        if self.lr_decay > 1:
            raise ConfigError(f"lr_decay must be in (0, 1], got {self.lr_decay}")
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _finite("iterate_average", self.iterate_average, positive=False)
        if not 0 <= self.iterate_average <= 1:
            raise ConfigError(f"iterate_average must be in [0, 1], got {self.iterate_average}")
        _finite("stop_margin", self.stop_margin, positive=False)
        if not 0 <= self.stop_margin < 1:
            raise ConfigError(f"stop_margin must be in [0, 1), got {self.stop_margin}")
        _finite("lr_cooldown", self.lr_cooldown, positive=True)
        if self.lr_cooldown > 1:
            raise ConfigError(f"lr_cooldown must be in (0, 1], got {self.lr_cooldown}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            _finite(name, getattr(self, name), positive=False)
        if self.content_weight == 0 and self.style_weight == 0:
            raise ConfigError("content_weight and style_weight cannot both be 0")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        parse_scales(self.scales, self.size)
        _positive_int("coarsest", self.coarsest, minimum=16)
        _finite("scale_split", self.scale_split, positive=False)
        if self.scale_split < 0:
            raise ConfigError(f"scale_split must be > 0, or 0 for auto, got {self.scale_split!r}")
        _finite("coarse_fraction", self.coarse_fraction, positive=True)
        if self.coarse_fraction > 1:
            raise ConfigError(f"coarse_fraction must be in (0, 1], got {self.coarse_fraction!r}")
        if not isinstance(self.tile_size, int) or self.tile_size < 0 or (self.tile_size and (
                self.tile_size < 64 or self.tile_size % 32)):
            raise ConfigError(f"tile_size must be 0 or a multiple of 32 >= 64, got {self.tile_size!r}")
        _finite("memory_limit", self.memory_limit, positive=False)
        return self

    def resolved_lr(self) -> float:
        """``lr``, or the network's own Adam rate where it is 0."""
        return float(self.lr) or BACKBONES_REGISTRY[self.network].lr

    def resolved_scale_split(self, n_scales: int) -> float:
        """``scale_split``, with 0 (auto) resolved for a run of ``n_scales`` scales: ``TWO_SCALE_SPLIT``
        for two, equal (1) otherwise."""
        if self.scale_split:
            return float(self.scale_split)
        return TWO_SCALE_SPLIT if n_scales == 2 else 1.0

    def resolved_lr_schedule(self, coarse_to_fine: bool) -> str:
        """``lr_schedule``, with ``auto`` resolved for a run that is (or is not) coarse-to-fine."""
        if self.lr_schedule != "auto":
            return self.lr_schedule
        return "exponential" if coarse_to_fine else "wsd"

    def replace(self, **changes) -> "StylizeConfig":
        return dataclasses.replace(self, **changes)

    def blend_weights(self, n_styles: int) -> tuple[float, ...]:
        """``style_blend`` for ``n_styles`` style images, normalised to sum to 1 (equal if empty).

        Raises:
            ConfigError: the number of weights is not the number of styles.
        """
        if n_styles < 1:
            raise ConfigError("at least one style image is needed")
        if not self.style_blend:
            return (1.0 / n_styles,) * n_styles
        if len(self.style_blend) != n_styles:
            raise ConfigError(f"style_blend has {len(self.style_blend)} weights for {n_styles} style "
                              f"image{'s' if n_styles != 1 else ''}; give one weight per style")
        total = float(sum(self.style_blend))
        return tuple(float(w) / total for w in self.style_blend)

    @classmethod
    def from_preset(cls, preset: str | None = None, **overrides) -> "StylizeConfig":
        """A config from a named preset (see ``PRESETS``), with ``overrides`` taking precedence."""
        if preset is None:
            return cls(**overrides)
        if preset not in PRESETS:
            raise ConfigError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        return cls(**{**PRESETS[preset], **overrides})


# Named starting points for size, steps and optimiser; explicit settings override them. Costs on a
# 2-core CPU grow with pixels x steps:
#   draft     256 px, 100 steps: a quick look at the composition
#   balanced  512 px, 300 steps: the defaults
#   quality   768 px, 600 steps: 2.25x the pixels of balanced, run twice as long
PRESETS: dict[str, dict] = {
    "draft": {"size": 256, "steps": 100, "optimizer": "adam"},
    "balanced": {"size": 512, "steps": 300, "optimizer": "adam"},
    "quality": {"size": 768, "steps": 600, "optimizer": "adam"},
}


def _positive_int(name: str, value, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _finite(name: str, value, positive: bool) -> None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    if abs(v) > _FLOAT32_MAX:  # the math runs in float32: this would become inf
        raise ConfigError(f"{name} must be at most {_FLOAT32_MAX:.3g} in size (float32), got {value!r}")
    if positive and v <= 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}")
    if not positive and v < 0:
        raise ConfigError(f"{name} must be >= 0, got {value!r}")


def _choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def parse_style_layers(text: str) -> tuple[tuple[str, float], ...]:
    """Parse ``"block1_conv1:0.5,block2_conv1"`` into ``(("block1_conv1", 0.5), ("block2_conv1", 1.0))``."""
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, weight = item.partition(":")
        if weight:
            try:
                w = float(weight)
            except ValueError:
                raise ConfigError(f"style layer weight {weight!r} of {name} is not a number") from None
        else:
            w = 1.0
        out.append((name.strip(), w))
    if not out:
        raise ConfigError(f"no style layers in {text!r}")
    return tuple(out)


def parse_floats(text: str, what: str) -> tuple[float, ...]:
    """Parse ``"0.7,0.3"`` into ``(0.7, 0.3)``."""
    out = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        try:
            out.append(float(item))
        except ValueError:
            raise ConfigError(f"{what}: {item!r} is not a number") from None
    if not out:
        raise ConfigError(f"{what}: no numbers in {text!r}")
    return tuple(out)


def parse_paths(text: str, what: str) -> tuple[str, ...]:
    """Parse ``"a.png,b.png"`` into ``("a.png", "b.png")``."""
    out = tuple(t.strip() for t in text.split(",") if t.strip())
    if not out:
        raise ConfigError(f"{what}: no file names in {text!r}")
    return out


def parse_scales(text: str | int | Sequence[int], size: int) -> tuple[int, ...] | None:
    """Parse ``--scales``: ``"auto"`` gives None; ``"256,512"`` gives the longest sides, coarse to fine
    (the Python API may also pass one int, one scale, or a sequence of ints such as ``(256, 512)``).

    ``size`` is appended when the list stops below it; every value must be >= 16, strictly increasing
    and at most ``size``.
    """
    if isinstance(text, (list, tuple)):
        text = ",".join(str(v) for v in text)
    text = str(text)
    if text.strip().lower() == "auto":
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"scales must be 'auto' or comma-separated integers, got {text!r}") from None
    if not values:
        raise ConfigError(f"no scales in {text!r}")
    if any(v < 16 for v in values):
        raise ConfigError(f"scales must be >= 16 px, got {text!r}")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ConfigError(f"scales must increase strictly (coarse to fine), got {text!r}")
    if values[-1] > size:
        raise ConfigError(f"scale {values[-1]} is larger than --size {size}")
    if values[-1] < size:
        values.append(size)
    return tuple(values)


def parse_layers(text: str) -> tuple[str, ...]:
    """Parse ``"block4_conv2,block5_conv2"`` into a tuple of names."""
    out = tuple(s.strip() for s in text.split(",") if s.strip())
    if not out:
        raise ConfigError(f"no layers in {text!r}")
    return out


# ---------------------------------------------------------------------------------------------
# Feed-forward ("real-time") style networks (Johnson et al. 2016): architecture and training.

TRANSFORM_ARCHS = ("standard", "light")
STRATEGIES = ("auto", "default", "mirrored", "multiworker")


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture of a transform network; stored as JSON beside the weights and rebuilt from it.

    Attributes:
        filters: channels of the three resolutions (full, 1/2, 1/4).
        residual_blocks: residual blocks at 1/4 resolution.
        separable: depthwise-separable inner convolutions (the light, CPU/phone variant).
        outer_kernel: kernel size of the first and the last convolution (Johnson et al.: 9).
        border: 0: reflection padding before every convolution. N > 0: reflect the input once by N
            pixels, zero ("same") padding inside, crop the margin off the output (Johnson et al.
            padded the input by 40 px this way). Faster where reflection padding is slow, as in
            TFLite (its MIRROR_PAD kernel took over half of the light network's time).
    """

    filters: tuple[int, int, int] = (32, 64, 128)
    residual_blocks: int = 5
    separable: bool = False
    outer_kernel: int = 9
    border: int = 0

    def validate(self) -> "NetworkConfig":
        f = tuple(self.filters)
        if len(f) != 3 or any(not isinstance(c, int) or isinstance(c, bool) or not 1 <= c <= 1024 for c in f):
            raise ConfigError(f"filters must be three integers in 1..1024, got {self.filters!r}")
        if not isinstance(self.residual_blocks, int) or not 0 <= self.residual_blocks <= 32:
            raise ConfigError(f"residual_blocks must be an integer in 0..32, got {self.residual_blocks!r}")
        if not isinstance(self.separable, bool):
            raise ConfigError(f"separable must be true or false, got {self.separable!r}")
        if self.outer_kernel not in (3, 5, 7, 9):
            raise ConfigError(f"outer_kernel must be 3, 5, 7 or 9, got {self.outer_kernel!r}")
        if not isinstance(self.border, int) or isinstance(self.border, bool) or not 0 <= self.border <= 15:
            # Reflection needs the margin to be smaller than the smallest image side (16 px).
            raise ConfigError(f"border must be an integer in 0..15, got {self.border!r}")
        return self

    def to_dict(self) -> dict:
        return {"filters": list(self.filters), "residual_blocks": self.residual_blocks,
                "separable": self.separable, "outer_kernel": self.outer_kernel, "border": self.border}

    @classmethod
    def from_dict(cls, d) -> "NetworkConfig":
        """Inverse of :meth:`to_dict`; raises ConfigError for unknown or missing keys or bad values."""
        if not isinstance(d, dict):
            raise ConfigError("network must be a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        if set(d) != names:
            raise ConfigError(f"network keys must be {', '.join(sorted(names))}, got {', '.join(sorted(d))}")
        filters = d["filters"]
        if not isinstance(filters, list):
            raise ConfigError(f"filters must be a list, got {filters!r}")
        return cls(filters=tuple(filters), residual_blocks=d["residual_blocks"], separable=d["separable"],
                   outer_kernel=d["outer_kernel"], border=d["border"]).validate()


# standard: Johnson et al.'s network (9x9 outer convs, 32/64/128 channels, 5 residual blocks).
# light: depthwise-separable inner convs, half the channels, 3 blocks, 5x5 outer convs, the input
# reflected once by 8 px and zero padding inside.
NETWORK_PRESETS: dict[str, NetworkConfig] = {
    "standard": NetworkConfig(),
    "light": NetworkConfig(filters=(16, 32, 64), residual_blocks=3, separable=True, outer_kernel=5, border=8),
}


@dataclass(frozen=True)
class TrainConfig(_LossNetworkSettings):
    """Settings of training a feed-forward network for one style.

    Loss weights and layers mean what they mean for ``StylizeConfig`` (the same scaled losses);
    the content target of each photo is the photo's own features.
    """

    arch: str = field(default="standard", metadata=_h("transform network: standard (Johnson et al.) or light "
                                                      "(fast on CPUs and phones)", choices=TRANSFORM_ARCHS))
    steps: int = field(default=2000, metadata=_h("parameter updates"))
    batch_size: int = field(default=4, metadata=_h("photos per micro-batch (over all replicas)"))
    accumulate: int = field(default=1, metadata=_h("micro-batches whose gradients are averaged into one "
                                                   "update (effective batch = batch_size * accumulate)"))
    image_size: int = field(default=256, metadata=_h("side of the square random crops of the photos"))
    style_size: int = field(default=512, metadata=_h("longest side of the style image for its Grams"))
    lr: float = field(default=1e-3, metadata=_h("Adam learning rate"))
    content_weight: float = field(default=1.0, metadata=_h("weight of the (normalised) content loss"))
    style_weight: float = field(default=10.0, metadata=_h("weight of the (normalised) style loss"))
    tv_weight: float = field(default=1.0, metadata=_h("weight of the total-variation loss"))
    content_layers: tuple[str, ...] = field(default=(), metadata=_h("comma-separated Keras layer names of the "
                                                                      "loss network; none: its own"))
    style_layers: tuple[tuple[str, float], ...] = field(
        default=(), metadata=_h("comma-separated layer names, each with an optional :weight; none: the loss "
                                "network's own"))
    checkpoint_every: int = field(default=200, metadata=_h("save a resumable checkpoint every N steps"))
    seed: int = field(default=0, metadata=_h("random seed (initial weights, crops, shuffling)"))
    precision: str = field(default="auto", metadata=_h("float32, mixed or auto (as for stylize)",
                                                       choices=PRECISIONS))
    backbone: str = field(default="auto", metadata=_h("where the loss network's weights come from: imagenet, "
                                                      "random or auto (as for stylize)", choices=BACKBONES))
    weights: str | None = field(default=None, metadata=_h("notop weight file (.h5) of the loss network; else "
                                                          "$TFSTYLE_<NETWORK>_WEIGHTS"))
    network: str = field(default="vgg19", metadata=_h("the loss network: vgg19, vgg16, resnet50 or efficientnetb0",
                                                      choices=NETWORKS))
    pooling: str = field(default="auto", metadata=_h("VGG only: max, avg or auto pooling (as for stylize)",
                                                     choices=POOLINGS))
    smoothing: str = field(default="auto", metadata=_h("feature smoothing before the losses (as for stylize)",
                                                       choices=SMOOTHINGS))
    smoothing_temperature: float = field(default=1.0, metadata=_h("softmax smoothing temperature"))
    # The loss network's convolutions, as for stylize. Measured on an AMD EPYC (AVX2, 2 cores), VGG19,
    # batch 4 at 256 px: a step of the standard network 6.10 s with direct convolutions, 4.22 s with
    # Winograd's; the light network 3.84 s and 2.06 s (bench/bench_train.py).
    conv_algorithm: str = field(
        default="auto", metadata=_h("the loss network's 3x3 convolutions: direct, winograd or auto (as for "
                                    "stylize)", choices=CONV_ALGORITHMS))
    strategy: str = field(
        default="auto",
        metadata=_h("tf.distribute strategy: mirrored (all local GPUs, else all logical CPUs), multiworker "
                    "(MultiWorkerMirroredStrategy from $TF_CONFIG), default (one device) or auto "
                    "(multiworker if $TF_CONFIG names several tasks, mirrored if several GPUs)",
                    choices=STRATEGIES))
    temporal_weight: float = field(
        default=0.0,
        metadata=_h("weight of the temporal loss on synthetic motion (video without flicker): each photo also "
                    "goes through the network moved a little (shift, rotation, zoom) with sensor noise, and that "
                    "output must equal the first output moved the same way; 0: off"))

    def validate(self) -> "TrainConfig":
        """Raise ConfigError (one line) for any value out of range; return self."""
        _choice("arch", self.arch, TRANSFORM_ARCHS)
        _positive_int("steps", self.steps, minimum=1)
        _positive_int("batch_size", self.batch_size, minimum=1)
        _positive_int("accumulate", self.accumulate, minimum=1)
        _positive_int("image_size", self.image_size, minimum=32)
        if self.image_size % 4:
            raise ConfigError(f"image_size must be a multiple of 4, got {self.image_size}")
        _positive_int("style_size", self.style_size, minimum=32)
        _positive_int("checkpoint_every", self.checkpoint_every, minimum=1)
        _finite("lr", self.lr, positive=True)
        _choice("strategy", self.strategy, STRATEGIES)
        _finite("temporal_weight", self.temporal_weight, positive=False)
        # The loss settings mean what they mean for image optimisation: the same checks.
        shared = ("content_weight", "style_weight", "tv_weight", "content_layers", "style_layers", "seed",
                  "precision", "backbone", "weights", "network", "pooling", "smoothing", "smoothing_temperature",
                  "conv_algorithm")
        StylizeConfig(**{n: getattr(self, n) for n in shared}).validate()
        return self

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class ExportFormat:
    """An export target: the module under ``tfstyle.export`` that writes it (with ``write`` and
    ``default_name`` functions, see ``tfstyle/export/__init__.py``) and the ``--quantize`` values it
    accepts, the first being its default. Adding a format is one module and one entry here."""

    module: str
    quantizations: tuple[str, ...]


EXPORT_FORMATS_REGISTRY: dict[str, ExportFormat] = {
    "savedmodel": ExportFormat("tfstyle.export.savedmodel", ("none",)),
    "tflite": ExportFormat("tfstyle.export.tflite", ("none", "float16", "dynamic", "int8")),
    # A TensorFlow.js graph model, written without the tensorflowjs package (see export/tfjs.py).
    "tfjs": ExportFormat("tfstyle.export.tfjs", ("none", "float16", "uint8")),
}
EXPORT_FORMATS = tuple(EXPORT_FORMATS_REGISTRY)
QUANTIZATIONS = tuple(dict.fromkeys(q for f in EXPORT_FORMATS_REGISTRY.values() for q in f.quantizations))
# Synthetic motion of the temporal loss (TrainConfig.temporal_weight; Huang et al. 2017, ReCoNet): a
# random affine motion per photo, uniform up to these bounds (shift as a fraction of the crop side,
# rotation in radians, zoom 1 +- this), and Gaussian sensor noise of this deviation (RGB in [0, 1])
# added to the moved photo, so that the network also learns to ignore per-frame noise.
TEMPORAL_MAX_SHIFT = 0.03
TEMPORAL_MAX_ANGLE = 0.04
TEMPORAL_MAX_ZOOM = 0.04
TEMPORAL_NOISE = 0.02
# Training: photos shown as TensorBoard previews; checkpoints kept in MODEL_DIR/checkpoints.
TRAIN_PREVIEW_COUNT = 2
CHECKPOINTS_TO_KEEP = 2


@dataclass(frozen=True)
class ApplyConfig:
    """Settings of applying a trained feed-forward model to images."""

    size: int = field(default=0, metadata=_h("longest side of the outputs in pixels (0: the input's size)"))
    batch_size: int = field(default=4, metadata=_h("images of equal size run together"))
    format: str = field(default="png", metadata=_h("output format", choices=("png", "jpg", "webp", "tif")))

    def validate(self) -> "ApplyConfig":
        if self.size != 0:
            _positive_int("size", self.size, minimum=16)
        _positive_int("batch_size", self.batch_size, minimum=1)
        _choice("format", self.format, ("png", "jpg", "webp", "tif"))
        return self


# tfstyle web --serve listens here only: the site is for this machine's browser, not the network.
WEB_HOST = "127.0.0.1"
# Environment variable naming a node_modules folder that holds @tensorflow/tfjs and
# @tensorflow/tfjs-backend-wasm (default: the one `npm ci` fills inside the tfstyle.web package).
TFJS_DIR_ENV = "TFSTYLE_TFJS_DIR"


@dataclass(frozen=True)
class WebConfig:
    """Settings of ``tfstyle web``: a static site that stylises photos and the webcam with TF.js."""

    # float16 by default: half the download of float32 for the same picture (parity > 60 dB in
    # the tests); TF.js computes in float32 either way.
    quantize: str = field(default="float16", metadata=_h(
        "weights of the exported models: none (float32), float16 (half the size) or uint8 (a quarter)",
        choices=EXPORT_FORMATS_REGISTRY["tfjs"].quantizations))
    thumbnail_size: int = field(default=160, metadata=_h("longest side of each style's thumbnail in pixels"))
    port: int = field(default=8000, metadata=_h(f"--serve: the port on {WEB_HOST} (0: any free port)"))

    def validate(self) -> "WebConfig":
        _choice("quantize", self.quantize, EXPORT_FORMATS_REGISTRY["tfjs"].quantizations)
        _positive_int("thumbnail_size", self.thumbnail_size, minimum=16)
        if self.thumbnail_size > 1024:
            raise ConfigError(f"thumbnail_size must be at most 1024, got {self.thumbnail_size}")
        _positive_int("port", self.port, minimum=0)
        if self.port > 65535:
            raise ConfigError(f"port must be at most 65535, got {self.port}")
        return self


@dataclass(frozen=True)
class ExportConfig:
    """Settings of exporting a trained feed-forward model."""

    format: str = field(default="tflite", metadata=_h("savedmodel, tflite or tfjs (a TensorFlow.js graph model)",
                                                      choices=EXPORT_FORMATS))
    quantize: str = field(default="none", metadata=_h("none (float32); TFLite: float16, dynamic (int8 weights) or "
                                                      "int8 (calibrated on the training photos); TF.js: float16 "
                                                      "or uint8 (weights)", choices=QUANTIZATIONS))
    calibration_images: int = field(default=32, metadata=_h("int8: photos in the representative dataset"))
    calibration_size: int = field(default=256, metadata=_h("int8: side of the calibration crops (use the "
                                                           "size the model will run at)"))

    def validate(self) -> "ExportConfig":
        _choice("format", self.format, EXPORT_FORMATS)
        _choice("quantize", self.quantize, QUANTIZATIONS)
        _positive_int("calibration_images", self.calibration_images, minimum=1)
        _positive_int("calibration_size", self.calibration_size, minimum=16)
        accepted = EXPORT_FORMATS_REGISTRY[self.format].quantizations
        if self.quantize not in accepted:
            raise ConfigError(f"--format {self.format} takes --quantize {', '.join(accepted)}, got {self.quantize!r}")
        return self


# ---------------------------------------------------------------------------------------------
# Video (tfstyle.video): the flow, the two paths' temporal settings, the encoder.

FLOW_PRESETS = ("ultrafast", "fast", "medium")


def parse_ints(text: str, what: str) -> tuple[int, ...]:
    """Parse ``"2,4"`` into ``(2, 4)``; an empty text gives ``()``."""
    out = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        try:
            out.append(int(item))
        except ValueError:
            raise ConfigError(f"{what}: {item!r} is not an integer") from None
    return tuple(out)


@dataclass(frozen=True)
class VideoConfig:
    """Settings of stylising a clip (``tfstyle video``) beyond those of the image path.

    The optimisation path takes ``StylizeConfig`` for everything else (network, weights, layers,
    size, steps per frame); the feed-forward path takes its ``size`` only.
    """

    blend: float = field(
        default=0.5,
        metadata=_h("feed-forward path: weight of the previous output, warped by optical flow, blended into "
                    "each new output where the flow is consistent (0: frames independent)"))
    flow: str = field(default="medium", metadata=_h("DIS optical flow preset (OpenCV): ultrafast, fast or medium",
                                                    choices=FLOW_PRESETS))
    temporal_weight: float = field(
        default=200.0,
        metadata=_h("optimisation path: weight of the temporal loss pulling each frame toward the previous "
                    "output warped onto it (Ruder et al. 2016); 0: frames independent"))
    long_term: tuple[int, ...] = field(
        default=(),
        metadata=_h("optimisation path: further previous frames with their own temporal terms, e.g. 2,4 "
                    "(Ruder et al.'s long-term consistency; the previous frame is always used)",
                    parse=lambda text: parse_ints(text, "long_term")))
    first_frame_steps: int = field(default=0, metadata=_h("optimisation path: steps of the first frame, which "
                                                          "starts from the content (0: --steps)"))
    frame_lr: float = field(
        default=0.02,
        metadata=_h("optimisation path: Adam learning rate of the frames that start from the previous output "
                    "warped (the first frame uses --lr); a small rate refines instead of restarting"))
    fps: float = field(default=25.0, metadata=_h("frame rate of frame folders and image sequences"))
    crf: int = field(default=18, metadata=_h("H.264 quality of video outputs: 0 (lossless) .. 51; 18 looks "
                                             "lossless to most eyes"))

    def validate(self) -> "VideoConfig":
        _finite("blend", self.blend, positive=False)
        if self.blend >= 1:
            raise ConfigError(f"blend must be in [0, 1), got {self.blend}")
        _choice("flow", self.flow, FLOW_PRESETS)
        _finite("temporal_weight", self.temporal_weight, positive=False)
        for j in self.long_term:
            if not isinstance(j, int) or isinstance(j, bool) or not 2 <= j <= 100:
                raise ConfigError(f"long_term frames must be integers in 2..100, got {self.long_term!r}")
        if len(set(self.long_term)) != len(self.long_term):
            raise ConfigError(f"long_term frames must differ, got {self.long_term!r}")
        if not isinstance(self.first_frame_steps, int) or self.first_frame_steps < 0:
            raise ConfigError(f"first_frame_steps must be an integer >= 0, got {self.first_frame_steps!r}")
        _finite("frame_lr", self.frame_lr, positive=True)
        _finite("fps", self.fps, positive=True)
        if self.fps > 1000:
            raise ConfigError(f"fps must be at most 1000, got {self.fps}")
        if not isinstance(self.crf, int) or isinstance(self.crf, bool) or not 0 <= self.crf <= 51:
            raise ConfigError(f"crf must be an integer in 0..51, got {self.crf!r}")
        return self

    def replace(self, **changes) -> "VideoConfig":
        return dataclasses.replace(self, **changes)


# --- time to quality: the learning-rate schedule's end and --steps auto -------------------------
# (tfstyle.optimize.loops; measurements and reasons: docs/time-to-quality.md)
# --steps auto: the budget's cap (the fixed default's length, so an auto run never takes longer).
AUTO_MAX_STEPS = 300
# --steps auto: the loss is watched over this many steps ...
AUTO_WINDOW = 20
# ... and the run starts its cool-down once the best loss fell by less than this fraction over them.
AUTO_STOP_MARGIN = 0.02


def parse_steps(text: str) -> int | str:
    """``--steps``: a whole number, or ``auto``."""
    text = str(text).strip()
    if text.lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"steps must be a whole number or auto, got {text!r}") from None
