"""VGG19 and VGG16 (Simonyan and Zisserman 2014), the networks of Gatys et al.

Caffe preprocessing (Keras's ``vgg19.preprocess_input``): RGB in 0..255 to BGR with the ImageNet
mean subtracted, no scaling. ``pooling="avg"`` rebuilds the chain with AveragePooling2D in place of
every MaxPooling2D, reusing the very same convolution layers (same weights), as Gatys et al. did.
"""

from __future__ import annotations

from .base import Backbone

# caffe / keras.applications.vgg19.preprocess_input: BGR means of ImageNet, in 0..255.
BGR_MEAN = (103.939, 116.779, 123.68)

VGG19_LAYERS = (
    "block1_conv1", "block1_conv2", "block1_pool",
    "block2_conv1", "block2_conv2", "block2_pool",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4", "block3_pool",
    "block4_conv1", "block4_conv2", "block4_conv3", "block4_conv4", "block4_pool",
    "block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4", "block5_pool",
)
# VGG16 has the same scheme with three convs (not four) in blocks 3-5.
VGG16_LAYERS = tuple(n for n in VGG19_LAYERS if not n.endswith("_conv4"))


def caffe_preprocess(rgb01):
    """RGB [0, 1] (B, H, W, 3) -> caffe BGR mean-subtracted 0..255 (B, H, W, 3)."""
    import tensorflow as tf

    return tf.reverse(rgb01 * 255.0, axis=[-1]) - tf.constant(BGR_MEAN, rgb01.dtype)


class VGG19(Backbone):
    chain = True
    name = "vgg19"
    application = "VGG19"
    keras_module = "keras.src.applications.vgg19"
    weights_file = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    weights_md5 = "253f8cb515780f3b799900260a226db6"
    layers = VGG19_LAYERS
    poolings = ("max", "avg")

    def listed_layers(self):
        return tuple(n for n in self.layers if "conv" in n)

    def preprocess(self, rgb01, random: bool):
        return caffe_preprocess(rgb01)

    def build(self, weights_path, pooling="max"):
        import keras

        inputs, taps, model = super().build(weights_path, "max")
        self.check_pooling(pooling)
        if pooling == "max":
            return inputs, taps, model
        # VGG is a plain chain: re-chain it, swapping each MaxPooling2D for an AveragePooling2D of the
        # same size, stride, padding and name. Conv layers are reused (shared weights); their
        # ``.output`` would name the first (max-pool) graph, so the taps are collected here. Average
        # pooling gives smaller activations after every pool; the losses are relative errors
        # against each target's own magnitude (tfstyle.objective.losses), so loss weights keep
        # their meaning without rescaling the network.
        x = inputs = keras.Input((None, None, 3), name=model.layers[0].name)
        taps = {}
        for layer in model.layers[1:]:
            if isinstance(layer, keras.layers.MaxPooling2D):
                layer = keras.layers.AveragePooling2D(layer.pool_size, layer.strides, layer.padding,
                                                      name=layer.name)
            x = taps[layer.name] = layer(x)
        return inputs, taps, keras.Model(inputs, x, name=f"{self.name}_avgpool")


class VGG16(VGG19):
    name = "vgg16"
    application = "VGG16"
    keras_module = "keras.src.applications.vgg16"
    weights_file = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    weights_md5 = "6d6bbae143d832006294945121d1f1fc"
    layers = VGG16_LAYERS
