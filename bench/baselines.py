"""The two baselines of the speed benchmark, written as their sources write them, plus the reference
objective every method is scored with.

These are benchmark baselines, not library code: they deliberately keep the sources' choices
(caffe-space image variable, targets recomputed every step, raw Gram MSE, no normalisation).

* **article loop**: the popular blog-post loop: eager TensorFlow (no ``tf.function``); inside every
  step the content image, the style image and the generated image each go through VGG19 (three
  forward passes); Gram = einsum / number of locations; style weight 1e-2, content weight 1e4;
  the image variable lives in caffe space (BGR, mean-subtracted 0..255) and is optimised with
  ``Adam(5, beta_1=0.99, epsilon=1e-1)``, clipped to the caffe range after each step.
* **tutorial loop**: tensorflow.org's ``neural_style_transfer`` tutorial: targets computed once,
  float32, a [0, 1] image variable, ``Adam(0.02, beta_1=0.99, epsilon=1e-1)``, style 1e-2,
  content 1e4, total variation 30 (``tf.image.total_variation``), ``@tf.function`` train step,
  ``clip_0_1`` after each step.

Both use the tutorial's layers: content ``block5_conv2``, style ``block1_conv1`` .. ``block5_conv1``,
and the same VGG19 weights as tfstyle (``tfstyle.features.build_vgg19``), so only the loops differ.

The **reference objective** is the tutorial's ``style_content_loss`` (style + content, no TV) with
those layers and weights, evaluated on any method's [0, 1] image. It is what "time to quality"
compares; tfstyle's own (normalised) loss is never compared directly.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

CONTENT_LAYERS = ["block5_conv2"]
STYLE_LAYERS = ["block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"]
STYLE_WEIGHT = 1e-2
CONTENT_WEIGHT = 1e4
TV_WEIGHT = 30.0
# caffe / keras.applications.vgg19.preprocess_input constants (the baselines' own, as in their sources).
_BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)


def vgg_layers(info, layer_names):
    """The tutorial's ``vgg_layers``: VGG19 outputs at ``layer_names`` (Keras keeps only the layers
    those outputs need, so it is truncated after the deepest one, as tfstyle's extractor is)."""
    from tfstyle.features import build_vgg19

    vgg = build_vgg19(info, "float32")
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


def style_content_loss(outputs, style_targets, content_targets):
    """The tutorial's ``style_content_loss`` (a scalar; the reference objective)."""
    style_loss = tf.add_n([tf.reduce_mean((outputs["style"][n] - style_targets[n]) ** 2) for n in STYLE_LAYERS])
    style_loss *= STYLE_WEIGHT / len(STYLE_LAYERS)
    content_loss = tf.add_n([tf.reduce_mean((outputs["content"][n] - content_targets[n]) ** 2)
                             for n in CONTENT_LAYERS])
    content_loss *= CONTENT_WEIGHT / len(CONTENT_LAYERS)
    return style_loss + content_loss


class ReferenceObjective:
    """The tutorial's style + content loss of a [0, 1] RGB image (H, W, 3) against fixed targets."""

    def __init__(self, info, content, style):
        self.extractor = StyleContentModel(info)
        self.style_targets = self.extractor(tf.constant(style[None]))["style"]
        self.content_targets = self.extractor(tf.constant(content[None]))["content"]
        self._fn = tf.function(lambda x: style_content_loss(self.extractor(x), self.style_targets,
                                                            self.content_targets))

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
            loss = style_content_loss(outputs, self.style_targets, self.content_targets)
            loss += TV_WEIGHT * tf.image.total_variation(image)
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
        # inside every step, next to the generated image's.
        style_outputs = self.model(self.style)
        content_outputs = self.model(self.content)
        model_outputs = self.model(self.image)
        gram_style_features = [gram_matrix(f) for f in style_outputs[: self.n_style]]
        content_features = content_outputs[self.n_style:]
        style_score = 0.0
        for target, comb in zip(gram_style_features, model_outputs[: self.n_style]):
            style_score += (1.0 / self.n_style) * tf.reduce_mean(tf.square(gram_matrix(comb) - target))
        content_score = 0.0
        for target, comb in zip(content_features, model_outputs[self.n_style:]):
            content_score += (1.0 / len(CONTENT_LAYERS)) * tf.reduce_mean(tf.square(comb - target))
        return STYLE_WEIGHT * style_score + CONTENT_WEIGHT * content_score

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

    tfstyle divides each style layer's Gram error by ``mean(A^2)`` of its target and the content
    error by ``mean(P^2)`` (see ``tfstyle.losses``); its Gram is the tutorial's (F^T F / (H*W)) and its
    preprocessing the same caffe one. Layer weights proportional to those magnitudes undo the
    division, so the objectives differ only by the constant ``c``, chosen so that the content image
    scores ``scale`` (L-BFGS works best with a loss of O(1..1e3)). No TV: the reference has none.
    """
    extractor = StyleContentModel(info)
    s_out = extractor(tf.constant(style[None]))
    c_out = extractor(tf.constant(content[None]))
    mag = {n: float(tf.reduce_mean(tf.square(s_out["style"][n]))) for n in STYLE_LAYERS}
    p_mag = {n: float(tf.reduce_mean(tf.square(c_out["content"][n]))) for n in CONTENT_LAYERS}
    start = float(style_content_loss(c_out, s_out["style"], c_out["content"]))
    c = scale / max(start, 1e-30)
    return {
        "content_layers": tuple(CONTENT_LAYERS),
        "style_layers": tuple((n, mag[n]) for n in STYLE_LAYERS),
        # tfstyle normalises layer weights to sum to 1: multiply the sum back in.
        "style_weight": c * STYLE_WEIGHT / len(STYLE_LAYERS) * sum(mag.values()),
        # One content layer: its weight times 1 / mean(P^2) must give c * CONTENT_WEIGHT.
        "content_weight": c * CONTENT_WEIGHT * p_mag[CONTENT_LAYERS[0]],
        "tv_weight": 0.0,
    }
