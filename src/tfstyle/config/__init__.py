"""Every default of tfstyle lives here.

The command line builds its flags and help text from these dataclasses (``help`` in each field's
metadata), so a default changed here changes everywhere. One module per concern:

* :mod:`tfstyle.config.stylize`: ``tfstyle stylize`` (and the loss-network settings training shares);
* :mod:`tfstyle.config.train`: ``tfstyle train`` and the transform networks' architecture;
* :mod:`tfstyle.config.deploy`: ``tfstyle apply``, ``export`` and ``web``;
* :mod:`tfstyle.config.video`: ``tfstyle video``;
* :mod:`tfstyle.config.anystyle`: arbitrary-style models (``train --styles``, ``apply --style``);
* :mod:`tfstyle.config.cluster`: ``tfstyle apply --cluster``;
* :mod:`tfstyle.config.registries`: the loss networks and export formats, by name;
* :mod:`tfstyle.config.tuning`: the tuning constants, each with the benchmark that decided it;
* :mod:`tfstyle.config.parsers`: ``ConfigError``, the checks and the parsers of flag values.

Every name is also importable from ``tfstyle.config`` itself.
"""

from .parsers import (MAX_SIZE, MAX_STEPS, _FLOAT32_MAX, ConfigError, _h, _positive_int, _finite, _choice,
                      parse_style_layers, parse_floats, parse_paths, parse_scales, parse_layers, parse_ints, parse_memory, MEMORY_UNITS,
                      parse_steps)
from .registries import (DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, BackboneEntry, BACKBONES_REGISTRY,
                         NETWORKS, WEIGHTS_ENV, weights_env, WEIGHTS_ENVS, OFFLINE_ENV, RANDOM_BACKBONE_SEED,
                         ExportFormat, EXPORT_FORMATS_REGISTRY, EXPORT_FORMATS, QUANTIZATIONS, OptimizerEntry,
                         OPTIMIZERS_REGISTRY, OPTIMIZERS)
from .tuning import (FULL_EXIT_ENV, PREFER_ONEDNN, WINOGRAD_MIN_CHANNELS, WINOGRAD_MIN_CHANNELS_ONEDNN,
                     WINOGRAD_WORKSPACE_FACTOR, NATIVE_KERNELS, NATIVE_KERNELS_ENV, NATIVE_BUILD_TIMEOUT,
                     NATIVE_CACHE_ENV, default_cache_dir, ADAM_EPSILON, LBFGS_HISTORY, MIN_COARSE,
                     TWO_SCALE_SPLIT, MEMORY_BASE_GIB, MEMORY_BACKWARD_FACTOR, MEMORY_IMAGE_BUFFERS,
                     AUTO_TILE_FRACTION, TILE_CANDIDATES, AUTO_MAX_STEPS, AUTO_WINDOW, AUTO_STOP_MARGIN)
from .stylize import (LR_SCHEDULES, INITS, PRECISIONS, CONV_ALGORITHMS, BACKBONES, POOLINGS,
                      SMOOTHINGS, PRESERVE_COLORS, MAX_STYLE_SCALE, SAVE_EVERY, _LossNetworkSettings,
                      StylizeConfig, PRESETS)
from .train import (PREVIEW_EVERY, TRANSFORM_ARCHS, STRATEGIES, NetworkConfig, NETWORK_PRESETS, TrainConfig,
                    TEMPORAL_MAX_SHIFT, TEMPORAL_MAX_ANGLE, TEMPORAL_MAX_ZOOM, TEMPORAL_NOISE,
                    TRAIN_PREVIEW_COUNT, CHECKPOINTS_TO_KEEP)
from .deploy import (ApplyConfig, WEB_HOST, TFJS_DIR_ENV, WebConfig, ExportConfig, LITERT_MIN_SIDE, LITERT_MAX_SIDE,
                     LITERT_MAX_SHAPES, parse_litert_sizes, parse_litert_aspects, litert_shapes)
