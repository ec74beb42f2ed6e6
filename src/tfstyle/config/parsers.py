"""Errors, checks and parsers of settings: one-line ``ConfigError`` messages for values out of range."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

MAX_SIZE = 16384
MAX_STEPS = 1_000_000
_FLOAT32_MAX = 3.4028234663852886e38


class ConfigError(ValueError):
    """A configuration value is out of range or inconsistent. Message is one line."""


def _h(text: str, **extra) -> dict:
    return {"help": text, **extra}


def _positive_int(name: str, value, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _finite(name: str, value, positive: bool) -> None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    if abs(v) > _FLOAT32_MAX:  # the math runs in float32: this would become inf
        raise ConfigError(f"{name} must be at most {_FLOAT32_MAX:.3g} in size (float32), got {value!r}")
    if positive and v <= 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}")
    if not positive and v < 0:
        raise ConfigError(f"{name} must be >= 0, got {value!r}")


def _choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def parse_style_layers(text: str) -> tuple[tuple[str, float], ...]:
    """Parse ``"block1_conv1:0.5,block2_conv1"`` into ``(("block1_conv1", 0.5), ("block2_conv1", 1.0))``."""
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, weight = item.partition(":")
        if weight:
            try:
                w = float(weight)
            except ValueError:
                raise ConfigError(f"style layer weight {weight!r} of {name} is not a number") from None
        else:
            w = 1.0
        out.append((name.strip(), w))
    if not out:
        raise ConfigError(f"no style layers in {text!r}")
    return tuple(out)


def parse_floats(text: str, what: str) -> tuple[float, ...]:
    """Parse ``"0.7,0.3"`` into ``(0.7, 0.3)``."""
    out = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        try:
            out.append(float(item))
        except ValueError:
            raise ConfigError(f"{what}: {item!r} is not a number") from None
    if not out:
        raise ConfigError(f"{what}: no numbers in {text!r}")
    return tuple(out)


def parse_paths(text: str, what: str) -> tuple[str, ...]:
    """Parse ``"a.png,b.png"`` into ``("a.png", "b.png")``."""
    out = tuple(t.strip() for t in text.split(",") if t.strip())
    if not out:
        raise ConfigError(f"{what}: no file names in {text!r}")
    return out


def parse_scales(text: str | int | Sequence[int], size: int) -> tuple[int, ...] | None:
    """Parse ``--scales``: ``"auto"`` gives None; ``"256,512"`` gives the longest sides, coarse to fine
    (the Python API may also pass one int, one scale, or a sequence of ints such as ``(256, 512)``).

    ``size`` is appended when the list stops below it; every value must be >= 16, strictly increasing
    and at most ``size``.
    """
    if isinstance(text, (list, tuple)):
        text = ",".join(str(v) for v in text)
    text = str(text)
    if text.strip().lower() == "auto":
        return None
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"scales must be 'auto' or comma-separated integers, got {text!r}") from None
    if not values:
        raise ConfigError(f"no scales in {text!r}")
    if any(v < 16 for v in values):
        raise ConfigError(f"scales must be >= 16 px, got {text!r}")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ConfigError(f"scales must increase strictly (coarse to fine), got {text!r}")
    if values[-1] > size:
        raise ConfigError(f"scale {values[-1]} is larger than --size {size}")
    if values[-1] < size:
        values.append(size)
    return tuple(values)


def parse_layers(text: str) -> tuple[str, ...]:
    """Parse ``"block4_conv2,block5_conv2"`` into a tuple of names."""
    out = tuple(s.strip() for s in text.split(",") if s.strip())
    if not out:
        raise ConfigError(f"no layers in {text!r}")
    return out


def parse_ints(text: str, what: str) -> tuple[int, ...]:
    """Parse ``"2,4"`` into ``(2, 4)``; an empty text gives ``()``."""
    out = []
    for item in (t.strip() for t in text.split(",")):
        if not item:
            continue
        try:
            out.append(int(item))
        except ValueError:
            raise ConfigError(f"{what}: {item!r} is not an integer") from None
    return tuple(out)


# Memory sizes as people type them (--memory-limit): binary units (K, M, G, T with or without "iB")
# as free, top and Docker read them, decimal units (KB, MB, GB, TB) as disk makers write them.
MEMORY_UNITS = {"": 2**30, "k": 2**10, "ki": 2**10, "kib": 2**10, "m": 2**20, "mi": 2**20, "mib": 2**20,
                "g": 2**30, "gi": 2**30, "gib": 2**30, "t": 2**40, "ti": 2**40, "tib": 2**40,
                "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}


def parse_memory(text: str, what: str = "memory") -> float:
    """Parse ``"3GiB"``, ``"3G"``, ``"3000MB"`` or ``"3.5"`` (GiB) into GiB as a float.

    Raises:
        ConfigError: not a non-negative finite number with one of ``MEMORY_UNITS`` (one line).
    """
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    unit = m.group(2).lower() if m else None
    if unit not in MEMORY_UNITS:
        raise ConfigError(f"{what}: {text!r} is not a memory size; give e.g. 3GiB, 3G, 3000MB or 3.5 (GiB)")
    gib = float(m.group(1)) * MEMORY_UNITS[unit] / 2**30
    if not math.isfinite(gib):
        raise ConfigError(f"{what}: {text!r} is too large")
    return gib


def parse_steps(text: str) -> int | str:
    """``--steps``: a whole number, or ``auto``."""
    text = str(text).strip()
    if text.lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"steps must be a whole number or auto, got {text!r}") from None
