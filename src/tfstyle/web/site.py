"""Writing the browser app's static site.

A site folder holds::

    index.html, app.js, logic.js, litert.js, style.css, ...    the app (copied from ``app/``)
    litert/*.js, litert/*.wasm                                 LiteRT.js 2.x from npm (two builds)
    tfjs/*.min.js, tfjs/*.wasm                                 TensorFlow.js 4.x from npm
    models/models.json                                         the styles: name, models, thumbnail
    models/<name>/litert_<size>.tflite                         LiteRT.js: one file per size, one
                                                               signature per aspect ratio
    models/<name>/model.json, group1-shard*.bin                TF.js: a graph model of any size
    models/<name>/style.jpg                                    a thumbnail of its style image

The runtimes' files are listed in ``runtime.json`` (site path -> path under ``node_modules``); a
source checkout takes them from ``node_modules`` (``npm ci``), an installed wheel from ``vendor/``,
where the build put them (setup.py).

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
from .assets import thumbnail, write_litert

APP_DIR = Path(__file__).parent / "app"
PACKAGE_DIR = Path(__file__).parent
# Inside an installed wheel: the runtimes' files, laid out as under node_modules (setup.py).
VENDOR_DIR = PACKAGE_DIR / "vendor"
# The app's own files, copied as they are.
APP_FILES = ("index.html", "app.js", "logic.js", "litert.js", "style.css", "placeholder.svg")
RUNTIME = json.loads((PACKAGE_DIR / "runtime.json").read_text(encoding="utf-8"))
# Site path -> path under node_modules. TF.js as separate bundles (core, the three backends, the
# graph-model converter): 1.2 MB instead of the 1.6 MB of tf.min.js + the wasm backend, which would
# add the Layers and Data APIs the app never uses. LiteRT.js: the module, its helper (the page maps
# its bare import with an import map) and two of its four WebAssembly builds, threads and "compat"
# (app/litert.js says why these two).
RUNTIME_FILES: dict[str, str] = RUNTIME["site"]
TFJS_SCRIPTS = tuple(v for k, v in RUNTIME_FILES.items() if k.startswith("tfjs/") and k.endswith(".js"))
TFJS_WASM = tuple(v for k, v in RUNTIME_FILES.items() if k.startswith("tfjs/") and k.endswith(".wasm"))
TFJS_MAJOR = RUNTIME["majors"]["tfjs"]
MODELS_INDEX = "models/models.json"
THUMBNAIL = "style.jpg"
_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def install_command(package_dir: Path = PACKAGE_DIR) -> str:
    """The command that fills ``node_modules`` beside ``package.json`` (what CI runs)."""
    return f"npm ci --ignore-scripts --prefix {package_dir}"


def find_runtimes(node_modules: str | os.PathLike | None = None) -> Path:
    """The folder holding the browser runtimes (TF.js and LiteRT.js, laid out as ``node_modules``):
    ``node_modules``, else ``$TFSTYLE_TFJS_DIR``, else the ``node_modules`` beside this package's
    ``package.json`` (a source checkout after ``npm ci``), else the wheel's ``vendor/``.

    Raises:
        SiteError: a file the site needs is missing, or a runtime's major version is not the one the
            app is written for; the message names the command that installs them.
    """
    given = node_modules or os.environ.get(TFJS_DIR_ENV)
    if given:
        root = Path(given)
    else:
        root = PACKAGE_DIR / "node_modules"
        if not root.is_dir() and VENDOR_DIR.is_dir():
            root = VENDOR_DIR
    missing = [p for p in (*RUNTIME_FILES.values(), *RUNTIME["versions"].values()) if not (root / p).is_file()]
    if missing:
        raise SiteError(f"TensorFlow.js and LiteRT.js are not installed ({root / missing[0]} is missing): run "
                        f"`{install_command()}`, or set {TFJS_DIR_ENV} to a node_modules folder holding "
                        f"@tensorflow/tfjs 4.x, @tensorflow/tfjs-backend-wasm 4.x and @litertjs/core 2.x")
    for name, major in RUNTIME["majors"].items():
        version = runtime_version(root, name)
        if not version.startswith(major + "."):
            raise SiteError(f"{root}: {RUNTIME['versions'][name].split('/package.json')[0]} {version} found, the "
                            f"app needs {major}.x: run `{install_command()}`")
    return root


# The name the command line and older callers use.
find_tfjs = find_runtimes


def runtime_version(node_modules: Path, name: str) -> str:
    """The version of runtime ``name`` ("tfjs", "litert") in ``node_modules`` ("?" if unreadable)."""
    try:
        return str(json.loads((node_modules / RUNTIME["versions"][name]).read_text())["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return "?"


def tfjs_version(node_modules: Path) -> str:
    """The version of ``@tensorflow/tfjs-core`` in ``node_modules`` ("?" if unreadable)."""
    return runtime_version(node_modules, "tfjs")


@dataclass
class SiteModel:
    """One style of a written site.

    Attributes:
        name: its name on the page and in ``?style=NAME``.
        model_dir: the model folder it came from.
        arch: "standard", "light" or "custom" (from the network's settings).
        bytes: size of its TF.js files (model.json and shards).
        thumbnail: the style image the thumbnail was made from; None: the placeholder.
        litert_bytes: size of its LiteRT.js files (one .tflite per size).
    """

    name: str
    model_dir: Path
    arch: str
    bytes: int
    thumbnail: Path | None
    litert_bytes: int = 0


@dataclass
class SiteResult:
    """What :func:`build_site` wrote: the site folder, its styles, its total size, and notes (one line
    each) about things the user may want to know (e.g. a style image that was not found)."""

    path: Path
    models: list[SiteModel]
    bytes: int
    tfjs_version: str
    notes: list[str] = field(default_factory=list)
    litert_version: str = "?"


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


def painting_names(paths) -> list[str]:
    """One unique, URL- and file-safe name per painting: its file name without the suffix."""
    return style_names([Path(os.path.splitext(str(p))[0]) for p in paths])


def check_site_output(out: str | os.PathLike, overwrite: bool) -> Path:
    """Fail early, before any model is exported, if the site cannot be written at ``out``."""
    return check_output(out, overwrite, SiteError, folder=True)


def build_site(model_dirs, out: str | os.PathLike, config: WebConfig | None = None, overwrite: bool = False,
               node_modules: str | os.PathLike | None = None,
               progress: Callable[[str], None] | None = None, style_images=()) -> SiteResult:
    """Write the static site for ``model_dirs`` into the folder ``out``.

    Args:
        model_dirs: model folders written by ``tfstyle train`` (at least one); the first is the
            page's default style.
        out: the site folder (must not exist unless ``overwrite``).
        config: quantisation of the models, LiteRT.js sizes, thumbnail size (default ``WebConfig()``).
        node_modules: where the runtimes are (default: see :func:`find_runtimes`).
        progress: called with the name of each style before it is exported.
        style_images: an arbitrary-style model (alone in ``model_dirs``): the paintings the page offers
            as built-in styles, their vectors computed here (``web/anystyle.py``).

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
    runtimes = find_runtimes(node_modules)
    for d in model_dirs:  # every folder is checked before the first export starts
        read_model_json(d)
    arbitrary = _check_arbitrary(model_dirs, style_images)
    parent = out.parent if str(out.parent) else Path(".")
    staging = parent / f".{out.name}.{os.getpid()}.staging"
    remove_path(staging)
    try:
        staging.mkdir()
        for name in APP_FILES:
            shutil.copyfile(APP_DIR / name, staging / name)
        for site_path, rel in RUNTIME_FILES.items():
            (staging / site_path).parent.mkdir(exist_ok=True)
            shutil.copyfile(runtimes / rel, staging / site_path)
        if arbitrary:
            from .anystyle import write_arbitrary

            if progress is not None:
                progress(Path(os.path.abspath(model_dirs[0])).name)
            any_doc, entries, notes = write_arbitrary(model_dirs[0], staging, config, list(style_images),
                                                      painting_names(style_images))
            models = [SiteModel(e["name"], model_dirs[0], "any style", 0, Path(p))
                      for e, p in zip(entries, style_images)]
        else:
            models, entries, notes = _write_models(model_dirs, staging, config, progress)
        index = {"tfjs": tfjs_version(runtimes), "litert": runtime_version(runtimes, "litert"),
                 "scripts": [Path(s).name for s in TFJS_SCRIPTS], "quantize": config.quantize,
                 "styles": entries}
        if arbitrary:
            index["arbitrary"] = any_doc
        (staging / MODELS_INDEX).write_text(json.dumps(index, indent=1), encoding="utf-8")
        total = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
        replace_path(staging, out)
    finally:
        remove_path(staging)
    return SiteResult(out, models, total, tfjs_version(runtimes), notes, runtime_version(runtimes, "litert"))


def _check_arbitrary(model_dirs, style_images) -> bool:
    """True for one arbitrary-style model; a one-line SiteError for a mix of kinds, or for paintings given
    to per-style models."""
    from ..feedforward.networks import model_kind

    kinds = [model_kind(d) for d in model_dirs]
    if "arbitrary" not in kinds:
        if style_images:
            raise SiteError("--style needs an arbitrary-style model (one trained with --styles); "
                            f"{model_dirs[0]} is a per-style model")
        return False
    if len(model_dirs) > 1:
        raise SiteError("an arbitrary-style model makes a site on its own: give it alone (its styles with --style)")
    from ..io.images import ImageError, load_image

    for p in style_images:  # read before anything is exported: a bad painting fails at once
        if not Path(p).is_file():
            raise SiteError(f"--style {p}: no such file")
        try:
            load_image(p)
        except ImageError as e:
            raise SiteError(f"--style {e}") from None
    return True


def _write_models(model_dirs, site: Path, config: WebConfig, progress
                  ) -> tuple[list[SiteModel], list[dict], list[str]]:
    """Each style's files and its entry in models.json.

    An entry names each runtime's model separately ("model": the TF.js graph model; "litert": per
    size its .tflite and the (height, width) of its signatures), so that the page's loading code
    knows nothing of what the model is for: an arbitrary-style site's "arbitrary" object names its
    two networks' files the same way (``web/anystyle.py``).
    """
    from ..config import NETWORK_PRESETS, litert_shapes
    from ..export import tfjs
    from ..feedforward.networks import load_model_dir

    export_config = ExportConfig(format="tfjs", quantize=config.quantize).validate()
    shapes = litert_shapes(config.litert_sizes, config.litert_aspects)
    (site / "models").mkdir()
    models, entries, notes = [], [], []
    for name, d in zip(style_names(model_dirs), model_dirs):
        if progress is not None:
            progress(name)
        keras_model, net, meta = load_model_dir(d)
        folder = site / "models" / name
        tfjs.write(keras_model, folder, export_config)
        size = sum(p.stat().st_size for p in folder.iterdir())
        litert = write_litert(keras_model, folder, shapes)
        litert_bytes = sum(v["bytes"] for v in litert.values())
        thumb = thumbnail(meta.get("style"), folder / THUMBNAIL, config.thumbnail_size)
        if thumb is None:
            notes.append(f"{name}: style image {meta.get('style') or '(not recorded)'} not found; the page shows "
                         f"a placeholder thumbnail")
        arch = next((k for k, v in NETWORK_PRESETS.items() if v == net), "custom")
        models.append(SiteModel(name, d, arch, size, thumb, litert_bytes))
        entries.append({"name": name, "arch": arch, "bytes": size, "model": f"models/{name}/model.json",
                        "litert": {str(k): {**v, "file": f"models/{name}/{v['file']}"} for k, v in litert.items()},
                        "thumbnail": f"models/{name}/{THUMBNAIL}" if thumb else "placeholder.svg"})
    return models, entries, notes


__all__ = ["build_site", "find_tfjs", "find_runtimes", "runtime_version", "install_command", "style_names",
           "check_site_output", "SiteResult", "SiteModel", "TFJS_SCRIPTS", "TFJS_WASM", "RUNTIME_FILES", "MODELS_INDEX"]
