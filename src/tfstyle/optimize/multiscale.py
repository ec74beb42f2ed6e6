"""Coarse-to-fine (multi-scale) image optimisation on top of :class:`tfstyle.optimize.stylizer.Stylizer`,
and :func:`stylize`, the library's entry point for image optimisation.

The image is optimised at a small size, upsampled (bicubic), and optimised further at the next size,
up to the requested one. Coarse scales are cheap (a quarter of the pixels per halving) and settle the
large structures that the receptive fields of VGG cannot see at full resolution, so the fine scales
only refine texture: faster and better at large sizes (``bench/bench_highres.py`` measures both).

Decisions, stated once:

* **Scales.** ``auto`` halves ``size`` while the result stays >= ``config.MIN_COARSE`` (256 px), so
  512 -> 256, 512; 4096 -> 256 .. 4096; under 512 px a single scale (exactly the plain Stylizer).
  ``--scales 256,512`` overrides; ``size`` is always the last scale.
* **Targets per scale.** Each scale builds its own Stylizer (or tiled Stylizer): the content target
  from the content image at that scale, the style Grams from the style image at that scale. The
  network itself is built once and shared by all scales.
* **Steps.** ``config.steps`` is the total over all scales, split by ``config.scale_split`` (each
  coarser scale that many times the steps of the next finer one; largest-remainder rounding, finer
  scales take the remainder; with fewer steps than scales, the coarsest scales are dropped). Its
  default, auto (``StylizeConfig.resolved_scale_split``), gives two scales 1:2 and more scales equal
  shares, as jcjohnson's multi-resolution script and crowsonkb's style-transfer-pytorch give every
  scale the same iterations. With two scales the upsampled coarse result stops improving long before
  a coarse-heavy split ends, and 1:2 reached the speed benchmark's target soonest and ended lowest
  (``bench/speed.py``, ``bench/levers.py``, ``bench/final_loss.py``; bench/results/avx2/levers.md,
  final_loss_split_512.md, bench/results/decisions.md). Equal from three scales: with five scales
  (4096 px) a geometric 1:2 split would leave the coarsest 1/31 of the steps, too few to settle.
* **Coarse scales may stop early.** The split gives each scale its share of the learning-rate
  schedule; with ``config.coarse_fraction`` < 1 a coarser Adam scale runs only that part of its
  share and the next scale starts where the share ends, at the rate it would have had
  (``ScalePlan``: ``offset`` counts the steps run before a scale, ``schedule_offset`` the
  schedule's), so the run takes fewer steps than ``config.steps``, which stays the schedule's
  length (0.8 at 512 px: 80 + 200 of 300). L-BFGS scales have no schedule and run their whole
  share. The default runs whole shares: fractions below 1 reached the speed benchmark's target a
  little sooner but ended worse after the default schedule, and a speed lever is taken only where
  the end result is no worse (bench/results/avx2/levers.md, final_loss_coarse_fraction_512.md).
* **Learning rate.** Adam's decaying rate is one schedule over the whole run: scale k continues
  where the previous one's share ended (``Stylizer.schedule_span``), so a finer scale refines the
  upsampled image at a small rate instead of restarting at the full one and shaking it apart (a
  lower final loss, and the benchmark's target reached where a fresh schedule per scale never did;
  bench/results/decisions.md).
* **Progress.** Steps are counted globally: ``Progress.step`` runs from 1 to the steps planned over
  all scales (``Progress.total_steps``: ``config.steps`` less what coarse scales may skip; a scale's
  first global step is the sum of the steps planned before it), ``history`` is the concatenation
  over scales; progress objects also carry ``size`` and ``scale``.
* **Interruption** (Ctrl-C at any scale, also while a scale is being set up) returns the best image
  of the current scale *upsampled to the final size* (so the output file always has the requested
  size), while ``result.state`` keeps that image at its own scale: resuming continues that scale
  where it stopped (mid-scale, with Adam's slots) or starts the next scale when the state lies on a
  scale boundary.
* **Memory.** Every scale is planned with :mod:`tfstyle.optimize.memory`: tiled
  (:mod:`tfstyle.optimize.tiling`) when the untiled step would not fit, refused with
  :class:`tfstyle.optimize.memory.MemoryLimitError` when not even tiles fit (or when the network
  or its smoothing cannot be tiled).
"""

