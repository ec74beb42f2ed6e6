"""Where a loss network's ImageNet weights come from, the same way for every network.

Lookup order: ``--weights PATH``, then ``$TFSTYLE_<NETWORK>_WEIGHTS``, then Keras's cache
(``$KERAS_HOME/models`` or ``~/.keras/models``, under Keras's own file name), then Keras's own
download (skipped when ``$TFSTYLE_OFFLINE`` is 1). ``backbone="auto"`` falls back to the network's
fixed-seed random weights and says so in one line (:attr:`WeightsInfo.notice`); "imagenet" fails
instead; "random" never looks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..config import OFFLINE_ENV, ConfigError
from . import get


class BackboneError(RuntimeError):
    """The requested backbone's weights cannot be had. Message is one line naming the file."""


@dataclass(frozen=True)
class WeightsInfo:
    """Where the backbone's weights came from.

    Attributes:
        path: the weight file, or None for the random backbone.
        source: "flag", "env", "cache", "download" or "random".
        notice: a one-line human description, e.g. for a prominent CLI message.
        network: the architecture the weights belong to ("vgg19", "resnet50", ...).
    """

    path: str | None
    source: str
    notice: str
    network: str = "vgg19"

    @property
    def is_random(self) -> bool:
        return self.path is None


def keras_cache_path(network: str = "vgg19") -> Path:
    """Where Keras keeps ``network``'s downloaded notop weights ($KERAS_HOME/models or ~/.keras/models)."""
    return _cache_file(get(network))


def _cache_file(bb) -> Path:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / bb.weights_file


def _download_weights(bb) -> str:
    """Keras's own download of backbone ``bb``'s weights (into its cache). Raises on any failure
    (offline, blocked, corrupt)."""
    import contextlib

    from keras.utils import get_file

    # Keras prints "Downloading data from ..." on stdout; the library never prints.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        return get_file(bb.weights_file, bb.weights_url(), cache_subdir="models", file_hash=bb.weights_md5)


def resolve_weights(backbone: str = "auto", weights: str | None = None, network: str = "vgg19") -> WeightsInfo:
    """Find ImageNet weights of ``network`` (see the module docstring for the order).

    Args:
        backbone: "imagenet" (fail if not found), "random" (never look), "auto" (fall back to
            random). "vgg19" is the older spelling of "imagenet" and is only valid with network="vgg19".
        weights: explicit path to a notop h5 file; an explicit path that does not exist is an error
            whatever the backbone.
        network: the architecture (``tfstyle.config.NETWORKS``).

    Raises:
        BackboneError: a given path is missing, or backbone="imagenet" and nothing was found.
        ConfigError: unknown network, or backbone="vgg19" with another network.
    """
    bb = get(network)
    if backbone == "vgg19" and network != "vgg19":
        raise ConfigError(f"--backbone vgg19 asks for VGG19 weights but --network is {network}; "
                          f"use --backbone imagenet")
    title, env_name = bb.title, bb.weights_env
    if backbone == "random":
        return WeightsInfo(None, "random", _random_notice(bb, "requested with --backbone random"), network)
    if weights:
        p = Path(weights).expanduser()
        if not p.is_file():
            raise BackboneError(f"weights file {p} does not exist")
        return WeightsInfo(str(p), "flag", f"{title} ImageNet weights from {p}", network)
    env = os.environ.get(env_name)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise BackboneError(f"${env_name} names {p}, which does not exist")
        return WeightsInfo(str(p), "env", f"{title} ImageNet weights from ${env_name} ({p})", network)
    cached = _cache_file(bb)
    if cached.is_file():
        return WeightsInfo(str(cached), "cache", f"{title} ImageNet weights from the Keras cache ({cached})",
                           network)
    why = "download disabled by $" + OFFLINE_ENV
    if os.environ.get(OFFLINE_ENV, "") not in ("1", "true", "yes"):
        try:
            path = _download_weights(bb)
            return WeightsInfo(path, "download", f"{title} ImageNet weights downloaded to {path}", network)
        except Exception as e:  # noqa: BLE001 - any network/IO/hash failure means "not available"
            first = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
            why = f"download failed: {first}"
    if backbone in ("vgg19", "imagenet"):
        raise BackboneError(
            f"{title} ImageNet weights not found ({why}); put {bb.weights_file} at {cached}, "
            f"or pass --weights PATH, or set ${env_name}"
        )
    return WeightsInfo(None, "random", _random_notice(bb, f"no {title} ImageNet weights found: {why}; "
                                                          f"to use them put {bb.weights_file} at {cached}"),
                       network)


def weights_for(config, weights: WeightsInfo | None = None) -> WeightsInfo:
    """``weights`` checked against ``config.network``, or resolved from ``config`` (its ``backbone``,
    ``weights`` and ``network``) when None.

    Raises:
        ConfigError: the given weights belong to another network. BackboneError: see resolve_weights.
    """
    if weights is None:
        return resolve_weights(config.backbone, config.weights, config.network)
    if weights.network != config.network:
        raise ConfigError(f"the given weights are for {weights.network}, the config asks for {config.network}")
    return weights


def _random_notice(bb, why: str) -> str:
    return (f"using a fixed-seed random-weight {bb.title} (random-feature texture synthesis), not "
            f"ImageNet weights ({why})")


__all__ = ["BackboneError", "WeightsInfo", "keras_cache_path", "resolve_weights", "weights_for"]
