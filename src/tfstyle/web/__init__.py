"""The browser app: a static site that stylises photos and the webcam with LiteRT.js (TensorFlow.js
where LiteRT.js cannot run).

* :func:`tfstyle.web.site.build_site` writes the site: the app (``app/``: HTML, CSS, JavaScript), the
  LiteRT.js and TF.js files from npm (``package.json`` here pins them; ``npm ci`` fills
  ``node_modules`` beside it, a wheel carries them in ``vendor/``, or ``$TFSTYLE_TFJS_DIR`` names
  another folder), each model exported as fixed-shape ``.tflite`` files and a TF.js graph model,
  and a thumbnail of its style image.
* :func:`tfstyle.web.server.make_server` serves a site on 127.0.0.1 with the cross-origin isolation
  headers that WebAssembly threads need.

Nothing here prints; errors are :class:`SiteError` (one line).
"""

from __future__ import annotations


class SiteError(ValueError):
    """The site cannot be written or served (runtimes missing, output exists, port taken). One line."""


__all__ = ["SiteError"]
