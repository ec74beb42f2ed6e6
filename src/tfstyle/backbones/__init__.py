"""Loss networks behind one interface (:class:`tfstyle.backbones.base.Backbone`).

``get(name)`` returns the backbone registered under ``name`` in ``tfstyle.config.BACKBONES_REGISTRY``
(the implementation is imported on first use). Importing this package imports no TensorFlow.
"""

from __future__ import annotations

import importlib

from ..config import BACKBONES_REGISTRY, NETWORKS, ConfigError


def get(name: str):
    """A new :class:`~tfstyle.backbones.base.Backbone` for ``name`` ("vgg19", "resnet50", ...).

    Raises:
        ConfigError: an unknown name.
    """
    if name not in BACKBONES_REGISTRY:
        raise ConfigError(f"network must be one of {', '.join(NETWORKS)}, got {name!r}")
    module, _, cls = BACKBONES_REGISTRY[name].implementation.partition(":")
    return getattr(importlib.import_module(module), cls)()


__all__ = ["get", "NETWORKS"]
