"""What runs report and return: plain types, no TensorFlow.

The library never prints: a run calls ``callback(progress)`` after every step and returns a result
dataclass; the command line renders both. Image optimisation reports :class:`Progress` (and
:class:`ScaleProgress` coarse to fine) and returns :class:`StylizeResult`; a resumable
:class:`RunState` travels with both. Feed-forward training reports :class:`TrainProgress` and
returns :class:`TrainResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np


@dataclass
class RunState:
    """Everything needed to continue a run: the image, the step reached, the optimiser's slots.

    Attributes:
        image: (H, W, 3) float32 RGB in [0, 1], the image to continue from: Adam's current
            iterate (so that a resumed run continues exactly), L-BFGS's best image so far.
        step: optimisation steps completed; ``history`` holds exactly this many entries per key
            and Adam's slots exactly this many updates, wherever an interrupt landed.
        optimizer: "adam" or "lbfgs".
        slots: Adam's variables (iteration, momentum, velocity ...) as arrays; empty for L-BFGS,
            which restarts its curvature history on resume.
        history: loss history so far, ``{"total": [...], "style/block1_conv1": [...], ...}``.
        fingerprint: identifies the inputs and settings, so a state is not resumed into another run
            (:func:`tfstyle.io.state.run_fingerprint`).
    """

    image: np.ndarray
    step: int
    optimizer: str
    slots: list[np.ndarray] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)
    fingerprint: str = ""


@dataclass
class Progress:
    """What the callback receives after every step.

    Attributes:
        step: steps completed (1-based).
        total_steps: the run's target.
        loss: total loss at this step.
        parts: named weighted loss parts at this step.
        elapsed: seconds since the loop started.
    """

    step: int
    total_steps: int
    loss: float
    parts: dict[str, float]
    elapsed: float
    _state: Callable[[], RunState] = field(repr=False, default=None)
    _finish: Callable[[np.ndarray], np.ndarray] | None = field(repr=False, default=None)

    def state(self) -> RunState:
        """The run's state now (copies the image from the device)."""
        return self._state()

    @property
    def image(self) -> np.ndarray:
        """The best output image so far (as :attr:`StylizeResult.image`; ``state().image`` is the
        optimised image itself, which differs under a content mask or luminance-only transfer)."""
        image = self._state().image
        return self._finish(image) if self._finish is not None else image


@dataclass
class ScaleProgress(Progress):
    """:class:`Progress` with the scale: ``size`` (longest side), ``scale`` (0-based), ``n_scales``."""

    size: int = 0
    scale: int = 0
    n_scales: int = 1


@dataclass(frozen=True)
class ScalePlan:
    """One scale of a coarse-to-fine run.

    Attributes:
        size: longest side in pixels.
        shape: (H, W) of the image at this scale.
        steps: steps planned at this scale.
        offset: global steps planned before this scale.
        tile: core size of the tiles (0: the whole image at once).
        optimizer: optimiser at this scale ("adam" at tiled scales, else the configured one).
        estimate: estimated peak memory of this scale in bytes (see tfstyle.optimize.memory).
        schedule_offset: the step of the run's learning-rate schedule at which this scale starts;
            ``offset`` or more, since a coarser scale may stop before the end of its share
            (``StylizeConfig.coarse_fraction``).
    """

    size: int
    shape: tuple[int, int]
    steps: int
    offset: int
    tile: int = 0
    optimizer: str = "lbfgs"
    estimate: int = 0
    schedule_offset: int = 0


@dataclass
class StylizeResult:
    """The outcome of :func:`tfstyle.stylize`.

    Attributes:
        image: (H, W, 3) float32 RGB in [0, 1]: the lowest-loss image seen.
        history: per-step loss parts, ``{"total": [...], "content/block4_conv2": [...], ...}``.
        timings: seconds: ``setup`` (model + targets), ``optimize``, ``per_step``.
        steps: steps completed (including resumed ones).
        stop_reason: "done", "converged", "interrupted" or "nonfinite".
        message: a one-line explanation for stop reasons other than "done".
        weights: where the backbone's weights came from (a
            :class:`tfstyle.backbones.weights.WeightsInfo`; ``weights.notice`` says so plainly).
        policy: the Keras dtype policy used ("float32", "mixed_bfloat16", "mixed_float16").
        evaluations: loss/gradient evaluations (L-BFGS may do more than one per step).
        state: the state to pass back as ``resume=`` to continue.
        scales: the coarse-to-fine plan that ran (one :class:`ScalePlan` per scale; empty for a
            single :class:`tfstyle.optimize.stylizer.Stylizer` run).
        convolutions: how the network's convolutions ran, in words (for example "Winograd
            convolutions, native transforms"; see ``FeatureExtractor.convolutions``).
    """

    image: np.ndarray
    history: dict[str, list[float]]
    timings: dict[str, float]
    steps: int
    stop_reason: str
    message: str
    weights: Any
    policy: str
    evaluations: int
    state: RunState
    scales: list[ScalePlan] = field(default_factory=list)
    convolutions: str = ""


@dataclass
class TrainProgress:
    """What the training callback receives after every update.

    Attributes:
        step: updates completed (1-based). total_steps: the target.
        loss: total loss of this update (mean over its micro-batches and replicas).
        parts: named weighted loss parts, like ``stylize``'s.
        elapsed: seconds since the loop started. images_per_second: training throughput so far.
        unreadable: photos skipped so far because they could not be decoded.
    """

    step: int
    total_steps: int
    loss: float
    parts: dict[str, float]
    elapsed: float
    images_per_second: float
    unreadable: int
    _preview: Callable[[], np.ndarray] = field(repr=False, default=None)

    def preview(self) -> np.ndarray:
        """(N, H, W, 3) float RGB [0, 1]: the preview photos through the current network."""
        return self._preview()


@dataclass
class TrainResult:
    """The outcome of :func:`tfstyle.train`.

    Attributes:
        model_dir: where the model was written.
        steps: updates completed (including resumed ones).
        stop_reason: "done", "interrupted" or "nonfinite". message: one line for the latter two.
        history: per-update loss parts (this session), ``{"total": [...], "style/...": [...]}``.
        unreadable: photos skipped (header check before training plus decode failures during it).
        replicas: ``strategy.num_replicas_in_sync``. is_chief: this process writes the results.
        policy: Keras dtype policy. weights: where the loss network's weights came from.
        seconds: wall time of the loop. images_per_second: training throughput.
    """

    model_dir: Path
    steps: int
    stop_reason: str
    message: str
    history: dict[str, list[float]]
    unreadable: list[Path]
    replicas: int
    is_chief: bool
    policy: str
    weights: Any
    seconds: float
    images_per_second: float


__all__ = ["RunState", "Progress", "ScaleProgress", "ScalePlan", "StylizeResult", "TrainProgress",
           "TrainResult"]
