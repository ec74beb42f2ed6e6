"""Stylising a clip without flicker: frames in, frames out, fast (a trained network) or best
(optimisation per frame with a temporal loss).

Two paths, one frame loop (:func:`stylize_video`):

* **Feed-forward** (:class:`FeedForwardFrames`): a trained transform network on every frame. With
  ``VideoConfig.blend > 0`` each output is blended with the previous output warped onto it by
  optical flow, where the flow is consistent (Ruder et al.'s mask): ``y = (1 - b c) f(x) + b c
  warp(y_prev)``. A network trained with ``TrainConfig.temporal_weight`` flickers less on its own.
* **Optimisation** (:class:`OptimisedFrames`), after Ruder et al. 2016, "Artistic style transfer for
  videos": each frame is a :class:`tfstyle.optimize.stylizer.Stylizer` run (the loss network,
  weights, layers and losses of ``stylize``) that starts from the previous output warped by the
  backward flow, with a temporal loss toward that warped image, masked at disocclusions and motion
  boundaries; ``VideoConfig.long_term`` adds terms for frames further back. Departures from the
  paper: Adam at a small rate (``frame_lr``) for the warm-started frames instead of L-BFGS (the
  project's default optimiser, see the README's speed section), and one scale per frame (no
  coarse-to-fine, no tiles): each frame starts near its answer already.

Every finished frame is written as a PNG into a resumable store (the output folder itself for
``-o DIR/``, else ``OUT.mp4.tfstyle-frames/`` beside the output, removed at the end) and, for a
video output, encoded straight away. Ctrl-C (KeyboardInterrupt, e.g. raised by the callback) stops
between frames or steps and keeps the finished frames; ``resume=True`` continues after them (a
frame interrupted half-way is done again). The library never prints: progress goes to
``callback(VideoProgress)``, the outcome comes back as a :class:`VideoResult`.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import ConfigError, StylizeConfig, VideoConfig
from ..io.images import atomic_write, output_shape
from .codecs import (FrameFolder, VideoError, VideoInfo, VideoWriter, check_output, even_shape, probe,
                       read_frames)

STORE_SUFFIX = ".tfstyle-frames"  # OUT.mp4 -> OUT.mp4.tfstyle-frames/
RUN_FILE = ".tfstyle-video.json"  # inside the store: what a resumed run must match


@dataclass
class VideoProgress:
    """What the callback receives: after every finished frame (``step == 0``) and, on the
    optimisation path, after every step of a frame.

    Attributes:
        frame: frames finished (1-based count; during a frame's steps, the frames before it).
        total_frames: frames in the clip. elapsed: seconds since the loop started.
        step, steps: the step within the frame being optimised and its target (0, 0 otherwise).
        loss, parts: the frame's loss at that step (optimisation path).
    """

    frame: int
    total_frames: int
    elapsed: float
    step: int = 0
    steps: int = 0
    loss: float | None = None
    parts: dict[str, float] = field(default_factory=dict)


@dataclass
class VideoResult:
    """The outcome of :func:`stylize_video`.

    Attributes:
        output: the video file or frame folder. store: the resumable frame folder (removed after a
            finished video output). frames: frames finished in total; resumed: of them, found done.
        shape: (H, W) of the frames. stop_reason: "done", "interrupted" or "nonfinite"; message: one
            line for the latter two. seconds: wall time of this session's loop.
        timings: seconds spent in ``decode``, ``flow``, ``stylize``, ``write`` this session.
    """

    output: Path
    store: Path
    frames: int
    resumed: int
    shape: tuple[int, int]
    stop_reason: str
    message: str
    seconds: float
    timings: dict[str, float]


class FeedForwardFrames:
    """A trained network on each frame, with an optional flow-guided blend with the previous output.

    Args:
        model: a :class:`tfstyle.feedforward.apply.StyleModel` (or any callable mapping (H, W, 3)
            float RGB [0, 1] to the same).
        blend: weight ``b`` of the warped previous output where the flow is consistent (0: off).
        flow: a :class:`tfstyle.video.flow.FlowEstimator` (needed when ``blend > 0``).

    Calling it with a (H, W, 3) uint8 frame returns the (H, W, 3) float32 output; frames must come
    in order. ``timings`` accumulates seconds in ``stylize`` and ``flow``.
    """

    def __init__(self, model, blend: float = 0.0, flow=None):
        self.model, self.blend, self.flow = model, float(blend), flow
        if self.blend > 0 and flow is None:
            raise ConfigError("a flow-guided blend needs a flow estimator")
        self.timings = {"stylize": 0.0, "flow": 0.0}
        self.reset()

    def reset(self) -> None:
        self._prev = None  # (input uint8, output float32) of the previous frame

    def remember(self, frame: np.ndarray, output: np.ndarray) -> None:
        """Take ``output`` (e.g. read back from the store on resume) as the previous frame's."""
        self._prev = (frame, np.asarray(output, np.float32) / (255.0 if output.dtype == np.uint8 else 1.0))

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        from .flow import warp

        t0 = time.perf_counter()
        y = np.asarray(self.model(frame.astype(np.float32) / 255.0), np.float32)
        t1 = time.perf_counter()
        self.timings["stylize"] += t1 - t0
        if self.blend > 0 and self._prev is not None:
            backward, mask = self.flow.pair(frame, self._prev[0])
            a = self.blend * mask[..., None]
            y = (1.0 - a) * y + a * warp(self._prev[1], backward)
            self.timings["flow"] += time.perf_counter() - t1
        self._prev = (frame, y)
        return y


class Interrupted(Exception):
    """A frame's optimisation was interrupted (Ctrl-C); the frame is not finished."""


class NonFinite(Exception):
    """A frame's loss became NaN or Inf."""


class OptimisedFrames:
    """Image optimisation per frame with a temporal loss (Ruder et al. 2016; see the module docstring).

    Args:
        style: (H, W, 3) float RGB [0, 1] style image (or a list: several styles, as ``stylize``).
        config: the image-optimisation settings; ``steps`` per frame. ``size`` is taken from the
            frames (they come at the output size); masks, scales and tiles are not used.
        video: ``temporal_weight`` (0: every frame independent, from the content), ``long_term``,
            ``first_frame_steps``, ``frame_lr``, ``flow``.
        weights: pre-resolved loss-network weights.

    Calling it with a (H, W, 3) uint8 frame (and an optional per-step callback receiving
    :class:`tfstyle.progress.Progress`) returns the (H, W, 3) float32 output.
    """

    def __init__(self, style, config: StylizeConfig, video: VideoConfig, weights=None):
        from ..backbones.weights import resolve_weights
        from ..hardware import resolve_precision
        from ..optimize.stylizer import build_extractor
        from .flow import FlowEstimator

        self.config = config.validate()
        self.video = video.validate()
        if config.content_mask or config.style_masks:
            raise ConfigError("masks are not supported for video")
        self.style = style
        self.weights = weights or resolve_weights(config.backbone, config.weights, config.network)
        self.policy = resolve_precision(config.precision)
        self.extractor = build_extractor(self.config, self.weights, self.policy)
        self.temporal = self.video.temporal_weight > 0
        self.flow = FlowEstimator(self.video.flow) if self.temporal else None
        self.offsets = (1, *sorted(self.video.long_term))  # frames back, nearest first
        self.timings = {"stylize": 0.0, "flow": 0.0}
        self.last_parts: dict[str, float] = {}
        self.reset()

    def reset(self) -> None:
        self._history = collections.deque(maxlen=max(self.offsets))  # (input, output), newest last

    def remember(self, frame: np.ndarray, output: np.ndarray) -> None:
        self._history.append((frame, np.asarray(output, np.float32) / (255.0 if output.dtype == np.uint8 else 1.0)))

    def __call__(self, frame: np.ndarray, callback: Callable | None = None) -> np.ndarray:
        from ..objective.temporal import TemporalTerm
        from .flow import long_term_masks, warp
        from ..optimize.stylizer import Stylizer

        c, v = self.config, self.video
        content = frame.astype(np.float32) / 255.0
        hw = content.shape[:2]
        cfg = c.replace(size=max(hw), scales="auto", tile_size=0)
        start, extra = None, None
        first = not self._history
        if self.temporal and not first:
            t0 = time.perf_counter()
            warped, masks = [], []
            for j in self.offsets:
                if j > len(self._history):
                    break
                prev_in, prev_out = self._history[-j]
                backward, mask = self.flow.pair(frame, prev_in)
                warped.append(warp(prev_out, backward))
                masks.append(mask)
            masks = long_term_masks(masks)
            self.timings["flow"] += time.perf_counter() - t0
            start = warped[0]  # Ruder et al.'s "prevWarped" initialisation
            extra = TemporalTerm(warped, masks, v.temporal_weight)
            cfg = cfg.replace(lr=v.frame_lr)
        elif first and v.first_frame_steps:
            cfg = cfg.replace(steps=v.first_frame_steps)
        t0 = time.perf_counter()
        st = Stylizer(content, self.style, cfg, self.weights, extractor=self.extractor, extra_loss=extra)
        result = st.run(callback=callback, start=start)
        self.timings["stylize"] += time.perf_counter() - t0
        if result.stop_reason == "interrupted":
            raise Interrupted(result.message)
        if result.stop_reason == "nonfinite":
            raise NonFinite(result.message)
        self.last_parts = {k: v[-1] for k, v in result.history.items() if v}
        out = result.image
        self._history.append((frame, out))
        return out


# ------------------------------------------------------------------------------ the frame loop

def store_path(output: str | os.PathLike) -> Path:
    """The resumable frame folder of a video output: ``OUT.mp4`` -> ``OUT.mp4.tfstyle-frames``."""
    p = Path(output)
    return p.with_name(p.name + STORE_SUFFIX)


def frame_size(info: VideoInfo, size: int | None, fast: bool, cap: int) -> int:
    """The longest side of the output frames.

    Args:
        size: what the user asked for (``--size``), or None: then the clip's own size on the fast
            path (a trained network costs little per pixel, and a changed frame size is what people
            least expect of a video tool), and the clip's own size but at most ``cap`` (the
            optimisation's cost limit, ``StylizeConfig.size``) on the optimisation path: a default
            never enlarges a clip.
        fast: the feed-forward path (a trained model).
    """
    if size is not None:
        return size
    own = max(info.height, info.width)
    return own if fast else min(own, cap)


def frame_shape(info: VideoInfo, size: int, as_frames: bool) -> tuple[int, int]:
    """(H, W) of the output frames: the longest side ``size``, even sides for a video output."""
    hw = output_shape((info.height, info.width), size, "video frame")
    return hw if as_frames else even_shape(hw)


def _hash_files(h, paths) -> None:
    for p in paths:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        h.update(b"\0")


def video_fingerprint(info: VideoInfo, hw, model_dir=None, style=None, config: StylizeConfig | None = None,
                      video: VideoConfig | None = None, extra: str = "") -> str:
    """sha256 over what must not change between a run and its resume: the input's bytes, the
    model's files or the style, the frame size and the settings that change the frames (not the
    encoder's ``crf``); ``extra``: an arbitrary-style model's style (``BoundStyle.fingerprint``)."""
    h = hashlib.sha256()
    _hash_files(h, info.files if info.kind == "frames" else [info.path])
    if model_dir is not None:
        from ..feedforward.networks import MODEL_FILE, WEIGHTS_FILE

        from ..feedforward.arbitrary import PREDICTOR_WEIGHTS_FILE

        files = [Path(model_dir) / MODEL_FILE, Path(model_dir) / WEIGHTS_FILE, Path(model_dir) / PREDICTOR_WEIGHTS_FILE]
        _hash_files(h, [f for f in files if f.name != PREDICTOR_WEIGHTS_FILE or f.is_file()])
        settings = ("model", video.blend if video.blend else 0.0, video.flow if video.blend else "", extra)
    else:
        styles = style if isinstance(style, (list, tuple)) else [style]
        for s in styles:
            h.update(np.ascontiguousarray(s, np.float32).tobytes() if isinstance(s, np.ndarray) else Path(s).read_bytes())
        settings = ("optimise", repr(dataclasses.replace(config, memory_limit=0.0)),
                    repr(dataclasses.replace(video, crf=0, fps=0.0)))
    h.update(repr((tuple(hw), info.fps if info.kind == "frames" else 0, settings)).encode())
    return h.hexdigest()


def prepare_store(store: FrameFolder, fingerprint: str, resume: bool, overwrite: bool, is_output: bool) -> int:
    """Check (or clear) the resumable store; returns the frames already finished.

    Raises:
        VideoError: nothing to resume, a store from another run, or frames left by an earlier run
            without ``resume`` or ``overwrite``.
    """
    run = store.folder / RUN_FILE
    done = store.count() if store.folder.is_dir() else 0
    if resume:
        try:
            saved = json.loads(run.read_text())
        except (OSError, ValueError):
            raise VideoError(f"{store.folder}: no interrupted run to resume") from None
        if saved.get("fingerprint") != fingerprint:
            raise VideoError(f"{store.folder}: frames are from a run with another input, model, style, size "
                             f"or settings")
        return done
    left = done or (store.folder.is_dir() and any(store.frames()))
    if left or run.exists():
        if not overwrite:
            what = "frames of an interrupted run (pass --resume to continue" if run.exists() else \
                "frames (pass --overwrite to replace them"
            extra = ", or --overwrite to start afresh)" if run.exists() else ")"
            raise VideoError(f"{store.folder}: holds {done} {what}{extra}")
        for p in store.frames():
            p.unlink()
        run.unlink(missing_ok=True)
    return 0


def stylize_video(source, output, *, model=None, style=None, config: StylizeConfig | None = None,
                  video: VideoConfig | None = None, callback: Callable[[VideoProgress], None] | None = None,
                  resume: bool = False, overwrite: bool = False, weights=None, info: VideoInfo | None = None,
                  model_dir=None, size: int | None = None) -> VideoResult:
    """Stylise a clip, frame by frame, into a video file or a folder of PNG frames.

    Args:
        source: a video file, a folder of frames or an image-sequence pattern (see
            :func:`tfstyle.video.codecs.probe`).
        output: .mp4, .mov or .mkv, or a folder (a path ending in ``/`` or an existing folder).
        model: a :class:`tfstyle.feedforward.apply.StyleModel`, or a model folder (the fast path);
            or else ``style``: a style image (path or array) for the optimisation path.
        config: image-optimisation settings (on the optimisation path ``size`` caps the frames'
            longest side when ``size`` below is None). video: the video settings.
        callback: called with :class:`VideoProgress` (raise KeyboardInterrupt in it to stop).
        resume: continue an interrupted run from its store. overwrite: replace an existing output
            and discard an interrupted run's frames.
        weights: pre-resolved loss-network weights (optimisation path).
        info: the input's :func:`tfstyle.video.codecs.probe` (else probed here).
        size: the longest side of the output frames; None: the clip's own (see :func:`frame_size`).

    Returns:
        A :class:`VideoResult`.

    Raises:
        VideoError, ConfigError, ImageError, ModelError, BackboneError: one line, nothing written.
    """
    config = (config or StylizeConfig()).validate()
    video = (video or VideoConfig()).validate()
    if (model is None) == (style is None):
        raise ConfigError("give either a trained model or a style image")
    info = info or probe(source, fps=video.fps)
    out, as_frames = check_output(output, overwrite=overwrite or resume)
    hw = frame_shape(info, frame_size(info, size, model is not None, config.size), as_frames)
    if model is not None and not callable(model):
        from ..feedforward.apply import StyleModel

        model_dir = model
        model = StyleModel(model)
    if model is not None and model_dir is None:
        model_dir = getattr(model, "model_dir", None)
    if model is not None and model_dir is None:
        raise ConfigError("the model needs a model_dir to fingerprint a resumable run")
    if style is not None and not isinstance(style, (np.ndarray, list, tuple)):
        from ..io.images import load_image

        style_image = load_image(style)
    else:
        style_image = style
    fp = video_fingerprint(info, hw, model_dir if model is not None else None,
                           style if style is not None else None, config, video, getattr(model, "fingerprint", ""))
    store = FrameFolder(out if as_frames else store_path(out))
    done = prepare_store(store, fp, resume, overwrite, as_frames)

    if model is not None:
        from .flow import FlowEstimator

        processor = FeedForwardFrames(model, video.blend, FlowEstimator(video.flow) if video.blend > 0 else None)
        steps_per_frame = 0
    else:
        processor = OptimisedFrames(style_image, config, video, weights)
        steps_per_frame = config.steps

    store.folder.mkdir(parents=True, exist_ok=True)
    atomic_write(store.folder / RUN_FILE, lambda f: f.write(json.dumps({"fingerprint": fp}).encode()))
    writer = None if as_frames else VideoWriter(out, hw, info.fps, info.time_base, video.crf)
    timings = {"decode": 0.0, "flow": 0.0, "stylize": 0.0, "write": 0.0}
    t0 = time.perf_counter()
    finished, stop, message = done, "done", ""
    total = info.frames
    try:
        frames = read_frames(info, hw)
        while True:
            t = time.perf_counter()
            frame = next(frames, None)
            timings["decode"] += time.perf_counter() - t
            if frame is None:
                break
            if frame.index < done:  # finished earlier: from the store, not stylised again
                t = time.perf_counter()
                image = store.read(frame.index)
                if writer is not None:
                    writer.write(image, frame.pts)
                timings["write"] += time.perf_counter() - t
                processor.remember(frame.image, image)
                continue
            if steps_per_frame:
                index = frame.index

                def relay(p, index=index):
                    if callback is not None:
                        callback(VideoProgress(index, total, time.perf_counter() - t0, p.step, p.total_steps,
                                               p.loss, p.parts))

                try:
                    result = processor(frame.image, relay)
                except Interrupted as e:
                    raise KeyboardInterrupt from e
            else:
                result = processor(frame.image)
            t = time.perf_counter()
            u8 = (np.clip(result, 0, 1) * 255.0 + 0.5).astype(np.uint8)
            store.write(frame.index, u8)
            if writer is not None:
                writer.write(u8, frame.pts)
            timings["write"] += time.perf_counter() - t
            finished = frame.index + 1
            if callback is not None:
                callback(VideoProgress(finished, total, time.perf_counter() - t0))
    except KeyboardInterrupt:
        stop, message = "interrupted", f"interrupted after frame {finished} of {total}"
    except NonFinite as e:
        stop, message = "nonfinite", f"frame {finished + 1}: {e}"
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    for k in ("flow", "stylize"):
        timings[k] = processor.timings[k]
    if stop != "done":
        if writer is not None:
            writer.abort()
    else:
        if writer is not None:
            t = time.perf_counter()
            writer.finish(audio_from=info.path if info.kind == "video" and info.has_audio else None)
            timings["write"] += time.perf_counter() - t
            shutil.rmtree(store.folder, ignore_errors=True)
        else:
            (store.folder / RUN_FILE).unlink(missing_ok=True)
    return VideoResult(output=out, store=store.folder, frames=finished, resumed=done, shape=tuple(hw),
                       stop_reason=stop, message=message, seconds=time.perf_counter() - t0, timings=timings)


__all__ = ["FeedForwardFrames", "OptimisedFrames", "VideoProgress", "VideoResult", "stylize_video", "store_path",
           "prepare_store", "video_fingerprint", "frame_shape"]
