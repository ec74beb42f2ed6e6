"""EfficientNetB0 (Tan and Le 2019) as a loss network.

Its preprocessing is inside the Keras model (Rescaling 1/255, then a Normalization layer whose mean
and variance come with the weights): it takes RGB in 0..255.

**Keras's file-path pitfall, fixed here.** ``keras.applications.EfficientNetB0(weights="imagenet")``
adds a ``Rescaling(1/sqrt(stddev))`` after the Normalization layer (the ImageNet weights were trained
with that input scale, keras issue tensorflow/tensorflow#49930); with ``weights=PATH`` the layer is
missing, so a model loaded from the very same file feeds its first convolution inputs 0.48x as large. tfstyle loads from a
path and folds that factor into the Normalization layer's variance (``(x - m) / sqrt(v) /
sqrt(s) == (x - m) / sqrt(v * s)``), which gives exactly Keras's "imagenet" network (tested).

**Not tileable.** Every block after the stem has squeeze-and-excitation: a global average pooling
whose result scales all positions, so a feature depends on the whole image and a tile cannot compute
it. The graph analysis marks those layers global; a run that would need tiles is refused in one
line (tfstyle.optimize.memory).

The random, weight-free variant: He-normal convolutions, the Normalization layer set to ImageNet's
mean and standard deviation, every batch normalisation's statistics measured on fixed-seed 1/f-noise
images (as for ResNet50).
"""

from __future__ import annotations

from .base import Backbone

IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STDDEV_RGB = (0.229, 0.224, 0.225)

# The stem and the output of every block (a block with a residual sum ends in "_add", the first of
# each stage in its projection), and the last activation; shallow to deep.
EFFICIENTNETB0_LAYERS = (
    "stem_activation", "block1a_project_bn",
    "block2a_project_bn", "block2b_add",
    "block3a_project_bn", "block3b_add",
    "block4a_project_bn", "block4b_add", "block4c_add",
    "block5a_project_bn", "block5b_add", "block5c_add",
    "block6a_project_bn", "block6b_add", "block6c_add", "block6d_add",
    "block7a_project_bn", "top_activation",
)


def _normalization(model):
    return next(layer for layer in model.layers if type(layer).__name__ == "Normalization")


class EfficientNetB0(Backbone):
    name = "efficientnetb0"
    application = "EfficientNetB0"
    keras_module = "keras.src.applications.efficientnet"
    weights_file = "efficientnetb0_notop.h5"
    weights_md5 = "50bc09e76180e00e4465e1a485ddc09d"
    layers = EFFICIENTNETB0_LAYERS

    def preprocess(self, rgb01, random: bool):
        return rgb01 * 255.0

    def keras_model(self, weights_path):
        import numpy as np

        model = super().keras_model(weights_path)
        if weights_path is not None:  # the Rescaling layer Keras adds for weights="imagenet" only
            norm = _normalization(model)
            norm.adapt_variance.assign(norm.adapt_variance * np.asarray(IMAGENET_STDDEV_RGB, np.float32))
            norm.finalize_state()
        return model

    def random_init(self, model, seed: int) -> None:
        import numpy as np

        norm = _normalization(model)
        norm.adapt_mean.assign(np.asarray(IMAGENET_MEAN_RGB, np.float32))
        norm.adapt_variance.assign(np.square(np.asarray(IMAGENET_STDDEV_RGB, np.float32)))
        norm.finalize_state()
        super().random_init(model, seed)
