"""``tfstyle web``: trained models to a static site that stylises photos and the webcam in the browser."""

from __future__ import annotations

from ..config import WEB_HOST, WebConfig
from .flags import add_config_flags, config_from
from .output import note, quiet_tensorflow, say


def add_parser(sub) -> None:
    w = sub.add_parser("web", help="a web page that stylises photos and the webcam with LiteRT.js",
                       description="Write a self-contained static site (the app, LiteRT.js and TensorFlow.js, "
                                   "the models as .tflite files and TF.js graph models); it works offline. With --serve, serve it on "
                                   f"{WEB_HOST}. Without MODEL_DIR, --serve serves an existing site.")
    w.add_argument("models", nargs="*", metavar="MODEL_DIR",
                   help="model folders written by tfstyle train (the first is the default style)")
    w.add_argument("-o", "--output", required=True, metavar="SITE_DIR", help="the site folder to write")
    w.add_argument("--style", action="append", default=[], metavar="PAINTING",
                   help="an arbitrary-style model: a painting the page offers as a built-in style (repeat for "
                        "more); the page also takes the user's own")
    add_config_flags(w, WebConfig)
    w.add_argument("--overwrite", action="store_true", help="replace an existing site folder")
    w.add_argument("--serve", action="store_true", help=f"then serve the site on {WEB_HOST} until Ctrl-C")
    w.set_defaults(func=run)


def run(args) -> int:
    from ..feedforward.networks import read_model_json
    from ..web import SiteError
    from ..web.site import check_site_output, find_tfjs

    config = config_from(args, WebConfig)
    if not args.models:
        if not args.serve:
            raise SiteError("give at least one MODEL_DIR (or --serve to serve an existing site)")
        return _serve(args.output, config.port)
    # Everything that can be checked without TensorFlow fails here, in well under a second.
    check_site_output(args.output, args.overwrite)
    find_tfjs()
    for d in args.models:
        read_model_json(d)
    quiet_tensorflow()
    from ..web.site import build_site

    result = build_site(args.models, args.output, config, overwrite=args.overwrite,
                        progress=lambda name: say(f"exporting {name}"), style_images=args.style)
    for line in result.notes:
        note(line)
    say(f"wrote {result.path} ({len(result.models)} style(s), {result.bytes / 1e6:.1f} MB, "
        f"LiteRT.js {result.litert_version}, TensorFlow.js {result.tfjs_version})")
    if args.serve:
        return _serve(args.output, config.port)
    return 0


def _serve(site, port: int) -> int:
    from ..web.server import make_server, url_of

    server = make_server(site, port)
    say(f"serving {site} at {url_of(server)} (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        # Ctrl-C (or SIGTERM) is how a server stops: the site is complete, nothing is lost.
        say("stopped")
    finally:
        server.server_close()
    return 0
