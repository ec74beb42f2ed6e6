"""Command-line flags generated from the config dataclasses: help, choices and defaults come from
``tfstyle.config``, so a default changed there changes here."""

from __future__ import annotations

import argparse
import dataclasses

from ..config import ConfigError, parse_layers, parse_style_layers

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message):
        # A carriage return or newline inside an argument would break the one-line error.
        message = message.replace("\r", "\\r").replace("\n", "\\n")
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def add_config_flags(p: argparse.ArgumentParser, cls, helps: dict[str, str] | None = None) -> None:
    """One flag per dataclass field; help, choices and defaults come from the dataclass (``helps``:
    a command's own help for a field whose default means something else there)."""
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        kw = {"dest": f.name, "default": None, "help": (helps or {}).get(f.name) or
              f"{f.metadata.get('help', '')} (default: {show(f.default)})"}
        if "choices" in f.metadata:
            kw["choices"] = f.metadata["choices"]
        if "metavar" in f.metadata:
            kw["metavar"] = f.metadata["metavar"]
        if "parse" in f.metadata:
            kw["type"] = _wrap(f.metadata["parse"])
        elif f.name == "style_layers":
            kw["type"] = _wrap(parse_style_layers)
        elif f.name == "content_layers":
            kw["type"] = _wrap(parse_layers)
        elif isinstance(f.default, bool):
            kw["action"] = argparse.BooleanOptionalAction
        elif isinstance(f.default, int):
            kw["type"] = int
        elif isinstance(f.default, float):
            kw["type"] = float
        p.add_argument(flag, **kw)


def show(v) -> str:
    if v == ():
        return "none"
    if isinstance(v, tuple) and v and isinstance(v[0], tuple):
        return ",".join(f"{n}:{w:g}" for n, w in v)
    if isinstance(v, tuple):
        return ",".join(map(str, v))
    return str(v)


def _wrap(fn):
    def parse(text):
        try:
            return fn(text)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = fn.__name__
    return parse


def config_from(args, cls):
    """The validated config of the flags given (a ``--preset`` first, explicit flags override it)."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name) is not None}
    preset = getattr(args, "preset", None)
    if preset is not None:
        return cls.from_preset(preset, **given).validate()
    return cls(**given).validate()
