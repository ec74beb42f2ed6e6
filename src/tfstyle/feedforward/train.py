"""Training a feed-forward transform network for one style (Johnson et al. 2016).

The loss network (any backbone: ``TrainConfig.network``), its weights and the losses are the ones of
image optimisation (:class:`tfstyle.backbones.extractor.FeatureExtractor`,
:class:`tfstyle.objective.losses.StyleContentLoss`): the style Grams are computed once; each photo is
its own content target.

Training runs under a ``tf.distribute`` strategy (one device, MirroredStrategy over local devices,
or MultiWorkerMirroredStrategy from ``$TF_CONFIG``). Gradient accumulation is done inside each
replica: one update averages ``accumulate`` micro-batches and all-reduces once.

The library never prints: progress goes to ``callback(TrainProgress)``; the outcome is a
:class:`tfstyle.progress.TrainResult`. It writes only into ``model_dir``: ``checkpoints/`` (resumable state, every
``checkpoint_every`` steps, on Ctrl-C and at the end) and the model (``model.json`` +
``model.weights.h5``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import (CHECKPOINTS_TO_KEEP, NETWORK_PRESETS, TRAIN_PREVIEW_COUNT, ConfigError, NetworkConfig,
                      TrainConfig)
from ..io import images
from ..io.images import output_shape
from ..progress import TrainProgress, TrainResult
from .data import DataError, _DecodeStats, centre_crops, find_photos, photo_dataset, scan_photos
from .networks import MODEL_FILE, WEIGHTS_FILE, ModelError, build_transform_net, save_model_dir

CHECKPOINT_DIR = "checkpoints"
RUN_FILE = "run.json"  # inside CHECKPOINT_DIR: what a resumed run must match


# ------------------------------------------------------------------------------------ strategy

def tf_config_tasks() -> int:
    """Number of tasks in ``$TF_CONFIG``'s cluster (0 if unset or malformed)."""
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG", "")).get("cluster", {})
        return sum(len(v) for v in cluster.values())
    except (ValueError, AttributeError, TypeError):
        return 0


