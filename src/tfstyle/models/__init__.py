"""Feed-forward transform networks (Johnson et al. 2016) and their safe on-disk format."""

from .transform import (MODEL_FILE, WEIGHTS_FILE, ModelError, build_transform_net, load_model_dir,
                        network_cost, read_model_json, save_model_dir)

__all__ = ["MODEL_FILE", "WEIGHTS_FILE", "ModelError", "build_transform_net", "load_model_dir",
           "network_cost", "read_model_json", "save_model_dir"]
