"""The browser app: a static site that stylises photos and the webcam with TensorFlow.js.

* :func:`tfstyle.web.site.build_site` writes the site: the app (``app/``: HTML, CSS, JavaScript), the
  TF.js files from npm (``package.json`` here pins them; ``npm ci`` fills ``node_modules`` beside it,
  or ``$TFSTYLE_TFJS_DIR`` names another one), each model exported as a TF.js graph model and a
  thumbnail of its style image.
* :func:`tfstyle.web.server.make_server` serves a site on 127.0.0.1 with the cross-origin isolation
  headers that WebAssembly threads need.

Nothing here prints; errors are :class:`SiteError` (one line).
"""

from __future__ import annotations


class SiteError(ValueError):
    """The site cannot be written or served (TF.js missing, output exists, port taken). One line."""


__all__ = ["SiteError"]
