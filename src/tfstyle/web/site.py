"""Writing the browser app's static site.

A site folder holds::

    index.html, app.js, logic.js, style.css, placeholder.svg   the app (copied from ``app/``)
    tfjs/*.min.js, tfjs/*.wasm                                 TensorFlow.js 4.x from npm
    models/models.json                                         the styles: name, model, thumbnail
    models/<name>/model.json, group1-shard*.bin                each model as a TF.js graph model
    models/<name>/style.jpg                                    a thumbnail of its style image

Nothing is loaded from anywhere else, so the site works offline. It is written into a staging
folder beside the target and renamed into place: a failed or interrupted build leaves nothing
behind, and an existing site is replaced only by a complete new one (and only when asked).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..config import TFJS_DIR_ENV, ExportConfig, WebConfig
from ..export.base import remove_path, replace_path
from ..io.outputs import check_output
from . import SiteError

APP_DIR = Path(__file__).parent / "app"
PACKAGE_DIR = Path(__file__).parent
# The app's own files, copied as they are.
APP_FILES = ("index.html", "app.js", "logic.js", "style.css", "placeholder.svg")
# TF.js as separate bundles (core, the three backends, the graph-model converter): 1.2 MB instead of
# the 1.6 MB of tf.min.js + the wasm backend, which would add the Layers and Data APIs the app never
# uses. Order is load order: the backends and the converter register themselves with the core.
TFJS_SCRIPTS = (
    "@tensorflow/tfjs-core/dist/tf-core.es2017.min.js",
    "@tensorflow/tfjs-backend-cpu/dist/tf-backend-cpu.es2017.min.js",
    "@tensorflow/tfjs-backend-webgl/dist/tf-backend-webgl.es2017.min.js",
    "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.es2017.min.js",
    "@tensorflow/tfjs-converter/dist/tf-converter.es2017.min.js",
)
# The WASM backend picks one at run time: plain, SIMD, or SIMD with threads (needs cross-origin
# isolation, which tfstyle web --serve provides).
TFJS_WASM = tuple(f"@tensorflow/tfjs-backend-wasm/dist/{n}" for n in (
    "tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm"))
TFJS_MAJOR = "4"
MODELS_INDEX = "models/models.json"
THUMBNAIL = "style.jpg"
_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def install_command(package_dir: Path = PACKAGE_DIR) -> str:
    """The command that fills ``node_modules`` beside ``package.json`` (what CI runs)."""
    return f"npm ci --ignore-scripts --prefix {package_dir}"


def find_tfjs(node_modules: str | os.PathLike | None = None) -> Path:
    """The ``node_modules`` folder holding TF.js: ``node_modules``, else ``$TFSTYLE_TFJS_DIR``, else
    the one beside this package's ``package.json``.

    Raises:
        SiteError: a file the site needs is missing, or TF.js is not 4.x; the message names the
            command that installs it.
    """
    root = Path(node_modules or os.environ.get(TFJS_DIR_ENV) or PACKAGE_DIR / "node_modules")
    missing = [p for p in (*TFJS_SCRIPTS, *TFJS_WASM) if not (root / p).is_file()]
    if missing:
        raise SiteError(f"TensorFlow.js is not installed ({root / missing[0]} is missing): run "
                        f"`{install_command()}`, or set {TFJS_DIR_ENV} to a node_modules folder holding "
                        f"@tensorflow/tfjs and @tensorflow/tfjs-backend-wasm 4.x")
    version = tfjs_version(root)
    if not version.startswith(TFJS_MAJOR + "."):
        raise SiteError(f"{root}: TensorFlow.js {version} found, the app needs {TFJS_MAJOR}.x: run "
                        f"`{install_command()}`")
    return root


def tfjs_version(node_modules: Path) -> str:
    """The version of ``@tensorflow/tfjs-core`` in ``node_modules`` ("?" if unreadable)."""
    try:
        return str(json.loads((node_modules / "@tensorflow/tfjs-core/package.json").read_text())["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return "?"


@dataclass
class SiteModel:
    """One style of a written site.

    Attributes:
        name: its name on the page and in ``?style=NAME``.
        model_dir: the model folder it came from.
        arch: "standard", "light" or "custom" (from the network's settings).
        bytes: size of its TF.js files (model.json and shards).
        thumbnail: the style image the thumbnail was made from; None: the placeholder.
    """

    name: str
    model_dir: Path
    arch: str
    bytes: int
    thumbnail: Path | None


@dataclass
class SiteResult:
    """What :func:`build_site` wrote: the site folder, its styles, its total size, and notes (one line
    each) about things the user may want to know (e.g. a style image that was not found)."""

    path: Path
    models: list[SiteModel]
    bytes: int
    tfjs_version: str
    notes: list[str] = field(default_factory=list)


def style_names(model_dirs) -> list[str]:
    """One unique, URL- and file-safe name per model folder: the folder's name (``_2``, ``_3`` ... on
    repeats)."""
    names: list[str] = []
    for d in model_dirs:
        base = _NAME.sub("_", Path(os.path.abspath(d)).name).strip("._") or "style"
        name, i = base, 2
        while name in names:
            name, i = f"{base}_{i}", i + 1
        names.append(name)
    return names


def check_site_output(out: str | os.PathLike, overwrite: bool) -> Path:
    """Fail early, before any model is exported, if the site cannot be written at ``out``."""
    return check_output(out, overwrite, SiteError, folder=True)


def build_site(model_dirs, out: str | os.PathLike, config: WebConfig | None = None, overwrite: bool = False,
               node_modules: str | os.PathLike | None = None,
               progress: Callable[[str], None] | None = None) -> SiteResult:
    """Write the static site for ``model_dirs`` into the folder ``out``.

    Args:
        model_dirs: model folders written by ``tfstyle train`` (at least one); the first is the
            page's default style.
        out: the site folder (must not exist unless ``overwrite``).
        config: quantisation of the models and thumbnail size (default ``WebConfig()``).
        node_modules: where TF.js is (default: see :func:`find_tfjs`).
        progress: called with the name of each style before it is exported.

    Returns:
        a :class:`SiteResult`.

    Raises:
        SiteError, ModelError, ConfigError: one line each; nothing is written.
    """
    from ..feedforward.networks import read_model_json

    config = (config or WebConfig()).validate()
    model_dirs = [Path(d) for d in model_dirs]
    if not model_dirs:
        raise SiteError("no model folders given")
    out = check_site_output(out, overwrite)
    tfjs = find_tfjs(node_modules)
    for d in model_dirs:  # every folder is checked before the first export starts
        read_model_json(d)
    parent = out.parent if str(out.parent) else Path(".")
    staging = parent / f".{out.name}.{os.getpid()}.staging"
    remove_path(staging)
    try:
        staging.mkdir()
        for name in APP_FILES:
            shutil.copyfile(APP_DIR / name, staging / name)
        (staging / "tfjs").mkdir()
        for rel in (*TFJS_SCRIPTS, *TFJS_WASM):
            shutil.copyfile(tfjs / rel, staging / "tfjs" / Path(rel).name)
        models, notes = _write_models(model_dirs, staging, config, progress)
        index = {"tfjs": tfjs_version(tfjs), "scripts": [Path(s).name for s in TFJS_SCRIPTS],
                 "quantize": config.quantize,
                 "styles": [{"name": m.name, "arch": m.arch, "bytes": m.bytes,
                             "model": f"models/{m.name}/model.json",
                             "thumbnail": f"models/{m.name}/{THUMBNAIL}" if m.thumbnail else "placeholder.svg"}
                            for m in models]}
        (staging / MODELS_INDEX).write_text(json.dumps(index, indent=1), encoding="utf-8")
        total = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
        replace_path(staging, out)
    finally:
        remove_path(staging)
    return SiteResult(out, [SiteModel(m.name, m.model_dir, m.arch, m.bytes, m.thumbnail) for m in models],
                      total, tfjs_version(tfjs), notes)


def _write_models(model_dirs, site: Path, config: WebConfig, progress) -> tuple[list[SiteModel], list[str]]:
    from ..config import NETWORK_PRESETS
    from ..export import tfjs
    from ..feedforward.networks import load_model_dir

    export_config = ExportConfig(format="tfjs", quantize=config.quantize).validate()
    (site / "models").mkdir()
    models, notes = [], []
    for name, d in zip(style_names(model_dirs), model_dirs):
        if progress is not None:
            progress(name)
        keras_model, net, meta = load_model_dir(d)
        folder = site / "models" / name
        tfjs.write(keras_model, folder, export_config)
        size = sum(p.stat().st_size for p in folder.iterdir())
        thumb = _thumbnail(meta.get("style"), folder / THUMBNAIL, config.thumbnail_size)
        if thumb is None:
            notes.append(f"{name}: style image {meta.get('style') or '(not recorded)'} not found; the page shows "
                         f"a placeholder thumbnail")
        arch = next((k for k, v in NETWORK_PRESETS.items() if v == net), "custom")
        models.append(SiteModel(name, d, arch, size, thumb))
    return models, notes


def _thumbnail(style, out: Path, side: int) -> Path | None:
    """Write a JPEG thumbnail of the style image ``style`` (longest side ``side``); None if it cannot
    be read."""
    from PIL import Image

    from ..io.images import ImageError, fit_size, load_image, resize, to_uint8

    if not isinstance(style, str) or not style:
        return None
    try:
        image = load_image(style)
    except ImageError:
        return None
    small = resize(image, fit_size(image.shape[:2], side))
    Image.fromarray(to_uint8(small), mode="RGB").save(out, format="JPEG", quality=85)
    return Path(style)


__all__ = ["build_site", "find_tfjs", "install_command", "style_names", "check_site_output", "SiteResult",
           "SiteModel", "TFJS_SCRIPTS", "TFJS_WASM", "MODELS_INDEX"]
