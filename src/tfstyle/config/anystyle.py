"""Settings of arbitrary-style models (Ghiasi et al. 2017; :mod:`tfstyle.feedforward.arbitrary`): one
transform network for any style image, conditioned on a style vector that a prediction network
computes from the painting."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .parsers import ConfigError, _choice, _finite, _h, _positive_int, parse_floats

# Where each prediction network is cut: the last block at 1/16 resolution, as Ghiasi et al. cut
# Inception-v3 at Mixed_6e (its last 1/16 block). The choice of EfficientNetB0 over MobileNetV2 is
# measured in bench/bench_anystyle.py (docs/anystyle.md); both are keras.applications networks.
PREDICTOR_LAYERS = {"efficientnetb0": "block5c_add", "vgg19": "block4_conv4", "vgg16": "block4_conv3",
                    "resnet50": "conv4_block6_out"}
PREDICTORS = ("auto",) + tuple(PREDICTOR_LAYERS)
# "auto": EfficientNetB0 where its ImageNet weights are found. Without them its fixed-seed random
# features hardly tell paintings apart, while the loss network's own early layers do (the rank
# correlation of distances between paintings with the style loss's, in bench/bench_anystyle.py): the
# prediction network is then VGG19 cut at this layer, its weights resolved as the loss network's.
PREDICTOR_AUTO = "efficientnetb0"
PREDICTOR_FALLBACK = ("vgg19", "block3_conv1")
# Style augmentation of training paintings (Ghiasi et al. 2017 section 3.4; Magenta's
# image_utils.py): random flips, brightness shift up to this much (RGB in [0, 1]), saturation and
# contrast factors in these ranges, hue shift up to this fraction of the colour wheel. Magenta's
# contrast range (0.1..10) turns most crops black-and-white at this small scale; a narrower one keeps
# the paintings recognisable.
STYLE_AUG_BRIGHTNESS = 0.2
STYLE_AUG_SATURATION = (0.5, 1.5)
STYLE_AUG_CONTRAST = (0.6, 1.6)
STYLE_AUG_HUE = 0.05
# A style image is decoded to at most this side before anything else (a 1 x 50000 px painting is
# refused by its smaller side, a huge one shrunk while decoding).
STYLE_DECODE_MAX = 1024
# Paintings of a --styles folder held out of training and shown in the previews (when at least two
# stay for training).
ANYSTYLE_HELD_OUT = 2


@dataclass(frozen=True)
class ArbitraryConfig:
    """Architecture of an arbitrary-style model beyond its transform network (stored in model.json)
    and how its style images are seen.

    Attributes:
        style_dim: numbers in a style vector (Ghiasi et al.: 100).
        predictor: the prediction network, a loss-network backbone (``PREDICTORS``) whose ImageNet
            weights are resolved as the loss networks' are.
        style_image_size: side of the square style crops in training and the longest side of a style
            image given at run time (Ghiasi et al.: 256).
    """

    style_dim: int = field(default=100, metadata=_h("arbitrary style: numbers in a style vector"))
    predictor: str = field(default="auto", metadata=_h(
        "arbitrary style: the style-prediction network, its ImageNet weights found as the loss networks' are "
        "(auto: efficientnetb0 with its ImageNet weights, else VGG19 to block3_conv1)",
        choices=PREDICTORS))
    style_image_size: int = field(default=256, metadata=_h("arbitrary style: side of the style images given "
                                                           "to the prediction network"))
    predictor_layer: str = field(default="", metadata=_h("arbitrary style: the Keras layer the prediction "
                                                         "network is cut at (default: its block at 1/16 "
                                                         "resolution)"))
    # Training only (not stored in model.json). Ghiasi et al. trained Inception-v3 along; here the
    # backbone keeps its ImageNet features by default: no backward pass through it (the step's cost
    # is the transformer's and the loss network's) and no small painting collection can wash the
    # features out. The bottleneck (normalisation and dense map) is always trained.
    tune_predictor: bool = field(default=False, metadata=_h(
        "arbitrary style, training: also train the prediction network's backbone (Ghiasi et al.), not only "
        "its bottleneck"))

    @property
    def cut(self) -> str:
        """The layer the prediction network is cut at (of a resolved predictor, not "auto")."""
        if self.predictor == "auto":
            raise ConfigError("the prediction network is not resolved yet (predictor auto)")
        return self.predictor_layer or PREDICTOR_LAYERS[self.predictor]

    def resolved(self, imagenet_found: bool) -> "ArbitraryConfig":
        """This config with ``predictor`` "auto" made concrete: ``PREDICTOR_AUTO`` where its ImageNet
        weights were found (``imagenet_found``), else ``PREDICTOR_FALLBACK``."""
        if self.predictor != "auto":
            return self
        name, layer = (PREDICTOR_AUTO, "") if imagenet_found else PREDICTOR_FALLBACK
        return replace(self, predictor=name, predictor_layer=layer)

    def validate(self) -> "ArbitraryConfig":
        if not isinstance(self.style_dim, int) or isinstance(self.style_dim, bool) or not 1 <= self.style_dim <= 4096:
            raise ConfigError(f"style_dim must be an integer in 1..4096, got {self.style_dim!r}")
        _choice("predictor", self.predictor, PREDICTORS)
        _positive_int("style_image_size", self.style_image_size, minimum=32)
        if not isinstance(self.predictor_layer, str):
            raise ConfigError(f"predictor_layer must be a layer name, got {self.predictor_layer!r}")
        if self.predictor == "auto" and self.predictor_layer:
            raise ConfigError("predictor_layer needs a named predictor (not auto): the layer belongs to one network")
        return self

    def to_dict(self) -> dict:
        return {"style_dim": self.style_dim, "predictor": self.predictor, "predictor_layer": self.cut,
                "style_image_size": self.style_image_size}

    @classmethod
    def from_dict(cls, d) -> "ArbitraryConfig":
        keys = {"style_dim", "predictor", "predictor_layer", "style_image_size"}
        if not isinstance(d, dict) or set(d) != keys:
            raise ConfigError(f"arbitrary must be a JSON object with {', '.join(sorted(keys))}")
        return cls(**d).validate()


@dataclass(frozen=True)
class AnyStyleApplyConfig:
    """Run-time settings of an arbitrary-style model: strength and the mix of several styles."""

    strength: float = field(default=1.0, metadata=_h("arbitrary style: 1 the painting's style, 0 the photo's "
                                                     "own (the style vectors are interpolated)"))
    style_blend: tuple[float, ...] = field(
        default=(), metadata=_h("arbitrary style: weights of the --style images, e.g. 0.7,0.3 (default: equal)",
                                parse=lambda text: parse_floats(text, "style_blend")))

    def validate(self) -> "AnyStyleApplyConfig":
        _finite("strength", self.strength, positive=False)
        if not 0 <= self.strength <= 1:
            raise ConfigError(f"strength must be in [0, 1], got {self.strength}")
        for w in self.style_blend:
            _finite("style_blend weight", w, positive=False)
        if self.style_blend and sum(self.style_blend) <= 0:
            raise ConfigError("style_blend weights must not all be 0")
        return self
