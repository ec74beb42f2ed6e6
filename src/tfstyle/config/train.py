"""Settings of ``tfstyle train``: the transform network's architecture and its training."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .parsers import ConfigError, _choice, _finite, _h, _positive_int
from .registries import NETWORKS
from .stylize import BACKBONES, CONV_ALGORITHMS, POOLINGS, PRECISIONS, SMOOTHINGS, StylizeConfig, _LossNetworkSettings

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
    # The loss network's convolutions, as for stylize: Winograd's made training steps of both
    # networks faster (bench/bench_train.py, bench/results/avx2/train.md).
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
PREVIEW_EVERY = 100  # train --preview-every: TensorBoard preview images every N steps
