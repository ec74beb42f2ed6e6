"""tfstyle: neural image style transfer on TensorFlow 2 / Keras 3.

Image optimisation (Gatys et al.)::

    import tfstyle
    result = tfstyle.stylize("photo.jpg", "painting.jpg", config=tfstyle.StylizeConfig(size=512))
    tfstyle.save_image(result.image, "out.png")

Modules import TensorFlow lazily where they can, so that ``import tfstyle`` stays cheap.
"""

from .config import ConfigError, NetworkConfig, StylizeConfig, TrainConfig

__version__ = "0.1.0"


def __getattr__(name):
    # NumPy/Pillow and TensorFlow-backed parts load on first use: `python -m tfstyle` installs its
    # signal handlers before anything slow is imported.
    if name in ("ImageError", "load_image", "save_image"):
        from . import image

        return getattr(image, name)
    if name in ("stylize", "Stylizer", "StylizeResult", "Progress", "RunState"):
        from . import optimize

        return getattr(optimize, name)
    if name in ("BackboneError", "resolve_weights", "FeatureExtractor"):
        from . import features

        return getattr(features, name)
    # Feed-forward models (the training function itself: ``from tfstyle.train import train``, since
    # the name ``tfstyle.train`` is its module).
    feedforward = {"Trainer": "train", "TrainProgress": "train", "TrainResult": "train", "StyleModel": "apply",
                   "apply_files": "apply", "export_model": "export"}
    if name in feedforward:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{feedforward[name]}"), name)
    raise AttributeError(f"module 'tfstyle' has no attribute {name!r}")


__all__ = ["ConfigError", "ImageError", "StylizeConfig", "load_image", "save_image", "stylize",
           "Stylizer", "StylizeResult", "Progress", "RunState", "BackboneError", "resolve_weights",
           "FeatureExtractor", "__version__", "TrainConfig", "NetworkConfig", "Trainer", "TrainProgress",
           "TrainResult", "StyleModel", "apply_files", "export_model"]
