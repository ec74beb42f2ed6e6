"""Shared pieces of the TensorFlow.js and web-app tests: both network presets as model folders, the Node
runner of exported graph models, and where test artefacts (screenshots, figures) go."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
from ffdata import TINY_TRAIN, make_photos, randomize_norms

from tfstyle.io.images import load_image, resize

TESTS = Path(__file__).resolve().parent
NODE_RUNNER = TESTS / "js" / "run_graph_model.cjs"
ARTIFACTS_ENV = "TFSTYLE_TEST_ARTIFACTS"


def artifacts_dir(tmp_path_factory) -> Path:
    """``$TFSTYLE_TEST_ARTIFACTS`` (kept after the run: CI can upload it), else a pytest temp folder."""
    where = os.environ.get(ARTIFACTS_ENV)
    d = Path(where) if where else tmp_path_factory.mktemp("artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


def node_modules() -> Path:
    """The node_modules folder holding TF.js (what ``tfstyle web`` uses)."""
    from tfstyle.web.site import find_tfjs

    return find_tfjs()


def trained_light(folder: Path, shared: Path) -> Path:
    """The light network, briefly trained on the sample photos (weights away from their initial values)."""
    from tfstyle import train

    photos = make_photos(folder / "photos", shared, n=6)
    d = folder / "starry"
    r = train(shared / "style" / "vangogh_starry_night.jpg", photos, d,
              TINY_TRAIN.replace(steps=15, arch="light", checkpoint_every=100))
    assert r.stop_reason == "done"
    return d


def random_standard(folder: Path, shared: Path, seed: int = 7) -> Path:
    """The standard network with random weights, instance-norm scales and shifts included (so that
    every weight matters), saved as a model folder whose style is the great wave."""
    from tfstyle.config import NETWORK_PRESETS
    from tfstyle.feedforward.networks import build_transform_net, save_model_dir

    net = NETWORK_PRESETS["standard"]
    model = randomize_norms(build_transform_net(net, seed=seed), seed)
    d = folder / "wave"
    save_model_dir(model, net, d, {"style": str(shared / "style" / "hokusai_great_wave.jpg"), "arch": "standard"})
    return d


def real_photos(shared: Path, hw=(101, 134)) -> list[np.ndarray]:
    """Two real photos at an odd, non-square size (not a multiple of 4)."""
    return [resize(load_image(shared / "content" / n), hw) for n in ("chelsea_cat.png", "astronaut_eileen_collins.png")]


def run_node(jobs: list[dict], backend: str, tmp: Path, timeout: float = 600) -> list[np.ndarray]:
    """Run graph models in Node with @tensorflow/tfjs on ``backend`` ("cpu" or "wasm").

    Args:
        jobs: ``{"model": path of model.json, "image": (B, H, W, 3) float32}`` each; one Node process
            runs them all.

    Returns:
        the outputs, in order.
    """
    tmp.mkdir(parents=True, exist_ok=True)
    items = []
    for i, job in enumerate(jobs):
        x = np.ascontiguousarray(job["image"], "<f4")
        src, dst = tmp / f"in{i}.f32", tmp / f"out{i}.f32"
        x.tofile(src)
        items.append({"model": str(job["model"]), "path": str(src), "shape": list(x.shape), "output": str(dst)})
    spec = tmp / f"job_{backend}.json"
    spec.write_text(json.dumps({"node_modules": str(node_modules()), "backend": backend, "items": items}))
    node = shutil.which("node")
    assert node, "node is not installed"
    r = subprocess.run([node, str(NODE_RUNNER), str(spec)], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["backend"] == backend, result
    return [np.fromfile(it["output"], "<f4").reshape(it["shape"]) for it in items]


def psnr(a, b) -> float:
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)
