"""The two baselines of the speed benchmark, written as their sources write their loops, plus the
reference objective every method minimises and is scored with.

These are benchmark baselines, not library code: they deliberately keep the sources' loop choices
(caffe-space image variable, targets recomputed every step, eager execution, Adam's settings).

* **article loop**: the popular blog-post loop: eager TensorFlow (no ``tf.function``); inside every
  step the content image, the style image and the generated image each go through VGG19 (three
  forward passes); Gram = einsum / number of locations; the image variable lives in caffe space
  (BGR, mean-subtracted 0..255) and is optimised with ``Adam(5, beta_1=0.99, epsilon=1e-1)``,
  clipped to the caffe range after each step; the loss is read every step (to keep the best image).
* **tutorial loop**: tensorflow.org's ``neural_style_transfer`` tutorial: targets computed once,
  float32, a [0, 1] image variable, ``Adam(0.02, beta_1=0.99, epsilon=1e-1)``, ``@tf.function``
  train step, ``clip_0_1`` after each step.

Both use the tutorial's layers: content ``block5_conv2``, style ``block1_conv1`` .. ``block5_conv1``,
and the same VGG19 weights as tfstyle (``tfstyle.backbones.extractor.build_model``), so only the loops differ.

**The reference objective** (:func:`objective`) is what every loop minimises, tfstyle's included
(``reference_config``), and what "time to quality" scores: the tutorial's ``style_content_loss`` on
those layers with each layer's mean squared error divided by its target's mean square
(``mean((G-A)^2) / mean(A^2)``, ``mean((F-P)^2) / mean(P^2)``), plus a squared total variation
(``(mean(dy^2) + mean(dx^2)) * sqrt(H*W) / 256`` of the [0, 1] image), with style weight 10, content
weight 1 and total-variation weight 1 (tfstyle's defaults), times ``SCALE``. In short: tfstyle's
default loss on the tutorial's layers.

Why not the tutorial's raw weights (style 1e-2, content 1e4, L1 total variation 30): on the
random-weight VGG19 the benchmark has to use, that objective is degenerate. Measured at 512 px:
after 500 tutorial steps its style + content value was 956,465 against 957,679 for the untouched
content image (0.13% lower; the total variation term dominated and the style term hardly moved),
so "reaching the tutorial's value" would mean doing nothing. Scaling each layer by its target's
magnitude makes every layer count on any backbone (``tfstyle.objective.losses``). The total variation term is
part of every style-transfer loss these loops come from; it is the same smooth one for every method.

``SCALE`` (1e7) makes the baselines' ``epsilon=0.1`` negligible beside their gradients, so their
Adam is scale-free, as its tuning on the raw loss assumes: over 60 tutorial steps at 256 px the
objective took the same values within 0.3% with 1e7 and 1e9, up to 3.5% higher with 1e5 and up to
2x higher with 1e3. (Any constant multiple is the same objective to L-BFGS.)
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

CONTENT_LAYERS = ["block5_conv2"]
STYLE_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
STYLE_WEIGHT = 10.0
CONTENT_WEIGHT = 1.0
TV_WEIGHT = 1.0
SCALE = 1e7
# caffe / keras.applications.vgg19.preprocess_input constants (the baselines' own, as in their sources).
_BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)


def vgg_layers(info, layer_names):
    """The tutorial's ``vgg_layers``: VGG19 outputs at ``layer_names`` (Keras keeps only the layers
    those outputs need, so it is truncated after the deepest one, as tfstyle's extractor is)."""
    from tfstyle.backbones.extractor import build_model

    vgg = build_model(info, "float32")
    vgg.trainable = False
    return tf.keras.Model(vgg.input, [vgg.get_layer(n).output for n in layer_names])


def gram_matrix(input_tensor):
    """The tutorial's Gram: einsum over locations, divided by their number. (B, C, C)."""
    result = tf.linalg.einsum("bijc,bijd->bcd", input_tensor, input_tensor)
    shape = tf.shape(input_tensor)
    return result / tf.cast(shape[1] * shape[2], tf.float32)