def make_strategy(name: str = "auto"):
    """The ``tf.distribute`` strategy for ``TrainConfig.strategy``.

    "mirrored" mirrors over all local GPUs, or over all logical CPU devices when there is no GPU
    (e.g. CPUs split with ``tf.config.set_logical_device_configuration``). Create the strategy
    before any other TensorFlow work: MultiWorkerMirroredStrategy must start the collective
    runtime first.
    """
    import tensorflow as tf

    if name == "auto":
        if tf_config_tasks() > 1:
            name = "multiworker"
        elif len(tf.config.list_physical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        if tf_config_tasks() < 1:
            raise ConfigError("--strategy multiworker needs $TF_CONFIG naming the cluster and this task")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(f"strategy must be auto, default, mirrored or multiworker, got {name!r}")


def _is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    cluster = resolver.cluster_spec().as_dict()
    if "chief" in cluster:
        return resolver.task_type == "chief"
    return resolver.task_type == "worker" and resolver.task_id == 0


# ---------------------------------------------------------------------------------- model dir

def prepare_model_dir(model_dir: str | os.PathLike, resume: bool = False, overwrite: bool = False) -> Path:
    """Check (before any work) that ``model_dir`` may be written.

    An existing model or checkpoints are kept unless ``overwrite`` (start afresh: they are removed)
    or ``resume`` (continue from the checkpoints, which must exist).

    Raises:
        ModelError: one line naming the folder.
    """
    d = Path(model_dir)
    if d.exists() and not d.is_dir():
        raise ModelError(f"{d}: exists and is not a folder")
    ckpt = d / CHECKPOINT_DIR
    has_ckpt = (ckpt / "checkpoint").is_file()
    if resume:
        if not has_ckpt:
            raise ModelError(f"{d}: no checkpoint to resume from")
        return d
    if (d / MODEL_FILE).exists() or (d / WEIGHTS_FILE).exists() or ckpt.exists():
        if not overwrite:
            raise ModelError(f"{d}: already holds a model (pass --overwrite to replace it, or --resume)")
        shutil.rmtree(ckpt, ignore_errors=True)
        for name in (MODEL_FILE, WEIGHTS_FILE):
            (d / name).unlink(missing_ok=True)
    parent = d.parent if str(d.parent) else Path(".")
    if not parent.is_dir():
        raise ModelError(f"{d}: parent folder {parent} does not exist")
    return d


def _run_fingerprint(style: np.ndarray, config: TrainConfig, net: NetworkConfig) -> str:
    # Settings that may change on --resume: the step target, the checkpoint period, the strategy, how
    # the loss network's convolutions run (the same arithmetic).
    fixed = dataclasses.replace(config, steps=1, checkpoint_every=1, strategy="auto", conv_algorithm="auto")
    h = hashlib.sha256(np.ascontiguousarray(style).tobytes())
    h.update(repr((fixed, net)).encode())
    return h.hexdigest()


# ------------------------------------------------------------------------------------- trainer

class Trainer:
    """Everything of one training run, built once: strategy, networks, style targets, data.

    Args:
        style: style image path or (H, W, 3) float RGB [0, 1].
        data_dir: folder of training photos (searched recursively).
        model_dir: output folder (see :func:`prepare_model_dir`; call it first).
        config: training settings.
        network: architecture override (default: ``NETWORK_PRESETS[config.arch]``).
        weights: pre-resolved loss-network weights (else resolved from ``config``).
        resume: continue from ``model_dir/checkpoints``.
        strategy: a ``tf.distribute`` strategy (else :func:`make_strategy` of ``config.strategy``).

    Raises:
        DataError, ConfigError, ModelError, ImageError, BackboneError.
    """

    def __init__(self, style, data_dir, model_dir, config: TrainConfig, network: NetworkConfig | None = None,
                 weights=None, resume: bool = False, strategy=None):
        self.config = config.validate()
        # The strategy first: MultiWorkerMirroredStrategy must start before other TF work.
        self.strategy = strategy or make_strategy(config.strategy)
        import keras
        import tensorflow as tf

        from ..backbones.extractor import FeatureExtractor
        from ..hardware import resolve_precision
        from ..backbones.weights import weights_for
        from ..objective.losses import StyleContentLoss

        t0 = time.perf_counter()
        c = self.config
        self.network = (network or NETWORK_PRESETS[c.arch]).validate()
        self.model_dir = Path(model_dir)
        self.data_dir = Path(data_dir)
        self.replicas = self.strategy.num_replicas_in_sync
        if c.batch_size % self.replicas:
            raise ConfigError(f"batch_size {c.batch_size} must be a multiple of the {self.replicas} replicas")
        self.is_chief = _is_chief(self.strategy)
        self._load_style(style)
        files, self.unreadable = scan_photos(find_photos(self.data_dir))
        self.files = files
        self.stats = _DecodeStats()
        self.fingerprint = self._fingerprint()
        self.resume = resume
        self.weights = weights_for(c, weights)
        self.policy = resolve_precision(c.precision)
        keras.utils.set_random_seed(c.seed)

        content_layers, style_layers = c.resolved_layers()
        style_layers = {n: w for n, w in style_layers if w > 0}
        self.content_layers = tuple(content_layers)
        self.style_layers = style_layers
        with self.strategy.scope():
            self._build_networks()
            self.extractor = FeatureExtractor(list(content_layers) + list(style_layers), self.weights,
                                              self.policy, pooling=c.resolved_pooling(self.weights.is_random),
                                              smoothing=c.resolved_smoothing(),
                                              temperature=c.smoothing_temperature, conv=c.conv_algorithm)
            opt = keras.optimizers.Adam(c.lr)
            if self.policy == "mixed_float16":  # float16 gradients underflow without loss scaling
                opt = keras.optimizers.LossScaleOptimizer(opt)
            self.opt = opt
            self.opt.build(self._variables())
            self.step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.loss = StyleContentLoss(
            content_targets={}, style_targets=self._style_targets(),
            style_layer_weights=style_layers, content_weight=c.content_weight,
            style_weight=c.style_weight, tv_weight=c.tv_weight)

        self.ckpt = tf.train.Checkpoint(optimizer=self.opt, step=self.step_var, **self._checkpointed())
        self.manager = tf.train.CheckpointManager(self.ckpt, str(self.model_dir / CHECKPOINT_DIR), max_to_keep=CHECKPOINTS_TO_KEEP)
        self.start_step = 0
        if resume:
            self._restore()
        self._previews = self._preview_photos()
        self._step_fn = tf.function(self._distributed_step)
        self.setup_seconds = time.perf_counter() - t0

    # -- what a kind of training defines (a per-style network here; feedforward/arbitrary_train.py)
    def _load_style(self, style) -> None:
        self.style = style if isinstance(style, np.ndarray) else images.load_image(style)
        self.style_name = "array" if isinstance(style, np.ndarray) else str(Path(style).resolve())

    def _fingerprint(self) -> str:
        return _run_fingerprint(self.style, self.config, self.network)

    def _build_networks(self) -> None:
        """Create the trained networks (inside the strategy's scope)."""
        self.model = build_transform_net(self.network, self.policy, seed=self.config.seed)

    def _variables(self) -> list:
        return self.model.trainable_variables

    def _checkpointed(self) -> dict:
        return {"model": self.model}

    def _style_targets(self) -> dict:
        """The style Grams, once. The style keeps its aspect ratio; Grams are per-pixel averages."""
        from ..objective.losses import gram

        style_img = images.resize(self.style, output_shape(self.style.shape[:2], self.config.style_size))
        sf = self.extractor(style_img[None])
        return {n: gram(sf[n]).numpy() for n in self.style_layers}

    # -- checkpoints
    def _run_file(self) -> Path:
        return self.model_dir / CHECKPOINT_DIR / RUN_FILE

    def _restore(self) -> None:
        latest = self.manager.latest_checkpoint
        if latest is None:
            raise ModelError(f"{self.model_dir}: no checkpoint to resume from")
        try:
            run = json.loads(self._run_file().read_text())
        except (OSError, ValueError):
            raise ModelError(f"{self._run_file()}: missing or corrupt; cannot resume") from None
        if run.get("fingerprint") != self.fingerprint:
            raise ModelError(f"{self.model_dir}: checkpoint is from another style, network or settings")
        try:
            self.ckpt.restore(latest).assert_existing_objects_matched()
        except Exception as e:  # noqa: BLE001 - TF raises several types for a bad checkpoint
            msg = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
            raise ModelError(f"{latest}: checkpoint does not load ({msg})") from None
        self.start_step = int(self.step_var.numpy())
        if self.start_step >= self.config.steps:
            raise ConfigError(f"checkpoint is already at step {self.start_step} of {self.config.steps}; "
                              f"raise --steps")

    def save(self, step: int) -> None:
        """Write a checkpoint and the model files (all workers must call it together)."""
        self.step_var.assign(step)
        self.model_dir.mkdir(parents=True, exist_ok=True)
        self.manager.save(checkpoint_number=step)
        run = {"fingerprint": self.fingerprint, "step": step}
        images.atomic_write(self._run_file(), lambda f: f.write(json.dumps(run).encode()))
        meta = {"style": self.style_name, "data": str(self.data_dir.resolve()), "steps": step,
                "image_size": self.config.image_size, "arch": self.config.arch,
                "policy": self.policy, "backbone": self.weights.source, "loss_network": self.weights.network,
                "train_config": json.loads(json.dumps(dataclasses.asdict(self.config)))}
        self._save_model(meta)

    def _save_model(self, meta: dict) -> None:
        save_model_dir(self.model, self.network, self.model_dir, meta)

    # -- steps
    def _replica_step(self, batches):
        """One update on this replica: ``batches`` is (accumulate, b, H, W, 3) (or a tuple of such)."""
        import tensorflow as tf

        n = self.config.accumulate
        variables = self._variables()

        def micro(i):
            return self._micro(tf.nest.map_structure(lambda t: t[i], batches), variables)

        total, parts, grads = micro(0)
        if n > 1:
            # Sum the rest one micro-batch at a time: only one micro-batch's activations are alive.
            def body(i, total_acc, parts_acc, grads_acc):
                t, p, g = micro(i)
                return (i + 1, total_acc + t, {k: parts_acc[k] + p[k] for k in parts_acc},
                        [a + b for a, b in zip(grads_acc, g)])

            _, total, parts, grads = tf.while_loop(lambda i, *_: i < n, body, (tf.constant(1), total, parts, grads))
            total = total / n
            parts = {k: v / n for k, v in parts.items()}
        self.opt.apply_gradients(zip(grads, variables))
        return total, parts

    def _scaled(self, total):
        """Keras's optimizer all-reduces with a SUM: divide by the replicas (and the micro-batches) so
        that the update uses the mean over the effective batch."""
        scaled = total / (self.replicas * self.config.accumulate)
        return self.opt.scale_loss(scaled) if hasattr(self.opt, "scale_loss") else scaled

    def _micro(self, images, variables):
        """Loss, its parts and the gradients of one micro-batch (B, H, W, 3)."""
        import tensorflow as tf

        content = self.extractor(images)  # the photo is its own content target (no gradient)
        content = {k: tf.stop_gradient(content[k]) for k in self.content_layers}
        with tf.GradientTape() as tape:
            out = self.model(images, training=True)
            total, parts = self.loss(self.extractor(out), out, content_targets=content)
            if self.config.temporal_weight > 0:
                temporal = self.config.temporal_weight * self._temporal_loss(images, out)
                total = total + temporal
                parts = {**parts, "temporal": temporal}
            scaled = self._scaled(total)
        return total, parts, tape.gradient(scaled, variables)

    def _temporal_loss(self, images, out, transform=None):
        """Synthetic-motion temporal loss (Huang et al. 2017; ReCoNet): the network's output of the
        photos moved by a small random affine motion (plus sensor noise) against its output of the
        photos moved the same way, mean squared difference over the pixels both images cover."""
        import tensorflow as tf

        from ..config import TEMPORAL_MAX_ANGLE, TEMPORAL_MAX_SHIFT, TEMPORAL_MAX_ZOOM, TEMPORAL_NOISE
        from ..objective.temporal import affine_warp, masked_mse, random_affine

        size = self.config.image_size
        motion = random_affine(tf.shape(images)[0], size, TEMPORAL_MAX_SHIFT * size, TEMPORAL_MAX_ANGLE,
                               TEMPORAL_MAX_ZOOM)
        moved, valid = affine_warp(images, motion)
        noisy = tf.clip_by_value(moved + tf.random.normal(tf.shape(moved), stddev=TEMPORAL_NOISE), 0.0, 1.0)
        out_moved = (transform or (lambda x: self.model(x, training=True)))(noisy)
        target, _ = affine_warp(out, motion)  # the first output, moved
        return masked_mse(out_moved, target, valid)

    def _distributed_step(self, batches):
        import tensorflow as tf

        total, parts = self.strategy.run(self._replica_step, args=(batches,))
        mean = tf.distribute.ReduceOp.MEAN
        return (self.strategy.reduce(mean, total, axis=None),
                {k: self.strategy.reduce(mean, v, axis=None) for k, v in parts.items()})

    def _preview_photos(self) -> np.ndarray:
        return np.stack(centre_crops(self.files, TRAIN_PREVIEW_COUNT, self.config.image_size))

    def preview(self) -> np.ndarray:
        """The preview photos through the current network, (N, H, W, 3) float32 RGB [0, 1]."""
        return np.asarray(self.model(self._previews, training=False), np.float32)

    def _dataset(self):
        c = self.config
        # A resumed run draws a fresh (but reproducible) stream rather than replaying the first batches.
        seed = c.seed + 1_000_003 * self.start_step

        def fn(ctx):
            per_replica = ctx.get_per_replica_batch_size(c.batch_size)
            return photo_dataset(self.files, c.image_size, per_replica, c.accumulate, seed,
                                 shard=(ctx.input_pipeline_id, ctx.num_input_pipelines), stats=self.stats)

        return self.strategy.distribute_datasets_from_function(fn)

    # -- loop
    def run(self, callback: Callable[[TrainProgress], None] | None = None) -> TrainResult:
        """Train to ``config.steps`` updates. Ctrl-C (KeyboardInterrupt) saves a checkpoint and returns
        with ``stop_reason == "interrupted"``."""
        import tensorflow as tf

        c = self.config
        step = self.start_step
        history: dict[str, list[float]] = {}
        stop, message = "done", ""
        t0 = time.perf_counter()
        images = 0
        per_update = c.batch_size * c.accumulate
        try:
            it = iter(self._dataset())
            while step < c.steps:
                try:
                    batches = next(it)
                except (StopIteration, tf.errors.OutOfRangeError):
                    raise DataError(f"{self.data_dir}: no readable photos (all {len(self.stats.bad)} "
                                    f"files with image headers failed to decode)") from None
                total, parts = self._step_fn(batches)
                loss = float(total)
                if not math.isfinite(loss):
                    stop = "nonfinite"
                    message = f"loss became {loss} at step {step + 1}; stopped (try a lower --lr)"
                    break
                step += 1
                images += per_update
                parts = {k: float(v) for k, v in parts.items()}
                history.setdefault("total", []).append(loss)
                for k, v in parts.items():
                    history.setdefault(k, []).append(v)
                if step % c.checkpoint_every == 0 and step < c.steps:
                    self.save(step)
                if callback is not None:
                    elapsed = time.perf_counter() - t0
                    callback(TrainProgress(step, c.steps, loss, parts, elapsed, images / max(elapsed, 1e-9),
                                           len(self.unreadable) + len(self.stats.bad), self.preview))
        except KeyboardInterrupt:
            stop = "interrupted"
            message = f"interrupted at step {step} of {c.steps}"
        if stop != "nonfinite" and step > self.start_step:
            self.save(step)
        elapsed = time.perf_counter() - t0
        return TrainResult(model_dir=self.model_dir, steps=step, stop_reason=stop, message=message,
                           history=history, unreadable=sorted(set(self.unreadable) | self.stats.bad),
                           replicas=self.replicas, is_chief=self.is_chief, policy=self.policy,
                           weights=self.weights, seconds=elapsed, images_per_second=images / max(elapsed, 1e-9))


def train(style, data_dir, model_dir, config: TrainConfig | None = None, network: NetworkConfig | None = None,
          callback: Callable[[TrainProgress], None] | None = None, resume: bool = False,
          overwrite: bool = False, weights=None, strategy=None) -> TrainResult:
    """Train a transform network for ``style`` on the photos in ``data_dir``; write it to ``model_dir``.

    See :class:`Trainer` for the arguments; ``overwrite`` replaces an existing model.
    """
    config = (config or TrainConfig()).validate()
    prepare_model_dir(model_dir, resume=resume, overwrite=overwrite)
    return Trainer(style, data_dir, model_dir, config, network=network, weights=weights, resume=resume,
                   strategy=strategy).run(callback)


__all__ = ["Trainer", "make_strategy", "prepare_model_dir", "train"]
