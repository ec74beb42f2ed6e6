"""Every default of tfstyle lives here.

The command line builds its flags and help text from these dataclasses (``help`` in each field's
metadata), so a default changed here changes everywhere.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

# Layer names are Keras's own (keras.applications.VGG19), never indices.
# Content: conv4_2 as in Gatys et al. (the TF tutorial uses block5_conv2).
DEFAULT_CONTENT_LAYERS: tuple[str, ...] = ("block4_conv2",)
# Style: conv1_1 .. conv5_1 with equal weights, as in Gatys et al.
DEFAULT_STYLE_LAYERS: tuple[tuple[str, float], ...] = (
    ("block1_conv1", 1.0),
    ("block2_conv1", 1.0),
    ("block3_conv1", 1.0),
    ("block4_conv1", 1.0),
    ("block5_conv1", 1.0),
)

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style")
PRECISIONS = ("auto", "float32", "mixed")
BACKBONES = ("auto", "vgg19", "random")

# Environment variable naming a VGG19 "notop" weight file (Keras h5 layout).
WEIGHTS_ENV = "TFSTYLE_VGG19_WEIGHTS"
# Set to 1 to never try Keras's download (useful offline: fail fast, no network wait).
OFFLINE_ENV = "TFSTYLE_OFFLINE"


class ConfigError(ValueError):
    """A configuration value is out of range or inconsistent. Message is one line."""


def _h(text: str, **extra) -> dict:
    return {"help": text, **extra}


@dataclass(frozen=True)
class StylizeConfig:
    """Settings of one image-optimisation run (Gatys et al.).

    Loss weights are dimensionless: every loss part is divided by the magnitude of its own target
    (see ``tfstyle.losses``), so the same weights mean the same at any size, layer choice or
    backbone.
    """

    size: int = field(default=512, metadata=_h("longest side of the output in pixels"))
    steps: int = field(default=300, metadata=_h("optimisation steps (L-BFGS iterations or Adam steps)"))
    optimizer: str = field(
        default="lbfgs",
        metadata=_h("lbfgs (SciPy L-BFGS-B with [0, 1] box bounds) or adam (decaying learning rate)",
                    choices=OPTIMIZERS),
    )
    lr: float = field(default=0.02, metadata=_h("Adam learning rate, in [0, 1] pixel units"))
    lr_decay: float = field(
        default=0.1, metadata=_h("Adam: the learning rate falls exponentially to lr*lr_decay at the last step")
    )
    content_weight: float = field(default=1.0, metadata=_h("weight of the (normalised) content loss"))
    style_weight: float = field(default=10.0, metadata=_h("weight of the (normalised) style loss"))
    tv_weight: float = field(default=1.0, metadata=_h("weight of the total-variation (smoothness) loss"))
    content_layers: tuple[str, ...] = field(
        default=DEFAULT_CONTENT_LAYERS, metadata=_h("comma-separated Keras layer names")
    )
    style_layers: tuple[tuple[str, float], ...] = field(
        default=DEFAULT_STYLE_LAYERS,
        metadata=_h("comma-separated layer names, each with an optional :weight (block1_conv1:0.5,...)"),
    )
    init: str = field(
        default="content", metadata=_h("starting image: content, noise (seeded) or style", choices=INITS)
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
            "vgg19 (ImageNet weights, fail if missing), random (fixed-seed random VGG19 filters) or "
            "auto (vgg19 if its weights can be found, else random, said plainly)",
            choices=BACKBONES,
        ),
    )
    weights: str | None = field(default=None, metadata=_h(f"VGG19 notop weight file (.h5); else ${WEIGHTS_ENV}"))
    # High resolution (tfstyle.multiscale, tfstyle.tiling, tfstyle.memory).
    scales: str = field(
        default="auto",
        metadata=_h("coarse-to-fine longest sides, e.g. 256,512 (SIZE is always the last); auto: halve "
                    "SIZE down to 256 px (one scale below 512 px); steps split 2:1 from each scale to "
                    "the next finer one"),
    )
    tile_size: int = field(
        default=0,
        metadata=_h("optimise scales larger than this in tiles of this many pixels (multiple of 32) with "
                    "global style statistics; 0: tile only when memory requires it"),
    )
    memory_limit: float = field(
        default=0.0,
        metadata=_h("GiB a run may use; refuse (exit 2) runs estimated above it; 0: the available RAM"),
    )

    def validate(self) -> "StylizeConfig":
        """Raise ConfigError (one line) for any value out of range; return self."""
        _positive_int("size", self.size, minimum=16)
        _positive_int("steps", self.steps, minimum=1)
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("init", self.init, INITS)
        _choice("precision", self.precision, PRECISIONS)
        _choice("backbone", self.backbone, BACKBONES)
        _finite("lr", self.lr, positive=True)
        _finite("lr_decay", self.lr_decay, positive=True)
        if self.lr_decay > 1:
            raise ConfigError(f"lr_decay must be in (0, 1], got {self.lr_decay}")
        for name in ("content_weight", "style_weight", "tv_weight"):
            _finite(name, getattr(self, name), positive=False)
        if self.content_weight == 0 and self.style_weight == 0:
            raise ConfigError("content_weight and style_weight cannot both be 0")
        if not self.content_layers:
            raise ConfigError("content_layers is empty")
        if not self.style_layers:
            raise ConfigError("style_layers is empty")
        for name, w in self.style_layers:
            _finite(f"weight of style layer {name}", w, positive=False)
        if sum(w for _, w in self.style_layers) <= 0:
            raise ConfigError("style layer weights must not all be 0")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")
        parse_scales(self.scales, self.size)
        if not isinstance(self.tile_size, int) or self.tile_size < 0 or (self.tile_size and (
                self.tile_size < 64 or self.tile_size % 32)):
            raise ConfigError(f"tile_size must be 0 or a multiple of 32 >= 64, got {self.tile_size!r}")
        _finite("memory_limit", self.memory_limit, positive=False)
        return self

    def replace(self, **changes) -> "StylizeConfig":
        return dataclasses.replace(self, **changes)


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


def parse_scales(text: str, size: int) -> tuple[int, ...] | None:
    """Parse ``--scales``: ``"auto"`` gives None; ``"256,512"`` gives the longest sides, coarse to fine.

    ``size`` is appended when the list stops below it; every value must be >= 16, strictly increasing
    and at most ``size``.
    """
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