from .video import (FLOW_PRESETS, VideoConfig)
from .anystyle import (PREDICTOR_AUTO, PREDICTOR_FALLBACK, PREDICTOR_LAYERS, PREDICTORS, STYLE_AUG_BRIGHTNESS,
                       STYLE_AUG_SATURATION, STYLE_AUG_CONTRAST, STYLE_AUG_HUE, STYLE_DECODE_MAX, ANYSTYLE_HELD_OUT,
                       ArbitraryConfig, AnyStyleApplyConfig)
from .cluster import (CLUSTER_MANIFEST, CLUSTER_MANIFEST_FIELDS, CLUSTER_RUN_MARKER, CLUSTER_CONNECT_TIMEOUT_S,
                      CLUSTER_MODES, ClusterConfig)

__all__ = ["FULL_EXIT_ENV", "MAX_SIZE", "MAX_STEPS", "ConfigError", "parse_style_layers", "parse_floats", "parse_paths",
           "parse_scales", "parse_layers", "parse_ints", "parse_memory", "MEMORY_UNITS", "parse_steps", "AUTO_MAX_STEPS",
           "AUTO_WINDOW", "AUTO_STOP_MARGIN", "DEFAULT_CONTENT_LAYERS", "DEFAULT_STYLE_LAYERS",
           "BackboneEntry", "BACKBONES_REGISTRY", "NETWORKS", "WEIGHTS_ENV", "weights_env", "WEIGHTS_ENVS",
           "OFFLINE_ENV", "RANDOM_BACKBONE_SEED", "ExportFormat", "EXPORT_FORMATS_REGISTRY",
           "EXPORT_FORMATS", "QUANTIZATIONS", "OptimizerEntry", "OPTIMIZERS_REGISTRY", "PREFER_ONEDNN", "WINOGRAD_MIN_CHANNELS",
           "WINOGRAD_MIN_CHANNELS_ONEDNN", "WINOGRAD_WORKSPACE_FACTOR", "NATIVE_KERNELS",
           "NATIVE_KERNELS_ENV", "NATIVE_BUILD_TIMEOUT", "NATIVE_CACHE_ENV", "default_cache_dir",
           "ADAM_EPSILON", "LBFGS_HISTORY", "MIN_COARSE", "TWO_SCALE_SPLIT", "MEMORY_BASE_GIB",
           "MEMORY_BACKWARD_FACTOR", "MEMORY_IMAGE_BUFFERS", "AUTO_TILE_FRACTION", "TILE_CANDIDATES",
           "OPTIMIZERS", "LR_SCHEDULES", "INITS", "PRECISIONS", "CONV_ALGORITHMS", "BACKBONES", "POOLINGS",
           "SMOOTHINGS", "PRESERVE_COLORS", "MAX_STYLE_SCALE", "SAVE_EVERY", "StylizeConfig", "PRESETS",
           "PREVIEW_EVERY", "TRANSFORM_ARCHS", "STRATEGIES", "NetworkConfig", "NETWORK_PRESETS",
           "TrainConfig", "TEMPORAL_MAX_SHIFT", "TEMPORAL_MAX_ANGLE", "TEMPORAL_MAX_ZOOM", "TEMPORAL_NOISE",
           "TRAIN_PREVIEW_COUNT", "CHECKPOINTS_TO_KEEP", "ApplyConfig", "WEB_HOST", "TFJS_DIR_ENV",
           "WebConfig", "ExportConfig", "LITERT_MIN_SIDE", "LITERT_MAX_SIDE", "LITERT_MAX_SHAPES",
           "parse_litert_sizes", "parse_litert_aspects", "litert_shapes", "FLOW_PRESETS", "VideoConfig", "CLUSTER_MANIFEST",
           "CLUSTER_MANIFEST_FIELDS", "CLUSTER_RUN_MARKER", "CLUSTER_CONNECT_TIMEOUT_S", "CLUSTER_MODES",
           "ClusterConfig", "PREDICTOR_AUTO", "PREDICTOR_FALLBACK", "PREDICTOR_LAYERS", "PREDICTORS",
           "STYLE_AUG_BRIGHTNESS", "STYLE_AUG_SATURATION",
           "STYLE_AUG_CONTRAST", "STYLE_AUG_HUE", "STYLE_DECODE_MAX", "ANYSTYLE_HELD_OUT", "ArbitraryConfig",
           "AnyStyleApplyConfig"]
