"""ResNet50 (He et al. 2016) as a loss network.

Caffe preprocessing, as Keras's ``resnet50.preprocess_input``. Its residual sums make activations
peaky (a few channels dominate, small entropy), and Gram matching latches onto them (Wang et al.,
CVPR 2021): ``smoothing="auto"`` means softmax smoothing for it (``config.BACKBONES_REGISTRY``,
:func:`tfstyle.backbones.extractor.smooth`).

The random, weight-free variant: He-normal convolutions, then every batch normalisation's statistics
measured on fixed-seed 1/f-noise images (:func:`tfstyle.backbones.base.calibrate_batch_norm`).
Keras's own random init leaves them at mean 0, variance 1, so activations grow with every residual
sum; calibrated, each block's input has unit variance as in a trained network.
"""

from __future__ import annotations

from .base import Backbone
from .vgg import caffe_preprocess

# Blocks per stage (conv2_x .. conv5_x) of ResNet50.
_BLOCKS = (3, 4, 6, 3)
RESNET50_LAYERS = ("conv1_relu", "pool1_pool") + tuple(
    f"conv{stage}_block{block}_out" for stage, n in enumerate(_BLOCKS, start=2) for block in range(1, n + 1))


class ResNet50(Backbone):
    name = "resnet50"
    application = "ResNet50"
    keras_module = "keras.src.applications.resnet"
    weights_file = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    weights_md5 = "4d473c1dd8becc155b73f8504c6f6626"
    layers = RESNET50_LAYERS

    def preprocess(self, rgb01, random: bool):
        return caffe_preprocess(rgb01)
