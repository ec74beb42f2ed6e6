"""Fast convolutions for the fixed loss networks: Winograd's F(4x4, 3x3) (:mod:`tfstyle.kernels.winograd`)
and its transforms as native TensorFlow ops, compiled on first use (:mod:`tfstyle.kernels.native`).

They know nothing of networks: :mod:`tfstyle.backbones` decides where they run.
"""
