"""The site's files for an arbitrary-style model (``tfstyle.feedforward.arbitrary``).

Written into the site's ``models/``::

    anystyle/predictor/model.json, ...      TF.js graph model: painting -> style vector
    anystyle/transformer/model.json, ...    TF.js graph model: [photo, style vector] -> picture
    anystyle/predictor_<S>.tflite           LiteRT.js: painting (1, S, S, 3) -> vector (1, style_dim),
                                            S the model's style_image_size
    anystyle/transformer_<size>.tflite      LiteRT.js: one per processing size, one signature per
                                            aspect ratio, inputs image (1, H, W, 3) and style (1, style_dim)
    styles/<name>.jpg                       a thumbnail of each built-in painting

and an ``"arbitrary"`` object in ``models.json`` naming the TF.js models (``"predictor"``,
``"transformer"``), the LiteRT.js files (``"litert"``: ``"predictor"`` {file, bytes, shapes} and
``"transformer"`` {size: {file, bytes, shapes}}, the per-style sites' form), the vector size and the
side the prediction network sees. Each built-in style carries its precomputed ``"vector"``, so the page
runs the prediction network only for a painting the user brings (or for the photo's own vector below
full strength).

The page runs both networks on LiteRT.js where it starts and the processing size has a file, TF.js
otherwise, as for per-style sites. The LiteRT.js prediction network takes a square: the page gives it
the painting's centre square (the shape of the training crops), TF.js and Keras the whole painting at
longest side S. ``--litert-sizes none`` writes TF.js only.
"""

from __future__ import annotations

from pathlib import Path

from ..config import ExportConfig, WebConfig
from . import SiteError
from .assets import thumbnail, write_litert

ANY_DIR = "models/anystyle"
STYLES_DIR = "models/styles"


def write_arbitrary(model_dir: Path, site: Path, config: WebConfig, style_images, names
                    ) -> tuple[dict, list[dict], list[str]]:
    """Export ``model_dir``'s two models into ``site`` and compute the built-in styles' vectors.

    Args:
        style_images: paths of the built-in paintings. names: one unique name per painting.

    Returns:
        (the "arbitrary" object of models.json, its style entries, notes).

    Raises:
        SiteError: a painting cannot be read (one line; the caller removes the staging folder).
    """
    from ..config import litert_shapes
    from ..export.arbitrary import transformer_endpoint, write_pair
    from ..feedforward.arbitrary import ArbitraryModel
    from ..io.images import ImageError, load_image

    model = ArbitraryModel(model_dir)
    export_config = ExportConfig(format="tfjs", quantize=config.quantize).validate()
    folder = site / ANY_DIR
    folder.parent.mkdir(exist_ok=True)
    write_pair(model.predictor, model.transformer, folder, export_config, model.style_dim)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    litert, litert_bytes = _write_litert_pair(model, folder, litert_shapes(config.litert_sizes, config.litert_aspects),
                                              transformer_endpoint(model.transformer, model.style_dim))
    (site / STYLES_DIR).mkdir(parents=True)
    entries = []
    for name, path in zip(names, style_images):
        try:
            image = load_image(path)
        except ImageError as e:
            raise SiteError(f"--style {e}") from None
        thumb = thumbnail(str(path), site / STYLES_DIR / f"{name}.jpg", config.thumbnail_size)
        entries.append({"name": name, "vector": [round(float(x), 7) for x in model.style_vector(image)],
                        "thumbnail": f"{STYLES_DIR}/{name}.jpg" if thumb else "placeholder.svg",
                        "arch": "any style"})
    notes = [] if entries else ["no built-in styles (--style PAINTING adds one); the page asks for a painting"]
    doc = {"predictor": f"{ANY_DIR}/predictor/model.json", "transformer": f"{ANY_DIR}/transformer/model.json",
           "style_dim": model.style_dim, "style_image_size": model.config.style_image_size, "bytes": size,
           "litert": litert, "litert_bytes": litert_bytes}
    return doc, entries, notes


def _write_litert_pair(model, folder: Path, shapes: dict, endpoint) -> tuple[dict, int]:
    """The LiteRT.js files of both networks (none without LiteRT.js sizes): (models.json's "litert",
    their bytes).

    The transformer's files are the per-style ones with a second input, ``style`` (1, style_dim); the
    prediction network's is one more file of one shape, (S, S) with S the style_image_size: LiteRT.js
    runs fixed shapes only and the prediction runs once per painting, so one square serves every
    painting.
    """
    if not shapes:
        return {}, 0
    side = model.config.style_image_size
    serve, signature = endpoint
    transformer = write_litert(model.transformer, folder, shapes, prefix="transformer", endpoint=serve,
                               input_signature=signature)
    predictor = write_litert(model.predictor, folder, {side: [(side, side)]}, prefix="predictor")[side]

    def in_site(entry):  # file names -> paths in the site
        return {**entry, "file": f"{ANY_DIR}/{entry['file']}"}

    doc = {"predictor": in_site(predictor), "transformer": {str(k): in_site(v) for k, v in transformer.items()}}
    return doc, predictor["bytes"] + sum(v["bytes"] for v in transformer.values())


__all__ = ["ANY_DIR", "STYLES_DIR", "write_arbitrary"]