from __future__ import annotations

import gc
import time
from typing import Callable

import numpy as np

from ..backbones.base import Backbone
from ..backbones.weights import WeightsInfo, weights_for
from ..hardware import resolve_precision, set_inter_op_threads
from ..config import INITS, MIN_COARSE, OPTIMIZERS_REGISTRY, ConfigError, StylizeConfig, parse_scales
from ..io import images
from ..io.images import as_image, output_shape
from ..io.state import StateError, run_fingerprint
from ..progress import Progress, RunState, ScalePlan, ScaleProgress, StylizeResult
from .stylizer import SharedObjective, Stylizer, build_extractor


def auto_scales(size: int, coarsest: int = MIN_COARSE) -> tuple[int, ...]:
    """Halve ``size`` while the result stays >= ``coarsest``: 1024 -> (256, 512, 1024); 300 -> (300,)."""
    scales = [size]
    while scales[0] // 2 >= coarsest:
        scales.insert(0, scales[0] // 2)
    return tuple(scales)


def split_steps(total: int, n: int, ratio: float = 1.0) -> list[int]:
    """Split ``total`` steps over ``n`` scales, coarse to fine, each coarser scale ``ratio`` times the
    steps of the next finer one (1: equal).

    Largest-remainder rounding, so the parts sum to ``total``; ties go to the finer scales. Every part
    is >= 1 when ``total >= n``; otherwise the leading (coarse) parts are 0 (those scales are skipped).
    """
    if n <= 0:
        return []
    if total < n:
        return [0] * (n - total) + [1] * total
    weights = [ratio ** (n - 1 - i) for i in range(n)]
    exact = [(total - n) * w / sum(weights) for w in weights]  # one step each is given first
    parts = [1 + int(e) for e in exact]
    order = sorted(range(n), key=lambda i: (-(exact[i] - int(exact[i])), -i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def plan_scales(content_hw: tuple[int, int], config: StylizeConfig, backbone: Backbone,
                memory_limit: int | None = None, policy: str | None = None) -> list[ScalePlan]:
    """The scales of a run, with steps (run and in the schedule), tiling and memory estimates.

    Args:
        content_hw: (H, W) of the content image.
        config: the run's settings (``size``, ``steps``, ``scales``, ``scale_split``,
            ``coarse_fraction``, ``tile_size``, ``memory_limit``).
        backbone: the loss network (:class:`tfstyle.backbones.base.Backbone`), whose graph facts
            size the memory plan.
        memory_limit: bytes; default ``config.memory_limit`` GiB, or the available RAM if that is 0.
        policy: the run's resolved Keras dtype policy (None: resolved from ``config.precision``).

    Raises:
        ConfigError: a scale is too small for the content's aspect ratio.
        tfstyle.optimize.memory.MemoryLimitError: a scale cannot fit even in tiles.
    """
    from . import memory

    sizes = parse_scales(config.scales, config.size) or auto_scales(config.size, config.coarsest)
    steps = split_steps(config.steps, len(sizes), config.resolved_scale_split(len(sizes)))
    limit = memory.resolve_limit(config) if memory_limit is None else memory_limit
    kept = [(size, n) for size, n in zip(sizes, steps) if n > 0]
    # Finest first: if the run cannot fit, the message names the largest scale.
    decided = {size: memory.plan_scale(output_shape(content_hw, size), config, backbone, limit, policy)
               for size, _ in kept[::-1]}
    fraction = float(config.coarse_fraction)
    plans, offset, position = [], 0, 0
    for i, (size, share) in enumerate(kept):
        tile, optimizer, estimate = decided[size]
        # A coarser Adam scale stops early; the next one starts where the share ends in the schedule.
        # L-BFGS has no schedule, and the finest scale always runs its whole share.
        coarser = i < len(kept) - 1 and OPTIMIZERS_REGISTRY[optimizer].schedule
        n = max(1, int(share * fraction + 0.5)) if coarser else share
        plans.append(ScalePlan(size, output_shape(content_hw, size), n, offset, tile, optimizer, estimate,
                               schedule_offset=position))
        offset += n
        position += share
    return plans


class MultiScaleStylizer:
    """Coarse-to-fine optimisation of one content/style pair (see the module docstring).

    Same use as :class:`Stylizer`: build it, then :meth:`run`. With one untiled scale it runs
    exactly one plain :class:`Stylizer`.

    Args:
        content: (H, W, 3) float32 RGB in [0, 1], at any size.
        style: the style image(s), passed on to every scale's :class:`Stylizer`.
        config: settings; ``steps`` is the learning-rate schedule's length over all scales (the
            steps run, less what coarse scales skip with ``config.coarse_fraction`` < 1).
        weights: pre-resolved backbone weights (else resolved from ``config``).
        memory_limit: bytes (see :func:`plan_scales`).
        arrays: further keyword arguments of :class:`Stylizer`, passed on to every scale.

    Raises:
        tfstyle.optimize.memory.MemoryLimitError (a ConfigError) before the optimisation starts if a
        scale cannot fit.
    """

    def __init__(self, content: np.ndarray, style, config: StylizeConfig,
                 weights: WeightsInfo | None = None, memory_limit: int | None = None, **arrays):
        self.config = config.validate()
        set_inter_op_threads(config.inter_op_threads)  # before TensorFlow runs its first op
        self.content = content
        self.style = style
        if config.init not in INITS and arrays.get("init_image") is None:
            arrays["init_image"] = images.load_image(config.init)  # once, not per scale
        self.arrays = arrays
        # What a saved state must match to continue this run (tfstyle.io.state.run_fingerprint).
        self.fingerprint = run_fingerprint(config, content, style, arrays.get("init_image"),
                                           arrays.get("content_mask"), arrays.get("style_masks"))
        self.weights = weights_for(config, weights)
        self.policy = resolve_precision(config.precision)
        self.shape = output_shape(content.shape[:2], config.size)
        # The network once for every scale (its graph facts also serve the memory plan).
        self.extractor = build_extractor(self.config, self.weights, self.policy)
        self.plan = plan_scales(content.shape[:2], self.config, self.extractor.backbone, memory_limit, self.policy)
        # Traced once for every scale; with static sizes where there is only one.
        self.shared = SharedObjective(self.extractor, self.plan[0].shape if len(self.plan) == 1 else None)
        self._check_sizes()

    def _check_sizes(self) -> None:
        """Every scale's content and style images are large enough for the deepest layer (ConfigError)."""
        content_layers, style_layers = self.config.resolved_layers()
        layers = list(content_layers) + [n for n, w in style_layers if w > 0]
        need = self.extractor.backbone.min_side(layers)
        styles = self.style if isinstance(self.style, (list, tuple)) else [self.style]
        for sc in self.plan:
            side = round(sc.size * self.config.style_scale)
            for what, hw in [("content image", sc.shape)] + [
                    ("style image", images.fit_size(s.shape[:2], side)) for s in styles]:
                if min(hw) < need:
                    raise ConfigError(f"at {sc.size} px the {what} becomes {hw[1]}x{hw[0]}, smaller than the "
                                      f"{need} px that {self.extractor.backbone.title}'s layers need; raise --size"
                                      + (" or --coarsest" if sc.size < self.config.size else ""))

    def stylizer(self, k: int) -> Stylizer:
        """The (tiled or plain) Stylizer of scale ``k`` with its own targets."""
        sc = self.plan[k]
        cfg = self.config.replace(size=sc.size, steps=sc.steps, optimizer=sc.optimizer, scales="auto")
        if sc.tile:
            from .tiling import TiledStylizer

            st = TiledStylizer(self.content, self.style, cfg, self.weights, tile=sc.tile,
                               extractor=self.extractor, **self.arrays)
        else:
            st = Stylizer(self.content, self.style, cfg, self.weights, extractor=self.extractor, shared=self.shared,
                          **self.arrays)
        # One Adam schedule over the whole run (config.steps long): this scale runs its segment
        # [schedule_offset, schedule_offset + steps).
        st.schedule_span = (sc.schedule_offset, self.config.steps)
        return st

    def locate(self, resume: RunState) -> tuple[int, RunState | None, np.ndarray | None]:
        """Where a saved state continues: (scale index, per-scale resume state, start image)."""
        total = sum(sc.steps for sc in self.plan)
        for k, sc in enumerate(self.plan):
            if sc.offset <= resume.step < sc.offset + sc.steps:
                break
        else:
            raise ConfigError(f"saved state is already at step {resume.step} and this run takes {total} steps; "
                              f"raise --steps")
        hw = resume.image.shape[:2]
        if hw == sc.shape and resume.step > sc.offset:
            local = RunState(image=resume.image, step=resume.step - sc.offset, optimizer=sc.optimizer,
                             slots=list(resume.slots), history={}, fingerprint=resume.fingerprint)
            return k, local, None
        if resume.step == sc.offset and (hw == sc.shape or (k > 0 and hw == self.plan[k - 1].shape)):
            return k, None, resume.image
        raise ConfigError(f"saved state holds a {hw[1]}x{hw[0]} image at step {resume.step}, which is not "
                          f"a scale of this run (scales {','.join(str(s.size) for s in self.plan)})")

    def run(self, callback: Callable[[Progress], None] | None = None,
            resume: RunState | None = None) -> StylizeResult:
        """Optimise coarse to fine; see the module docstring.

        Args:
            callback: called with a :class:`tfstyle.progress.ScaleProgress` after every step.
            resume: a state of an earlier, unfinished run of the same images and settings.

        Raises:
            tfstyle.io.state.StateError: ``resume`` is from another run (other images or settings).
        """
        fingerprint = self.fingerprint
        if resume is not None and resume.fingerprint != fingerprint:
            raise StateError("saved state is from a run with other images or settings")
        t0 = time.perf_counter()
        total = sum(sc.steps for sc in self.plan)
        history = {k: list(v) for k, v in resume.history.items()} if resume else {}
        first, local, image = self.locate(resume) if resume is not None else (0, None, None)
        step = resume.step if resume else 0
        timings = {"setup": 0.0, "optimize": 0.0}
        evaluations, done_steps = 0, 0
        result = None

        def finish(image_now, state_image, step_now, slots, reason, message):
            out = images.resize(image_now, self.shape)
            state = RunState(image=state_image, step=step_now, optimizer=self.config.optimizer, slots=slots,
                             history=history, fingerprint=fingerprint)
            timings["per_step"] = timings["optimize"] / max(1, done_steps)
            return StylizeResult(image=out, history=history, timings=timings, steps=step_now,
                                 stop_reason=reason, message=message, weights=self.weights,
                                 policy=self.policy, evaluations=evaluations, state=state,
                                 scales=list(self.plan), convolutions=self.extractor.convolutions)

        for k in range(first, len(self.plan)):
            sc = self.plan[k]
            try:
                st = self.stylizer(k)
            except KeyboardInterrupt:
                if image is None:
                    raise  # nothing optimised yet: as an interrupt before the run started
                return finish(image, image, step, [], "interrupted",
                              f"interrupted at step {step} of {total} (setting up {sc.size} px)")
            timings["setup"] += st.setup_seconds
            base = dict(history)

            def relay(p, sc=sc, k=k, base=base):
                def state():
                    s = p.state()
                    return RunState(image=s.image, step=sc.offset + s.step, optimizer=self.config.optimizer,
                                    slots=s.slots, history=_concat(base, s.history), fingerprint=fingerprint)

                callback(ScaleProgress(sc.offset + p.step, total, p.loss, p.parts, time.perf_counter() - t0,
                                       state, size=sc.size, scale=k, n_scales=len(self.plan)))

            res = st.run(callback=relay if callback else None, resume=local, fingerprint=fingerprint,
                         start=image)
            del st
            gc.collect()  # free this scale's model and buffers before the next, larger one is built
            new_steps = res.steps - (local.step if local else 0)
            done_steps += new_steps
            history = _concat(base, res.history)
            timings["optimize"] += res.timings["optimize"]
            evaluations += res.evaluations
            local = None
            image = res.image
            if res.stop_reason in ("interrupted", "nonfinite"):
                step = sc.offset + res.steps
                msg = res.message.replace(f"at step {res.steps} of {sc.steps}",
                                          f"at step {step} of {total} ({sc.size} px)")
                # The state continues exactly: mid-scale from Adam's iterate (the best image lags it by
                # an update), on a scale's last step from the image the next scale would start from.
                state_image = image if res.steps >= sc.steps else res.state.image
                return finish(image, state_image, step, res.state.slots, res.stop_reason, msg)
            # A scale that L-BFGS ended early ("converged") still hands over to the next scale; the
            # last one (which Adam's --stop-margin may end early) counts the steps it ran.
            step = sc.offset + (res.steps if k == len(self.plan) - 1 else sc.steps)
            result = res
        reason = result.stop_reason if result is not None else "done"
        return finish(image, image, step, result.state.slots if result else [], reason,
                      result.message if result else "")


def _concat(a: dict[str, list[float]], b: dict[str, list[float]]) -> dict[str, list[float]]:
    out = {k: list(v) for k, v in a.items()}
    for k, v in b.items():
        out.setdefault(k, []).extend(v)
    return out


def stylize(content, style, config: StylizeConfig | None = None,
            callback: Callable[[Progress], None] | None = None,
            resume: RunState | None = None, weights: WeightsInfo | None = None,
            **arrays) -> StylizeResult:
    """Stylise ``content`` with ``style`` by optimising the image's pixels (Gatys et al.).

    Args:
        content: path or (H, W, 3) float RGB array in [0, 1].
        style: path or (H, W, 3) float RGB array in [0, 1], or a list of them (several styles,
            blended by ``config.style_blend`` or placed by ``config.style_masks``).
        config: settings; defaults to ``StylizeConfig()``.
        callback: called with a :class:`Progress` after every step.
        resume: a :class:`RunState` from an earlier, unfinished run of the same inputs and settings
            (``result.state`` of that run, e.g. saved with :func:`tfstyle.io.state.save_state`); a
            state of another run is refused with :class:`tfstyle.io.state.StateError`.
        weights: pre-resolved backbone weights (else resolved from ``config``).
        **arrays: ``init_image``, ``content_mask``, ``style_masks``: arrays in place of the files
            that ``config`` names (see :class:`Stylizer`).

    Returns:
        A :class:`tfstyle.progress.StylizeResult`; ``result.image`` is (H, W, 3) float32 RGB in [0, 1] with the longest
        side ``config.size``.

    Raises:
        tfstyle.io.images.ImageError, tfstyle.config.ConfigError, tfstyle.backbones.weights.BackboneError.
    """
    config = (config or StylizeConfig()).validate()
    c = as_image(content, "content")
    if isinstance(style, (list, tuple)):
        s = [as_image(x, f"style {i + 1}") for i, x in enumerate(style)]
    else:
        s = as_image(style, "style")
    # Coarse-to-fine when the size calls for it (one scale, i.e. plain Stylizer, below 512 px).
    return MultiScaleStylizer(c, s, config, weights, **arrays).run(callback=callback, resume=resume)


__all__ = ["MultiScaleStylizer", "auto_scales", "split_steps", "plan_scales", "stylize"]
