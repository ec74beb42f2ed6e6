"""Tuning constants of image optimisation, memory planning and the native kernels.

Each comment keeps the decision and names the benchmark that measured it.
"""

from __future__ import annotations

import os
from pathlib import Path

# --- image optimisation internals -------------------------------------------------------------
# Turn oneDNN on for TensorFlow's CPU kernels where TensorFlow leaves it off (x86 CPUs without
# AVX-512, such as AVX2-only AMD EPYC), when tfstyle is imported before TensorFlow: there its batched
# matmul and convolutions make a float32 VGG19 step faster than Eigen's, Winograd layers included
# (bench/knobs.py; bench/results/decisions.md, "oneDNN on AVX2"). TF_ENABLE_ONEDNN_OPTS, when set, wins.
PREFER_ONEDNN = True
# Winograd F(4x4, 3x3) (tfstyle.kernels.winograd) for 3x3 convolutions with at least this many input
# channels (bench/winograd.py, forward and input gradient): with oneDNN's kernels every VGG19 layer from
# block1_conv2 (64 channels) won; with Eigen's (oneDNN off) block1_conv2 lost and block2_conv1 broke
# even, from 128 channels it won (bench/results/avx2/winograd.md). tfstyle.hardware picks the threshold.
WINOGRAD_MIN_CHANNELS = 128
WINOGRAD_MIN_CHANNELS_ONEDNN = 64
# Peak workspace of Winograd convolutions, in float32 inputs of the largest replaced layer (tiles,
# transforms, products, in the forward pass and the input gradient, plus what the allocator keeps).
# Fitted to the peak RSS of Winograd and direct runs of VGG19 (bench/speed.py;
# bench/results/decisions.md, "Winograd workspace").
WINOGRAD_WORKSPACE_FACTOR = 18
# Native Winograd transforms (tfstyle.kernels.native): C++ ops built on first use with the installed
# TensorFlow's flags and a C++ compiler ($CXX, else g++), cached per TensorFlow version, compiler and
# CPU. Where they cannot be built the TensorFlow-op transforms run. TFSTYLE_NATIVE_KERNELS=0 turns
# them off; the build gives up after NATIVE_BUILD_TIMEOUT seconds.
NATIVE_KERNELS = True
NATIVE_KERNELS_ENV = "TFSTYLE_NATIVE_KERNELS"
NATIVE_BUILD_TIMEOUT = 300
# A command whose outputs are all written and closed ends without the interpreter's teardown of
# TensorFlow (about a second of every command; bench/exit_cost.py). TFSTYLE_FULL_EXIT=1 keeps the
# teardown, for tools that write at exit (coverage, profilers).
FULL_EXIT_ENV = "TFSTYLE_FULL_EXIT"
# tfstyle's cache (built kernels): $TFSTYLE_CACHE_DIR, else $XDG_CACHE_HOME/tfstyle, else ~/.cache/tfstyle.
NATIVE_CACHE_ENV = "TFSTYLE_CACHE_DIR"


def default_cache_dir():
    """tfstyle's cache folder (see ``NATIVE_CACHE_ENV``), as a Path; not created here."""
    if os.environ.get(NATIVE_CACHE_ENV):
        return Path(os.environ[NATIVE_CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "tfstyle"


# Adam's epsilon: per-pixel gradients of a mean-based loss are ~1e-6; Keras's 1e-7 would damp them.
ADAM_EPSILON = 1e-10
# L-BFGS-B correction pairs (SciPy's maxcor).
LBFGS_HISTORY = 20
# The coarsest automatic scale (longest side). Below ~256 px VGG's deep layers see only a few cells.
MIN_COARSE = 256
# --scale-split auto with two scales (512 px: 256 then 512): the coarse scale's steps over the fine
# one's; from three scales auto stays equal. Measurements and reasons: tfstyle.optimize.multiscale's
# docstring ("Steps").
TWO_SCALE_SPLIT = 0.5

# --- memory planning (tfstyle.optimize.memory) --------------------------------------------------
# Peak RSS of one step = MEMORY_BASE + MEMORY_BACKWARD_FACTOR * activation bytes + whole-image
# buffers; both fitted to measured peaks (bench/calibrate_memory.py).
MEMORY_BASE_GIB = 0.75
MEMORY_BACKWARD_FACTOR = 1.3
# Whole-image float32 RGB buffers alive during a step besides the optimiser's.
MEMORY_IMAGE_BUFFERS = 8
# A scale runs untiled if its estimate is at most this fraction of the limit.
AUTO_TILE_FRACTION = 0.8
# Tile sizes tried, largest first, when a scale must be tiled.
TILE_CANDIDATES = (2048, 1536, 1024, 768, 512, 384, 256, 128)


# Time to quality: the learning-rate schedule's end and --steps auto (tfstyle.optimize.loops;
# measurements and reasons: docs/time-to-quality.md).
# --steps auto: the budget's cap (the fixed default's length, so an auto run never takes longer).
AUTO_MAX_STEPS = 300
# --steps auto: the loss is watched over this many steps ...
AUTO_WINDOW = 20
# ... and the run starts its cool-down once the best loss fell by less than this fraction over them.
AUTO_STOP_MARGIN = 0.02
