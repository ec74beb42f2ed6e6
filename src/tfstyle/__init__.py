"""tfstyle: neural image style transfer on TensorFlow 2 / Keras 3.

Image optimisation (Gatys et al.)::

    import tfstyle
    result = tfstyle.stylize("photo.jpg", "painting.jpg", config=tfstyle.StylizeConfig(size=512))
    tfstyle.save_image(result.image, "out.png")

Feed-forward networks::

    tfstyle.train("painting.jpg", "photos/", "models/painting", tfstyle.TrainConfig(arch="light"))
    model = tfstyle.StyleModel("models/painting")
    tfstyle.export_model("models/painting", "tflite", "float16")

The package's layout: ``config`` (every default), ``progress`` (what runs report and return),
``hardware`` (every decision that depends on the CPU), ``io`` (images, states, output checks),
``kernels`` (Winograd convolutions, native ops), ``backbones`` (loss networks), ``objective``
(losses, masks, colour, the temporal loss), ``optimize`` (loops, scales, tiles, memory),
``feedforward`` (networks, data, training, applying), ``export`` (one module per format), ``web``
(the browser app), ``video`` (pipelines, codecs, flow), ``cli`` (the command line). Names below load on first use, so
``import tfstyle`` imports no TensorFlow. Imported before TensorFlow on an AVX2 CPU without AVX-512,
it sets ``TF_ENABLE_ONEDNN_OPTS=1`` (unless set) for the speed of oneDNN's kernels
(:func:`tfstyle.hardware.prefer_onednn`); imported after TensorFlow there, it warns
(:class:`tfstyle.hardware.OneDNNWarning`).
"""

from .config import (ApplyConfig, ConfigError, ExportConfig, NetworkConfig, StylizeConfig,  # noqa: F401
                     TrainConfig, VideoConfig)
from .hardware import prefer_onednn as _prefer_onednn

# Before anything imports TensorFlow: oneDNN on x86 CPUs where TensorFlow would leave it off (AVX2
# without AVX-512), where it makes float32 steps faster; see tfstyle.hardware.
_prefer_onednn()

__version__ = "0.1.0"

# Public name -> the module that defines it (imported on first use).
_LAZY = {
    "ImageError": "io.images", "load_image": "io.images", "save_image": "io.images",
    "StateError": "io.state", "save_state": "io.state", "load_state": "io.state",
    "stylize": "optimize.multiscale", "MultiScaleStylizer": "optimize.multiscale",
    "Stylizer": "optimize.stylizer",
    "Progress": "progress", "ScaleProgress": "progress", "ScalePlan": "progress", "RunState": "progress",
    "StylizeResult": "progress", "TrainProgress": "progress", "TrainResult": "progress",
    "BackboneError": "backbones.weights", "WeightsInfo": "backbones.weights", "resolve_weights": "backbones.weights",
    "FeatureExtractor": "backbones.extractor",
    "train": "feedforward.train", "Trainer": "feedforward.train",
    "StyleModel": "feedforward.apply", "apply_files": "feedforward.apply",
    "export_model": "export",
    "stylize_video": "video", "VideoResult": "video", "VideoProgress": "video", "VideoError": "video",
}


def __getattr__(name):
    if name == "get_backbone":
        from .backbones import get

        return get
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'tfstyle' has no attribute {name!r}")


__all__ = ["__version__", "ConfigError", "StylizeConfig", "TrainConfig", "NetworkConfig", "ApplyConfig",
           "ExportConfig", "VideoConfig", "get_backbone", *_LAZY]
