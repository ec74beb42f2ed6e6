"""Settings of ``tfstyle video`` beyond those of the image path."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .parsers import ConfigError, _choice, _finite, _h, parse_ints

# ---------------------------------------------------------------------------------------------
# Video (tfstyle.video): the flow, the two paths' temporal settings, the encoder.

FLOW_PRESETS = ("ultrafast", "fast", "medium")


@dataclass(frozen=True)
class VideoConfig:
    """Settings of stylising a clip (``tfstyle video``) beyond those of the image path.

    The optimisation path takes ``StylizeConfig`` for everything else (network, weights, layers,
    size, steps per frame); the feed-forward path takes its ``size`` only.
    """

    blend: float = field(
        default=0.5,
        metadata=_h("feed-forward path: weight of the previous output, warped by optical flow, blended into "
                    "each new output where the flow is consistent (0: frames independent)"))
    flow: str = field(default="medium", metadata=_h("DIS optical flow preset (OpenCV): ultrafast, fast or medium",
                                                    choices=FLOW_PRESETS))
    temporal_weight: float = field(
        default=200.0,
        metadata=_h("optimisation path: weight of the temporal loss pulling each frame toward the previous "
                    "output warped onto it (Ruder et al. 2016); 0: frames independent"))
    long_term: tuple[int, ...] = field(
        default=(),
        metadata=_h("optimisation path: further previous frames with their own temporal terms, e.g. 2,4 "
                    "(Ruder et al.'s long-term consistency; the previous frame is always used)",
                    parse=lambda text: parse_ints(text, "long_term")))
    first_frame_steps: int = field(default=0, metadata=_h("optimisation path: steps of the first frame, which "
                                                          "starts from the content (0: --steps)"))
    frame_lr: float = field(
        default=0.02,
        metadata=_h("optimisation path: Adam learning rate of the frames that start from the previous output "
                    "warped (the first frame uses --lr); a small rate refines instead of restarting"))
    fps: float = field(default=25.0, metadata=_h("frame rate of frame folders and image sequences"))
    crf: int = field(default=18, metadata=_h("H.264 quality of video outputs: 0 (lossless) .. 51; 18 looks "
                                             "lossless to most eyes"))

    def validate(self) -> "VideoConfig":
        _finite("blend", self.blend, positive=False)
        if self.blend >= 1:
            raise ConfigError(f"blend must be in [0, 1), got {self.blend}")
        _choice("flow", self.flow, FLOW_PRESETS)
        _finite("temporal_weight", self.temporal_weight, positive=False)
        for j in self.long_term:
            if not isinstance(j, int) or isinstance(j, bool) or not 2 <= j <= 100:
                raise ConfigError(f"long_term frames must be integers in 2..100, got {self.long_term!r}")
        if len(set(self.long_term)) != len(self.long_term):
            raise ConfigError(f"long_term frames must differ, got {self.long_term!r}")
        if not isinstance(self.first_frame_steps, int) or self.first_frame_steps < 0:
            raise ConfigError(f"first_frame_steps must be an integer >= 0, got {self.first_frame_steps!r}")
        _finite("frame_lr", self.frame_lr, positive=True)
        _finite("fps", self.fps, positive=True)
        if self.fps > 1000:
            raise ConfigError(f"fps must be at most 1000, got {self.fps}")
        if not isinstance(self.crf, int) or isinstance(self.crf, bool) or not 0 <= self.crf <= 51:
            raise ConfigError(f"crf must be an integer in 0..51, got {self.crf!r}")
        return self

    def replace(self, **changes) -> "VideoConfig":
        return dataclasses.replace(self, **changes)
