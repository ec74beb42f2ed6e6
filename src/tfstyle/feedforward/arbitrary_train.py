"""Training an arbitrary-style model (Ghiasi et al. 2017) on a folder of photos and one of paintings.

Everything of per-style training (:class:`tfstyle.feedforward.train.Trainer`) holds: the same loss
network and scaled losses, ``tf.distribute``, gradient accumulation, resumable checkpoints, previews,
bad files skipped and counted. What differs:

* each photo of a micro-batch is paired with a painting drawn from ``--styles`` (searched recursively),
  cropped and augmented as Ghiasi et al. did (random crop and flips, brightness, saturation, contrast
  and hue: ``STYLE_AUG_*`` in config);
* that painting's Grams (computed per step, no gradient) are the style targets of its photo's output;
* the prediction network's bottleneck and the conditional transformer are trained together; its
  backbone too with ``tune_predictor`` (as in the paper; its batch normalisations keep their
  statistics: they run in inference mode);
* a few paintings are held out of training (``ANYSTYLE_HELD_OUT``) and shown in the previews, so the
  previews say whether the model generalises to paintings it has not seen.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import (ANYSTYLE_HELD_OUT, PREDICTOR_AUTO, STYLE_AUG_BRIGHTNESS, STYLE_AUG_CONTRAST, STYLE_AUG_HUE,
                      STYLE_AUG_SATURATION, STYLE_DECODE_MAX, ArbitraryConfig, NetworkConfig, TrainConfig)
from ..io import images
from ..progress import TrainProgress, TrainResult
from .arbitrary import PREDICTOR_WEIGHTS_FILE, build_predictor, build_transformer, save_arbitrary_dir
from .data import DataError, centre_crops, find_images, photo_dataset
from .train import Trainer, prepare_model_dir


def find_styles(folder: str | os.PathLike) -> tuple[list[Path], list[Path]]:
    """The paintings under ``folder`` (recursively): (readable, unreadable).

    A painting is readable when Pillow reads its header and its smaller side is at least
    ``MIN_SIDE`` (a 1 x 50000 px strip is not a painting); at least one must also decode.

    Raises:
        DataError: no folder, no image files, or none readable (one line).
    """
    from .data import scan_photos

    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: style folder does not exist" if not root.exists() else
                        f"{root}: --styles must be a folder of paintings")
    files = find_images(root)
    if not files:
        raise DataError(f"{root}: holds no image files (.jpg, .png, .webp, ...) to use as styles")
    try:
        ok, bad = scan_photos(files)
    except DataError:
        raise DataError(f"{root}: no readable paintings among {len(files)} image files") from None
    for f in ok:
        try:
            images.load_image(f, shrink_to=64)
            return ok, bad
        except images.ImageError:
            continue
    raise DataError(f"{root}: no readable paintings among {len(files)} image files (none decodes)")


def style_augment(img, seed):
    """Ghiasi et al.'s style augmentation on one (S, S, 3) crop in [0, 1], stateless (``seed`` (2,)
    int32): a vertical flip, brightness, saturation, contrast and hue (the horizontal flip is the
    crop's)."""
    import tensorflow as tf

    img = tf.image.stateless_random_flip_up_down(img, seed=seed + [1, 0])
    img = tf.image.stateless_random_brightness(img, STYLE_AUG_BRIGHTNESS, seed=seed + [2, 0])
    img = tf.image.stateless_random_saturation(img, *STYLE_AUG_SATURATION, seed=seed + [3, 0])
    img = tf.image.stateless_random_contrast(img, *STYLE_AUG_CONTRAST, seed=seed + [4, 0])
    img = tf.image.stateless_random_hue(img, STYLE_AUG_HUE, seed=seed + [5, 0])
    return tf.clip_by_value(img, 0.0, 1.0)


def split_held_out(files: list[Path], count: int, seed: int) -> tuple[list[Path], list[Path]]:
    """(training, held out): ``count`` paintings drawn with ``seed`` are held out, if at least two stay
    for training; else none."""
    if len(files) < count + 2 or count <= 0:
        return list(files), []
    order = np.random.default_rng(seed).permutation(len(files))
    held = sorted(files[i] for i in order[:count])
    return [f for f in files if f not in held], held


class ArbitraryTrainer(Trainer):
    """One arbitrary-style training run. Arguments as :class:`Trainer`'s, with ``styles`` a folder of
    paintings instead of one style, and:

    Args:
        arbitrary: the style vector's size, the prediction network and the style images' side.
        predictor_weights: pre-resolved ImageNet weights of the prediction network (a
            :class:`tfstyle.backbones.weights.WeightsInfo`; else resolved from ``config.backbone``).

    Raises:
        DataError (no readable paintings or photos), ConfigError, ModelError, BackboneError.
    """

    def __init__(self, styles, data_dir, model_dir, config: TrainConfig, arbitrary: ArbitraryConfig | None = None,
                 network: NetworkConfig | None = None, weights=None, predictor_weights=None, resume: bool = False,
                 strategy=None):
        self.arbitrary = (arbitrary or ArbitraryConfig()).validate()
        self._given_predictor_weights = predictor_weights
        self.predictor_choice = ""  # why "auto" chose another network than PREDICTOR_AUTO
        super().__init__(styles, data_dir, model_dir, config, network=network, weights=weights, resume=resume,
                         strategy=strategy)
        self.unreadable = self.unreadable + self.unreadable_styles  # skipped and counted as photos are

    @property
    def predictor_notice(self) -> str:
        """One line on the prediction network and where its weights came from."""
        w = self.predictor_weights.notice
        return f"{self.predictor_choice}; {w}" if self.predictor_choice else w

    # -- the hooks of Trainer
    def _load_style(self, styles) -> None:
        self.styles_dir = Path(styles)
        readable, self.unreadable_styles = find_styles(self.styles_dir)
        self.style_files, self.held_out = split_held_out(readable, ANYSTYLE_HELD_OUT, self.config.seed)
        self.style_name = str(self.styles_dir.resolve())

    def _fingerprint(self) -> str:
        fixed = dataclasses.replace(self.config, steps=1, checkpoint_every=1, strategy="auto", conv_algorithm="auto")
        h = hashlib.sha256(repr((fixed, self.network, self.arbitrary)).encode())  # tune_predictor included
        for f in self.style_files:
            h.update(f"{f.relative_to(self.styles_dir)}:{f.stat().st_size}\n".encode())
        return h.hexdigest()

    def _build_networks(self) -> None:
        from ..backbones.weights import resolve_weights

        c, a = self.config, self.arbitrary
        backbone = "imagenet" if c.backbone == "vgg19" else c.backbone  # the older spelling names VGG19 only
        pw = self._given_predictor_weights
        if a.predictor == "auto":  # PREDICTOR_AUTO where its ImageNet weights are found, else PREDICTOR_FALLBACK
            if pw is None or pw.network != PREDICTOR_AUTO:
                found = resolve_weights(backbone, None, PREDICTOR_AUTO)
            else:
                found = pw
            a = self.arbitrary = a.resolved(not found.is_random)
            if a.predictor == PREDICTOR_AUTO:
                pw = found
            else:
                pw = pw if pw is not None and pw.network == a.predictor else None
                self.predictor_choice = (f"prediction network {a.predictor} to {a.cut} (without ImageNet weights "
                                         f"{PREDICTOR_AUTO}'s features do not tell styles apart)")
        self.predictor_weights = pw or resolve_weights(backbone, None, a.predictor)
        self.predictor = build_predictor(a, self.predictor_weights.path, policy=self.policy, seed=c.seed)
        self.predictor.get_layer("predictor_trunk").trainable = a.tune_predictor
        self.model = build_transformer(self.network, a.style_dim, self.policy, seed=c.seed)

    def _variables(self) -> list:
        return self.predictor.trainable_variables + self.model.trainable_variables

    def _checkpointed(self) -> dict:
        return {"model": self.model, "predictor": self.predictor}

    def _style_targets(self) -> dict:
        return {}  # per step, from each photo's painting

    def _micro(self, batch, variables):
        """``batch`` is (photos, paintings), each (B, S, S, 3): photo i is stylised with painting i."""
        import tensorflow as tf

        from ..objective.losses import gram

        photos, styles = batch
        content = self.extractor(photos)
        content = {k: tf.stop_gradient(content[k]) for k in self.content_layers}
        sf = self.extractor(styles)
        grams = {n: tf.stop_gradient(gram(sf[n])) for n in self.style_layers}  # (B, C, C) per painting
        with tf.GradientTape() as tape:
            # Batch normalisations of the backbone in inference mode: their statistics stay ImageNet's
            # (or the random variant's calibrated ones); every weight is trained.
            v = self.predictor(styles, training=False)
            out = self.model([photos, v], training=True)
            total, parts = self.loss(self.extractor(out), out, content_targets=content, style_targets=grams)
            if self.config.temporal_weight > 0:
                temporal = self.config.temporal_weight * self._temporal_loss(
                    photos, out, transform=lambda x: self.model([x, v], training=True))
                total = total + temporal
                parts = {**parts, "temporal": temporal}
            scaled = self._scaled(total)
        return total, parts, tape.gradient(scaled, variables)

    def _dataset(self):
        import tensorflow as tf

        c, size = self.config, self.config.image_size
        seed = c.seed + 1_000_003 * self.start_step

        def fn(ctx):
            per_replica = ctx.get_per_replica_batch_size(c.batch_size)
            shard = (ctx.input_pipeline_id, ctx.num_input_pipelines)
            photos = photo_dataset(self.files, size, per_replica, c.accumulate, seed, shard=shard, stats=self.stats)
            # Paintings at the photos' crop size (Ghiasi et al.: 256 px both), decoded larger so that the
            # random crop sees a part of the painting, not all of it shrunk.
            styles = photo_dataset(self.style_files, size, per_replica, c.accumulate, seed + 17, shard=shard,
                                   stats=self.stats, augment=style_augment, decode_max=min(STYLE_DECODE_MAX, 2 * size))
            return tf.data.Dataset.zip((photos, styles))

        return self.strategy.distribute_datasets_from_function(fn)

    def _preview_photos(self) -> np.ndarray:
        size = self.config.image_size
        self._preview_styles = np.stack(centre_crops(self.held_out or self.style_files, 2, size))
        return np.stack(centre_crops(self.files, 2, size))

    def preview(self) -> np.ndarray:
        """Each preview photo with each held-out painting (photos x paintings), (N, H, W, 3) in [0, 1]."""
        v = np.asarray(self.predictor(self._preview_styles, training=False))
        k, n = len(v), len(self._previews)
        photos = np.repeat(self._previews, k, axis=0)
        vectors = np.tile(v, (n, 1))
        return np.asarray(self.model([photos, vectors], training=False), np.float32)

    def _save_model(self, meta: dict) -> None:
        meta = {**meta, "styles": len(self.style_files),
                "held_out_styles": [str(f.relative_to(self.styles_dir)) for f in self.held_out],
                "predictor_weights": self.predictor_weights.source}
        save_arbitrary_dir(self.predictor, self.model, self.network, self.arbitrary, self.model_dir, meta)


def train_arbitrary(styles, data_dir, model_dir, config: TrainConfig | None = None,
                    arbitrary: ArbitraryConfig | None = None, network: NetworkConfig | None = None,
                    callback: Callable[[TrainProgress], None] | None = None, resume: bool = False,
                    overwrite: bool = False, weights=None, predictor_weights=None, strategy=None) -> TrainResult:
    """Train an arbitrary-style model on the paintings under ``styles`` and the photos under
    ``data_dir``; write it to ``model_dir``. See :class:`ArbitraryTrainer`."""
    config = (config or TrainConfig()).validate()
    prepare_arbitrary_dir(model_dir, resume=resume, overwrite=overwrite)
    return ArbitraryTrainer(styles, data_dir, model_dir, config, arbitrary, network=network, weights=weights,
                            predictor_weights=predictor_weights, resume=resume, strategy=strategy).run(callback)


def prepare_arbitrary_dir(model_dir, resume: bool = False, overwrite: bool = False) -> Path:
    """:func:`prepare_model_dir`, and an overwritten model's prediction weights removed too."""
    d = prepare_model_dir(model_dir, resume=resume, overwrite=overwrite)
    if overwrite and not resume:
        (d / PREDICTOR_WEIGHTS_FILE).unlink(missing_ok=True)
    return d


def describe_run(trainer: ArbitraryTrainer) -> str:
    """One line about the paintings of a run (for the command line)."""
    held = f", {len(trainer.held_out)} held out for previews" if trainer.held_out else ""
    a, w = trainer.arbitrary, trainer.predictor_weights
    kind = "fixed-seed random" if w.is_random else "ImageNet"
    return (f"{len(trainer.style_files)} painting(s) for training{held}; prediction network {a.predictor} to {a.cut} "
            f"({kind} weights)")


__all__ = ["ArbitraryTrainer", "describe_run", "find_styles", "prepare_arbitrary_dir", "split_held_out",
           "style_augment", "train_arbitrary"]