def caffe_preprocess(rgb255):
    """``vgg19.preprocess_input`` for a (B, H, W, 3) RGB 0..255 tensor: BGR, mean subtracted."""
    return tf.reverse(rgb255, axis=[-1]) - _BGR_MEAN


def caffe_deprocess(bgr):
    """Inverse of :func:`caffe_preprocess`, to a [0, 1] RGB numpy image (H, W, 3)."""
    x = np.asarray(bgr)[0] + _BGR_MEAN
    return np.clip(x[..., ::-1] / 255.0, 0.0, 1.0).astype(np.float32)


class StyleContentModel:
    """The tutorial's ``StyleContentModel``: RGB [0, 1] in, ``{"style": Grams, "content": features}`` out."""

    def __init__(self, info):
        self.vgg = vgg_layers(info, STYLE_LAYERS + CONTENT_LAYERS)
        self.n_style = len(STYLE_LAYERS)

    def __call__(self, inputs):
        outputs = self.vgg(caffe_preprocess(inputs * 255.0))
        style_outputs = [gram_matrix(o) for o in outputs[: self.n_style]]
        return {"content": dict(zip(CONTENT_LAYERS, outputs[self.n_style:])),
                "style": dict(zip(STYLE_LAYERS, style_outputs))}


def total_variation(rgb01):
    """Squared total variation of a (1, H, W, 3) [0, 1] image, the formula of
    ``tfstyle.objective.losses.total_variation`` written out again, so that the test comparing tfstyle's loss
    with this objective (tests/test_bench.py) compares two implementations."""
    dy = rgb01[:, 1:] - rgb01[:, :-1]
    dx = rgb01[:, :, 1:] - rgb01[:, :, :-1]
    side = tf.sqrt(tf.cast(tf.shape(rgb01)[1] * tf.shape(rgb01)[2], tf.float32))
    return (tf.reduce_mean(dy ** 2) + tf.reduce_mean(dx ** 2)) * side / 256.0


def objective(outputs, style_targets, content_targets, rgb01):
    """The reference objective (a scalar; see the module docstring): the tutorial's
    ``style_content_loss`` with every layer's error relative to its target's mean square, plus total
    variation of the [0, 1] image ``rgb01``."""
    style_loss = tf.add_n([tf.reduce_mean((outputs["style"][n] - style_targets[n]) ** 2)
                           / tf.reduce_mean(style_targets[n] ** 2) for n in STYLE_LAYERS])
    style_loss *= STYLE_WEIGHT / len(STYLE_LAYERS)
    content_loss = tf.add_n([tf.reduce_mean((outputs["content"][n] - content_targets[n]) ** 2)
                             / tf.reduce_mean(content_targets[n] ** 2) for n in CONTENT_LAYERS])
    content_loss *= CONTENT_WEIGHT / len(CONTENT_LAYERS)
    return SCALE * (style_loss + content_loss + TV_WEIGHT * total_variation(rgb01))


class ReferenceObjective:
    """The tutorial's style + content loss of a [0, 1] RGB image (H, W, 3) against fixed targets."""

    def __init__(self, info, content, style):
        self.extractor = StyleContentModel(info)
        self.style_targets = self.extractor(tf.constant(style[None]))["style"]
        self.content_targets = self.extractor(tf.constant(content[None]))["content"]
        self._fn = tf.function(lambda x: objective(self.extractor(x), self.style_targets,
                                                   self.content_targets, x))

    def __call__(self, image: np.ndarray) -> float:
        return float(self._fn(tf.constant(np.asarray(image, np.float32)[None])))


class TutorialLoop:
    """tensorflow.org's neural_style_transfer tutorial, step for step."""

    def __init__(self, info, content, style):
        self.extractor = StyleContentModel(info)
        self.style_targets = self.extractor(tf.constant(style[None]))["style"]
        self.content_targets = self.extractor(tf.constant(content[None]))["content"]
        self.image = tf.Variable(content[None])
        self.opt = tf.keras.optimizers.Adam(learning_rate=0.02, beta_1=0.99, epsilon=1e-1)
        self._train_step = tf.function(self._train_step_impl)

    def _train_step_impl(self, image):
        with tf.GradientTape() as tape:
            outputs = self.extractor(image)
            loss = objective(outputs, self.style_targets, self.content_targets, image)
        grad = tape.gradient(loss, image)
        self.opt.apply_gradients([(grad, image)])
        image.assign(tf.clip_by_value(image, clip_value_min=0.0, clip_value_max=1.0))

    def step(self) -> None:
        self._train_step(self.image)
        self.image[0, 0, 0, 0].numpy()  # wait for the step (the tutorial syncs when it displays)

    def current(self) -> np.ndarray:
        return self.image.numpy()[0]


