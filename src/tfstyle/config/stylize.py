"""Settings of ``tfstyle stylize`` (image optimisation) and the loss-network settings it shares with
training."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .parsers import (MAX_SIZE, MAX_STEPS, ConfigError, _choice, _finite, _h, _positive_int, parse_floats,
                      parse_memory, parse_steps, parse_paths, parse_scales)
from .registries import BACKBONES_REGISTRY, NETWORKS, OPTIMIZERS, OPTIMIZERS_REGISTRY
from .tuning import AUTO_MAX_STEPS, AUTO_STOP_MARGIN, MIN_COARSE, TWO_SCALE_SPLIT

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

SAVE_EVERY = 0       # stylize --save-every: intermediate images every N steps (0: never)


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


@dataclass(frozen=True)
class StylizeConfig(_LossNetworkSettings):
    """Settings of one image-optimisation run (Gatys et al.).

    Loss weights are dimensionless: every loss part is divided by the magnitude of its own target
    (see ``tfstyle.objective.losses``), so the same weights mean the same at any size, layer choice or
    backbone.
    """

    size: int = field(default=512, metadata=_h("longest side of the output in pixels"))
    steps: int = field(default=300, metadata=_h("optimisation steps (Adam steps or L-BFGS iterations); coarse to "
                                                "fine, the learning-rate schedule's length, of which coarser "
                                                "scales may run part (--coarse-fraction); auto: at most "
                                                "AUTO_MAX_STEPS, stopping early by --stop-margin",
                                                parse=lambda text: parse_steps(text)))
    # Adam by default: its steps cost less than an L-BFGS-B iteration (SciPy's bookkeeping is about
    # as long as the loss and gradient), at equal time it reached a lower loss on two of three image
    # pairs, and it reaches the speed benchmark's target where L-BFGS-B does not
    # (bench/results/decisions.md, "Adam by default").
    optimizer: str = field(
        default="adam",
        metadata=_h("adam (decaying learning rate, projected into [0, 1]) or lbfgs (SciPy L-BFGS-B with "
                    "[0, 1] box bounds)", choices=OPTIMIZERS),
    )
    # 0.1 in [0, 1] pixel units, decaying to 0.01 (the TF tutorial keeps 0.02 throughout): lower
    # losses than 0.05 on tfstyle's loss and on the speed benchmark's (bench/results/decisions.md).
    lr: float = field(default=0.0, metadata=_h("Adam learning rate, in [0, 1] pixel units; 0: the network's own "
                                               "(vgg19, vgg16: 0.1; resnet50, efficientnetb0: 0.01)"))
    lr_decay: float = field(
        default=0.1, metadata=_h("Adam: the learning rate falls to lr*lr_decay at the last step (one schedule over "
                                 "all scales)")
    )
    # How it falls (tfstyle.optimize.loops.learning_rate). Cosine keeps the rate near lr for the first
    # third of the run and anneals after. At 256 px cosine reached the speed benchmark's target sooner
    # and ended lower on all three README pairs; at 512 px, coarse-to-fine, the fine scale starts at a
    # higher rate and cosine ended worse on two pairs (bench/results/avx2/final_loss_cosine_256.md,
    # final_loss_cosine_512.md, levers.md). A schedule that decays over the whole budget leaves a short
    # --steps behind the same steps of a long run; wsd holds lr and decays over the last lr_cooldown of
    # the budget only, and reached a given quality with fewer steps in a whole command at 256 px
    # (docs/time-to-quality.md). So "auto" (resolved_lr_schedule) takes wsd for a single-scale run and
    # keeps exponential for a coarse-to-fine one, where wsd needed more steps to the same quality in a
    # whole command at 512 px (docs/time-to-quality.md).
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
    # The loss network's 3x3 convolutions: "winograd" (F(4x4, 3x3), tfstyle.kernels.winograd) for a
    # float32 VGG network on a CPU (no GPU): the precision auto picks on CPUs without bfloat16
    # instructions, or float32 asked for; faster there with Eigen's and with oneDNN's kernels
    # (bench/results/avx2/winograd.md, knobs_winograd.md; bench/results/avx512_bf16/winograd_eigen.md).
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
    # High resolution (tfstyle.optimize.multiscale, tfstyle.optimize.tiling, tfstyle.optimize.memory).
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
        metadata=_h("memory a run may use: 3GiB, 3G, 3000MB, 3.5 (a bare number is GiB); refuse (exit 2) "
                    "runs estimated above it; 0: the available RAM", metavar="SIZE",
                    parse=lambda text: parse_memory(text, "memory_limit")),
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
        _choice("optimizer", self.optimizer, tuple(OPTIMIZERS_REGISTRY))
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


# Named starting points for size, steps and optimiser; explicit settings override them. Costs grow
# with pixels x steps:
#   draft     256 px, 100 steps: a quick look at the composition
#   balanced  512 px, 300 steps: the defaults
#   quality   768 px, 600 steps: more pixels than balanced, run twice as long
PRESETS: dict[str, dict] = {
    "draft": {"size": 256, "steps": 100, "optimizer": "adam"},
    "balanced": {"size": 512, "steps": 300, "optimizer": "adam"},
    "quality": {"size": 768, "steps": 600, "optimizer": "adam"},
}
