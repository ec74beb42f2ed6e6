"""The registries: loss networks, image optimisers and export formats, each entry naming the module
that implements it (imported on first use), and the environment that points at the networks' weight
files."""

from __future__ import annotations

from dataclasses import dataclass

from .tuning import LBFGS_HISTORY

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
# with max pooling, with less noise in the content's flat regions; random ResNet50 and EfficientNetB0
# hardly moved at all, with or without smoothing (bench/offline.py, bench/results/offline.json).
# VGG's Adam rate (0.1) makes the deeper, batch-normalised networks diverge: with their random variants
# the loss rose from the first step at 0.05 and 0.1 and fell at 0.01 (bench/results/decisions.md).
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


@dataclass(frozen=True)
class OptimizerEntry:
    """An image optimiser (``--optimizer``): its loop and what the planner must know of it.

    Attributes:
        implementation: "module:Class" of its :class:`tfstyle.optimize.loops.Run` subclass (imported
            on first use). Adding an optimiser is one file under ``tfstyle/optimize`` with that class
            and one entry in :data:`OPTIMIZERS_REGISTRY`.
        state_bytes: bytes of optimiser state it keeps per value of the image (the memory plan).
        tiles: it tolerates the tiled objective, which the moving tile grid makes slightly different
            at every evaluation; a tiled scale of a run whose optimiser does not runs the first one
            that does.
        schedule: it follows one learning-rate schedule over the whole run, so a coarse scale may
            stop early (``coarse_fraction``) and the next continue where the share ends.
    """

    implementation: str
    state_bytes: int
    tiles: bool = False
    schedule: bool = False


OPTIMIZERS_REGISTRY: dict[str, OptimizerEntry] = {
    # SciPy's L-BFGS-B: float64 s/y pairs plus SciPy's work vectors. Its line search does not take an
    # objective that changes between evaluations.
    "lbfgs": OptimizerEntry("tfstyle.optimize.loops:LBFGSRun", 8 * (2 * LBFGS_HISTORY + 4)),
    # Adam: iteration counter, momentum, velocity (float32).
    "adam": OptimizerEntry("tfstyle.optimize.loops:AdamRun", 4 * 3, tiles=True, schedule=True),
}
OPTIMIZERS = tuple(OPTIMIZERS_REGISTRY)
