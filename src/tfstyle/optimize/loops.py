"""The optimisation loops: Adam with a decaying rate, or SciPy's L-BFGS-B with [0, 1] box bounds.

A loop drives one :class:`tfstyle.optimize.stylizer.Stylizer` (its ``_value_and_grad``, ``shape``,
``config``) from a start image for ``config.steps`` steps. It keeps the history and the best image,
reports :class:`tfstyle.progress.Progress` after every step, stops on Ctrl-C (KeyboardInterrupt) with
the best image so far, and returns a :class:`tfstyle.progress.StylizeResult`. It knows nothing of
scales or tiles: the planner (tfstyle.optimize.multiscale) drives stylizers, which drive loops.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..config import ADAM_EPSILON, AUTO_WINDOW, LBFGS_HISTORY, OPTIMIZERS_REGISTRY, ConfigError
from ..progress import Progress, RunState, StylizeResult


class Run:
    """Shared bookkeeping of one optimisation loop: history, best image, progress, stopping."""

    def __init__(self, st: Stylizer, start, first_step, history, callback, resume, fingerprint):
        self.st = st
        self.steps = st.config.steps
        self.step = first_step
        self.history = history
        self.callback = callback
        self.resume = resume
        self.fingerprint = fingerprint
        self.best_loss = math.inf
        self.best_image = start.copy()
        self.evaluations = 0
        self.stop_reason = "done"
        self.message = ""
        self.t0 = time.perf_counter()

    def record(self, loss: float, parts: dict[str, float], notify: bool = True) -> None:
        # History first, then the step: an interrupt between the two leaves extra entries, which
        # state() trims, never a step without its history.
        self.history.setdefault("total", []).append(loss)
        for k, v in parts.items():
            self.history.setdefault(k, []).append(v)
        self.step += 1
        if notify:
            self.notify(loss, parts)

    def notify(self, loss: float, parts: dict[str, float]) -> None:
        if self.callback is not None:
            self.callback(Progress(self.step, self.steps, loss, parts, time.perf_counter() - self.t0,
                                   self.state))

    def state(self) -> RunState:
        step = self.done()
        return RunState(image=self.resume_image(), step=step, optimizer=self.st.config.optimizer,
                        slots=self.slots(), history={k: list(v[:step]) for k, v in self.history.items()},
                        fingerprint=self.fingerprint)

    def done(self) -> int:
        return self.step

    def resume_image(self) -> np.ndarray:
        return self.best_image.copy()

    def slots(self) -> list[np.ndarray]:
        return []

    def settle(self) -> None:
        """After the last step: take what the last step left into the best image (nothing here)."""

    def nonfinite(self, loss: float, grad_finite: bool = True, what: str = "") -> bool:
        if not what:
            if math.isfinite(loss) and grad_finite:
                return False
            what = f"loss became {loss}" if not math.isfinite(loss) else "the gradient became NaN or Inf"
            what += f" at step {self.step + 1}"
        self.stop_reason = "nonfinite"
        self.message = f"{what}; stopped and kept the last finite image (try a lower --lr or other weights)"
        return True

    def execute(self) -> StylizeResult:
        try:
            if self.step < self.steps:
                self.loop()
        except KeyboardInterrupt:
            self.stop_reason = "interrupted"
            self.message = f"interrupted at step {self.step} of {self.steps}"
            if self.done() >= self.steps:
                # Every step ran: the best image is chosen as at a normal end, so that a coarse scale
                # interrupted on its last step hands the next scale the same image on resume.
                try:
                    self.settle()
                except KeyboardInterrupt:
                    pass
        elapsed = time.perf_counter() - self.t0
        state = self.state()
        done = max(1, state.step - (self.resume.step if self.resume else 0))
        return StylizeResult(
            image=self.best_image, history=state.history,
            timings={"setup": self.st.setup_seconds, "optimize": elapsed, "per_step": elapsed / done},
            steps=state.step, stop_reason=self.stop_reason, message=self.message, weights=self.st.weights,
            policy=self.st.policy, evaluations=self.evaluations, state=state,
            convolutions=self.st.extractor.convolutions,
        )


def _to_floats(parts) -> dict[str, float]:
    return {k: float(v) for k, v in parts.items()}


def learning_rate(lr: float, lr_decay: float, schedule: str, step, total: int, cooldown: float = 0.2):
    """Adam's rate at ``step`` (0-based, a number or a tensor) of a ``total``-step run: from ``lr`` at
    step 0 to ``lr * lr_decay`` at step ``total``, exponentially (``lr * lr_decay^(step / total)``),
    along half a cosine wave (``lr * (lr_decay + (1 - lr_decay) * (1 + cos(pi * step / total)) / 2)``,
    Loshchilov & Hutter's SGDR without restarts), or ``wsd``: ``lr`` held until the last ``cooldown``
    fraction of the run, then half a cosine wave down to ``lr * lr_decay`` over that fraction
    (:func:`wsd_rate`)."""
    import tensorflow as tf

    if schedule == "wsd":
        return wsd_rate(lr, lr_decay, step, total * (1.0 - cooldown), total * cooldown)
    t = tf.cast(step, tf.float32) / float(max(total, 1))
    if schedule == "cosine":
        return lr * (lr_decay + (1.0 - lr_decay) * 0.5 * (1.0 + tf.cos(np.pi * t)))
    return lr * tf.pow(tf.constant(lr_decay, tf.float32), t)


def wsd_rate(lr: float, lr_decay: float, step, decay_at, decay_steps):
    """Warm-up, stable, decay (Hu et al. 2024; Haegele et al. 2024), without the warm-up: ``lr`` until
    step ``decay_at``, then half a cosine wave to ``lr * lr_decay`` over ``decay_steps`` steps. A run of
    any length spends its steps at the full rate and still ends annealed, where a schedule that decays
    over the whole budget leaves a short run behind the same steps of a long one."""
    import tensorflow as tf

    u = (tf.cast(step, tf.float32) - decay_at) / tf.maximum(tf.cast(decay_steps, tf.float32), 1e-9)
    u = tf.clip_by_value(u, 0.0, 1.0)
    return lr * (lr_decay + (1.0 - lr_decay) * 0.5 * (1.0 + tf.cos(np.pi * u)))


def plateau(losses, window: int, margin: float) -> bool:
    """Whether the best of ``losses`` fell by less than ``margin`` (a fraction of it) over the last
    ``window`` of them (False until there are more than ``window``)."""
    if len(losses) <= window:
        return False
    before = min(losses[:-window])
    return before - min(losses) < margin * abs(before)


def _keras_schedule(lr, lr_decay, schedule, offset, total, cooldown):
    """A Keras schedule of :func:`learning_rate` for the steps ``offset``.. of a ``total``-step run (a
    scale of a coarse-to-fine run is one segment of the whole run's schedule). A ``wsd`` schedule
    keeps where its decay starts and how long it lasts in variables, so that an early stop
    (``stop_margin``) can move the decay to where it stops."""
    import keras
    import tensorflow as tf

    class Schedule(keras.optimizers.schedules.LearningRateSchedule):
        def __init__(self):
            self.decay_at = tf.Variable(total * (1.0 - cooldown), trainable=False, dtype=tf.float32)
            self.decay_steps = tf.Variable(total * cooldown, trainable=False, dtype=tf.float32)

        def __call__(self, step):
            if schedule == "wsd":
                return wsd_rate(lr, lr_decay, step + offset, self.decay_at, self.decay_steps)
            return learning_rate(lr, lr_decay, schedule, step + offset, total, cooldown)

        def get_config(self):
            return {"lr": lr, "lr_decay": lr_decay, "schedule": schedule, "offset": offset, "total": total,
                    "cooldown": cooldown}

    return Schedule()


class AdamRun(Run):
    """Adam on the [0, 1] image, the learning rate falling from lr to lr*lr_decay at the last step
    (:func:`learning_rate`), projected back into [0, 1] after every step."""

    def __init__(self, st, start, *args):
        import keras
        import tensorflow as tf

        super().__init__(st, start, *args)
        c = st.config
        self.var = tf.Variable(start[None], dtype=tf.float32)
        offset, total = st.schedule_span or (0, c.steps)
        # A scale of a coarse-to-fine run holds a segment of a longer schedule.
        schedule = c.resolved_lr_schedule(coarse_to_fine=total != c.steps)
        self.schedule = _keras_schedule(c.resolved_lr(), c.lr_decay, schedule, offset, total, c.lr_cooldown)
        sched = self.schedule
        # --stop-margin: the scale that holds the schedule's end watches its loss (stop_early()).
        self.watch = c.stop_margin > 0 and offset + c.steps == total
        self.offset, self.total = offset, total
        # epsilon: per-pixel gradients of a mean-based loss are ~1e-6; Keras's 1e-7 would damp them.
        self.opt = keras.optimizers.Adam(learning_rate=sched, epsilon=ADAM_EPSILON)
        self.opt.build([self.var])
        if self.resume is not None and self.resume.slots:
            shapes = [tuple(v.shape) for v in self.opt.variables]
            if [tuple(np.shape(a)) for a in self.resume.slots] != shapes:
                raise ConfigError("saved optimiser state does not match Adam's variables")
            for v, a in zip(self.opt.variables, self.resume.slots):
                v.assign(a)
            if int(self.opt.iterations.numpy()) != self.step:
                raise ConfigError(f"saved optimiser state has {int(self.opt.iterations.numpy())} updates, "
                                  f"the saved step is {self.step}")
        self._apply_fn = tf.function(self._apply_impl, autograph=False)
        # --iterate-average: the iterates after the last ``n_average`` updates are summed, and their
        # mean is the output where its loss is lower than the best iterate's (settle()).
        n_average = round(c.iterate_average * c.steps)
        self.average_from = c.steps - n_average if n_average else None
        self.average_sum, self.average_n = None, 0

    def _apply_impl(self, grad):
        """One Adam update; undone (returns False) if it overflows, so the state stays resumable."""
        import tensorflow as tf

        keep = [self.var, *self.opt.variables]
        saved = [tf.identity(v) for v in keep]
        self.opt.apply_gradients([(grad, self.var)])
        self.var.assign(tf.clip_by_value(self.var, 0.0, 1.0))
        ok = tf.reduce_all([tf.reduce_all(tf.math.is_finite(tf.cast(v, tf.float32))) for v in keep])
        for v, old in zip(keep, saved):
            v.assign(tf.where(ok, v, old))
        return ok

    def stop_early(self) -> None:
        """The loss stopped improving by the margin: the rate decays over ``lr_cooldown`` of the steps
        run (as a run of this length would end, a wsd schedule's decay moves here), then the run ends.
        A run already in its decay just finishes it."""
        c, self.watch = self.st.config, False
        here = self.offset + self.step  # in schedule steps
        if here >= float(self.schedule.decay_at.numpy()):
            return
        cool = min(self.total - here, max(1, round(self.step * c.lr_cooldown / max(1e-9, 1.0 - c.lr_cooldown))))
        self.schedule.decay_at.assign(float(here))
        self.schedule.decay_steps.assign(float(cool))
        self.steps = self.step + cool
        self.stop_reason = "converged"
        self.message = (f"stopped after {self.steps} steps: the loss fell by less than "
                        f"{c.stop_margin:.3g} of itself over {AUTO_WINDOW} steps (--stop-margin)")

    def done(self) -> int:
        # Adam's own update counter is the truth: an interrupt may land after the step was
        # recorded but before its update was applied.
        return int(self.opt.iterations.numpy())

    def resume_image(self) -> np.ndarray:
        return self.var.numpy()[0]

    def slots(self) -> list[np.ndarray]:
        return [np.array(v.numpy()) for v in self.opt.variables]

    def loop(self) -> None:
        import tensorflow as tf

        while self.step < self.steps:
            # Measure, record, then update: the loss belongs to the image before the update, and a
            # non-finite loss or gradient never reaches the optimiser's state.
            total, parts, grad = self.st._value_and_grad(self.var)
            if not tf.is_tensor(grad):  # a tiled objective computes its gradient on demand
                grad = tf.constant(grad.numpy())
            self.evaluations += 1
            loss = float(total)
            if self.nonfinite(loss, bool(tf.reduce_all(tf.math.is_finite(grad)))):
                return
            if loss < self.best_loss:
                self.best_loss = loss
                self.best_image = self.var.numpy()[0]
            floats = _to_floats(parts)
            self.record(loss, floats, notify=False)
            if not bool(self._apply_fn(grad)):  # the step's loss stays in the history, trimmed by state()
                self.nonfinite(loss, what=f"the Adam update overflowed to NaN or Inf at step {self.step}")
                return
            if self.watch and plateau(self.history["total"], AUTO_WINDOW, self.st.config.stop_margin):
                self.stop_early()
            if self.average_from is not None and self.step > self.average_from:
                image = self.var.numpy()[0]
                self.average_sum = image.astype(np.float64) if self.average_sum is None else self.average_sum + image
                self.average_n += 1
            self.notify(loss, floats)
        self.settle()

    def settle(self) -> None:
        # The final update has no loss of its own yet; keep it if it is at least as good.
        total, _, _ = self.st._value_and_grad(self.var)
        if math.isfinite(float(total)) and float(total) <= self.best_loss:
            self.best_loss = float(total)
            self.best_image = self.var.numpy()[0]
        if self.average_n:
            # Scored through the variable (the compiled objective's own input), which keeps Adam's
            # iterate: a run resumed after this continues from it.
            last = self.var.numpy()
            mean = (self.average_sum / self.average_n).astype(np.float32)
            self.var.assign(mean[None])
            total, _, _ = self.st._value_and_grad(self.var)
            self.var.assign(last)
            if math.isfinite(float(total)) and float(total) < self.best_loss:
                self.best_loss = float(total)
                self.best_image = mean


class LBFGSRun(Run):
    """SciPy's L-BFGS-B on the flattened image with [0, 1] box bounds (no clamping between steps),
    driving the compiled TensorFlow value-and-gradient function."""

    def loop(self) -> None:
        import scipy.optimize
        import tensorflow as tf

        shape = (1, *self.st.shape, 3)
        last = {}

        def fun(x):
            t = tf.constant(x.reshape(shape), tf.float32)
            total, parts, grad = self.st._value_and_grad(t)
            self.evaluations += 1
            loss = float(total)
            g = grad.numpy().astype(np.float64).ravel()
            if not (math.isfinite(loss) and np.isfinite(g).all()):
                raise _NonFinite(loss)
            last["parts"] = parts
            if loss < self.best_loss:
                self.best_loss = loss
                self.best_image = x.reshape(shape[1:]).astype(np.float32)
            return loss, g

        def on_iter(intermediate_result):
            self.record(float(intermediate_result.fun), _to_floats(last["parts"]))

        x0 = self.best_image.astype(np.float64).ravel()
        remaining = self.steps - self.step
        try:
            res = scipy.optimize.minimize(
                fun, x0, jac=True, method="L-BFGS-B", bounds=scipy.optimize.Bounds(0.0, 1.0),
                callback=on_iter,
                # Per-pixel gradients are tiny (~1e-6): SciPy's default gtol would stop at once.
                options={"maxiter": remaining, "maxfun": remaining * 2 + 20, "ftol": 0.0, "gtol": 0.0,
                         "maxcor": LBFGS_HISTORY},
            )
        except _NonFinite as e:
            self.nonfinite(e.loss, grad_finite=False)
            return
        if self.step < self.steps:
            self.stop_reason = "converged"
            self.message = f"L-BFGS stopped after {self.step} of {self.steps} steps: {res.message}"


class _NonFinite(Exception):
    def __init__(self, loss):
        super().__init__(loss)
        self.loss = loss


def loop_class(optimizer: str) -> type[Run]:
    """The loop of an optimiser name, from ``tfstyle.config.OPTIMIZERS_REGISTRY`` (its implementation
    is imported on first use)."""
    import importlib

    if optimizer not in OPTIMIZERS_REGISTRY:
        raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS_REGISTRY)}, got {optimizer!r}")
    module, _, cls = OPTIMIZERS_REGISTRY[optimizer].implementation.partition(":")
    return getattr(importlib.import_module(module), cls)


__all__ = ["Run", "AdamRun", "LBFGSRun", "loop_class", "learning_rate"]