class ArticleLoop:
    """The blog-post loop: eager, three VGG19 forward passes per step, caffe-space Adam(5) + clip."""

    def __init__(self, info, content, style):
        self.model = vgg_layers(info, STYLE_LAYERS + CONTENT_LAYERS)
        self.n_style = len(STYLE_LAYERS)
        # The images are kept in caffe space, as the article's load_and_process_img returns them.
        self.content = caffe_preprocess(tf.constant(content[None] * 255.0))
        self.style = caffe_preprocess(tf.constant(style[None] * 255.0))
        self.image = tf.Variable(self.content)
        self.opt = tf.keras.optimizers.Adam(learning_rate=5.0, beta_1=0.99, epsilon=1e-1)
        self.min_vals = -_BGR_MEAN
        self.max_vals = 255.0 - _BGR_MEAN

    def compute_loss(self):
        # The article's compute_loss: features of the style and content images are recomputed
        # inside every step, next to the generated image's (the loss itself is the reference's).
        style_outputs = self.model(self.style)
        content_outputs = self.model(self.content)
        model_outputs = self.model(self.image)
        targets = {"style": {n: gram_matrix(f) for n, f in zip(STYLE_LAYERS, style_outputs[: self.n_style])},
                   "content": dict(zip(CONTENT_LAYERS, content_outputs[self.n_style:]))}
        outputs = {"style": {n: gram_matrix(f) for n, f in zip(STYLE_LAYERS, model_outputs[: self.n_style])},
                   "content": dict(zip(CONTENT_LAYERS, model_outputs[self.n_style:]))}
        rgb01 = tf.reverse(self.image + _BGR_MEAN, axis=[-1]) / 255.0  # the caffe variable as an RGB image
        return objective(outputs, targets["style"], targets["content"], rgb01)

    def step(self) -> None:
        with tf.GradientTape() as tape:
            loss = self.compute_loss()
        grads = tape.gradient(loss, self.image)
        self.opt.apply_gradients([(grads, self.image)])
        self.image.assign(tf.clip_by_value(self.image, self.min_vals, self.max_vals))
        float(loss)  # the article reads the loss every step (to keep the best image)

    def current(self) -> np.ndarray:
        return caffe_deprocess(self.image.numpy())


def reference_config(info, content, style, scale: float = 100.0) -> dict:
    """StylizeConfig fields under which tfstyle minimises ``c * reference objective`` exactly.

    tfstyle's loss is ``content_weight * mean((F-P)^2)/mean(P^2) + style_weight * (mean over style
    layers of mean((G-A)^2)/mean(A^2)) + tv_weight * TV`` with the tutorial's Gram (F^T F / (H*W)),
    the same caffe preprocessing and the same total variation (see ``tfstyle.objective.losses``): the reference
    objective's own form. Weights ``c * SCALE`` times the reference's make it ``c`` times the
    reference, ``c`` chosen so that the content image scores ``scale`` (L-BFGS works best with a
    loss of O(1..1e3)).
    """
    extractor = StyleContentModel(info)
    s_out = extractor(tf.constant(style[None]))
    c_out = extractor(tf.constant(content[None]))
    start = float(objective(c_out, s_out["style"], c_out["content"], tf.constant(content[None])))
    c = scale / max(start, 1e-30) * SCALE
    return {
        "content_layers": tuple(CONTENT_LAYERS),
        "style_layers": tuple((n, 1.0) for n in STYLE_LAYERS),
        "content_weight": c * CONTENT_WEIGHT,
        "style_weight": c * STYLE_WEIGHT,
        "tv_weight": c * TV_WEIGHT,
        "pooling": "max",  # the reference's network, whatever tfstyle's weight-free default
    }
