"""The site's files for an arbitrary-style model (``tfstyle.feedforward.arbitrary``).

Written into the site's ``models/``::

    anystyle/predictor/model.json, ...      TF.js graph model: painting -> style vector
    anystyle/transformer/model.json, ...    TF.js graph model: [photo, style vector] -> picture
    styles/<name>.jpg                       a thumbnail of each built-in painting

and an ``"arbitrary"`` object in ``models.json`` naming both models, the vector size and the side the
prediction network sees; each built-in style carries its precomputed ``"vector"``, so the page runs the
prediction network only for a painting the user brings.

TF.js only: its graph models take any photo size and the two inputs by name, and they are the export
already checked against Keras (``export/arbitrary.py``); LiteRT.js would need one fixed-shape
signature per size and aspect for the transformer and a second model per site (docs/anystyle.md).
"""

from __future__ import annotations

from pathlib import Path

from ..config import ExportConfig, WebConfig
from . import SiteError
from .assets import thumbnail

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
    from ..export.arbitrary import write_pair
    from ..feedforward.arbitrary import ArbitraryModel
    from ..io.images import ImageError, load_image

    model = ArbitraryModel(model_dir)
    export_config = ExportConfig(format="tfjs", quantize=config.quantize).validate()
    (site / ANY_DIR).parent.mkdir(exist_ok=True)
    write_pair(model.predictor, model.transformer, site / ANY_DIR, export_config, model.style_dim)
    size = sum(p.stat().st_size for p in (site / ANY_DIR).rglob("*") if p.is_file())
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
           "style_dim": model.style_dim, "style_image_size": model.config.style_image_size, "bytes": size}
    return doc, entries, notes


__all__ = ["ANY_DIR", "STYLES_DIR", "write_arbitrary"]
