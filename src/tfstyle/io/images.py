"""Image loading, resizing and atomic saving.

The API boundary is a float32 RGB array in [0, 1] of shape (H, W, 3). Any Pillow mode loads
(L, LA, P with transparency, RGBA, CMYK, I;16, I, F) and EXIF orientation is applied.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageOps

from ..config import ConfigError
from .outputs import check_output

# Refuse images declaring more pixels than this before decoding them (a small file can declare a
# huge image: a decompression bomb; a 1 kB GIF can declare 16k x 16k). 2**27 = 134 M pixels covers
# any camera photo (102 MP medium format); its float32 RGB array alone is 1.6 GB.
MAX_PIXELS = 1 << 27
# VGG's deepest default style layer (block5_conv1) sits behind four poolings of stride 2.
MIN_SIDE = 16

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF",
                ".tiff": "TIFF", ".bmp": "BMP"}


class ImageError(ValueError):
    """An image cannot be read or written. The message is one line naming the file."""


def load_image(path: str | os.PathLike, notice: Callable[[str], None] | None = None,
               shrink_to: int | None = None) -> np.ndarray:
    """Read an image file.

    Args:
        path: any format Pillow reads. Animated images give their first frame.
        notice: called with a one-line message when the file is read in a way the user may not
            expect (e.g. only the first frame of an animation is used).
        shrink_to: if given, cheaply shrink large images (JPEG draft mode, integer box reduction)
            while the shorter side stays at least this many pixels: training pipelines need
            256 px crops, not 12-megapixel float arrays.

    Returns:
        float32 array (H, W, 3), RGB in [0, 1]. Transparent areas are composited on white.

    Raises:
        ImageError: missing, a directory, not a regular file, not an image, truncated, too large or
            too small. Nothing else: any failure of a decoder on a malformed file becomes ImageError.
    """
    p = _check_name(Path(path))
    try:
        st = os.stat(p)
    except OSError as e:
        if e.errno == errno.ENOENT:
            what = "broken symbolic link" if os.path.islink(p) else "no such file"
        elif e.errno == errno.ELOOP:
            what = "symbolic link loop"
        else:
            what = e.strerror or str(e)
        raise ImageError(f"{p}: cannot read ({what})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageError(f"{p}: is a directory, not an image")
    if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
        raise ImageError(f"{p}: not a regular file")
    if st.st_size == 0:
        raise ImageError(f"{p}: file is empty (0 bytes)")
    try:
        fh = open(p, "rb")
    except OSError as e:
        raise ImageError(f"{p}: cannot read ({e.strerror or e})") from None
    old_limit = Image.MAX_IMAGE_PIXELS
    try:
        # Pillow warns above MAX_IMAGE_PIXELS (turned into an error here) and refuses above twice it.
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        with fh, warnings.catch_warnings():
            # Decoders warn on harmless oddities (corrupt EXIF, odd chunks): the library stays quiet.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fh) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise ImageError(f"{p}: declares {w}x{h} pixels, more than the {MAX_PIXELS} allowed")
                frames = getattr(im, "n_frames", 1)
                im.seek(0)
                if shrink_to and im.format == "JPEG":
                    im.draft("RGB", (shrink_to, shrink_to))  # keeps each side >= the request
                try:
                    im = ImageOps.exif_transpose(im)
                except Exception:  # noqa: BLE001 - a broken EXIF block: use the pixels as stored
                    pass
                if shrink_to and im.mode in ("RGB", "RGBA", "L") and min(im.size) >= 2 * shrink_to:
                    im = im.reduce(min(im.size) // shrink_to)
                arr = _to_rgb_float(im)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{p}: declares an image too large to decode safely") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{p}: not an image Pillow can read") from None
    except MemoryError:
        raise ImageError(f"{p}: not enough memory to decode this image") from None
    except Exception as e:  # noqa: BLE001 - decoders raise many types on malformed files
        msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise ImageError(f"{p}: cannot decode image ({msg})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit
    h, w = arr.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageError(f"{p}: image is {w}x{h}; each side must be at least {MIN_SIDE} pixels")
    if frames > 1 and notice is not None:
        notice(f"{p}: has {frames} frames; using the first")
    return arr


def _check_name(p: Path) -> Path:
    """Refuse names no file can have (an embedded NUL, characters the file system cannot encode)."""
    try:
        if b"\0" in os.fsencode(p):
            raise ValueError
    except ValueError:
        raise ImageError(f"{os.fspath(p)!r}: not a valid file name") from None
    return p


def _to_rgb_float(im: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to float32 RGB in [0, 1], keeping 16-bit and float precision."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        a = np.clip(a / top, 0, 1)
        return np.repeat(a[..., None], 3, axis=2).astype(np.float32)
    if mode == "F":
        a = np.asarray(im, dtype=np.float64)
        a = np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=0.0)
        if a.max() > 1.0:  # float images in 0..255 or 0..65535 conventions
            a = a / (65535.0 if a.max() > 255 else 255.0)
        return np.repeat(np.clip(a, 0, 1)[..., None], 3, axis=2).astype(np.float32)
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        im = im.convert("RGBA")
    elif mode not in ("RGB", "RGBA"):
        im = im.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    a = np.array(im, dtype=np.float32)
    a /= 255.0  # in place: at the pixel limit every full-size temporary costs gigabytes
    if a.shape[-1] == 4:  # composite on white
        alpha = a[..., 3:4]
        a[..., :3] *= alpha
        a[..., :3] += 1.0 - alpha
    return np.ascontiguousarray(a[..., :3], dtype=np.float32)


def fit_size(hw: tuple[int, int], longest: int) -> tuple[int, int]:
    """(H, W) scaled so that the longest side is ``longest``, keeping the aspect ratio."""
    h, w = hw
    s = longest / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def resize(image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Resize a float RGB image to (H, W) with a high-quality filter (Lanczos down, bicubic up)."""
    h, w = hw
    if image.shape[:2] == (h, w):
        return image.astype(np.float32, copy=False)
    down = h * w < image.shape[0] * image.shape[1]
    flt = Image.Resampling.LANCZOS if down else Image.Resampling.BICUBIC
    # Resize each channel as a 32-bit float image: no 8-bit round trip.
    chans = [np.asarray(Image.fromarray(image[..., c].astype(np.float32), mode="F").resize((w, h), flt))
             for c in range(image.shape[2])]
    return np.clip(np.stack(chans, axis=-1), 0, 1).astype(np.float32)


def check_output_path(path: str | os.PathLike, overwrite: bool = True) -> Path:
    """Fail early (before minutes of work) if ``path`` cannot be written as an image."""
    p = Path(path)
    if p.suffix.lower() not in SAVE_FORMATS:
        raise ImageError(f"{p}: unknown output format {p.suffix or '(none)'}; use one of "
                         f"{', '.join(sorted(SAVE_FORMATS))}")
    _check_name(p)
    try:
        check_output(p, overwrite, ImageError, folder=False)
        parent = p.parent if str(p.parent) else Path(".")
    except OSError as e:  # e.g. name too long, permission denied on the way
        raise ImageError(f"{p}: cannot write ({e.strerror or e})") from None
    try:  # the same temporary name save_image will use (catches names too long to write, too)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise ImageError(f"{p}: cannot write in folder {parent} ({e.strerror})") from None
    return p


def to_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0, 1) * 255.0 + 0.5).astype(np.uint8)


def save_image(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write float RGB [0, 1] (H, W, 3) atomically: a temporary file in the same folder, then a rename.

    A reader never sees a half-written file, and an interrupted save leaves the old file intact.
    """
    p = Path(path)
    fmt = SAVE_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise ImageError(f"{p}: unknown output format {p.suffix or '(none)'}")
    pil = Image.fromarray(to_uint8(image), mode="RGB")
    kwargs = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    return atomic_write(p, lambda f: pil.save(f, format=fmt, **kwargs))


def _file_mode(path: Path) -> int:
    """The permissions ``open(path, "w")`` would give: the existing file's, else 0666 less the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path: Path, write) -> Path:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, fsync, then rename over ``path``."""
    parent = path.parent if str(path.parent) else Path(".")
    tmp = None
    try:  # mkstemp inside the try: an interrupt right after it must not leave the file behind
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
        os.fchmod(fd, _file_mode(path))  # mkstemp makes 0600; a plain open() would not
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            if tmp is not None:
                os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise ImageError(f"{path}: cannot write ({e.strerror or e})") from None
        raise
    return path


def as_image(x, what: str) -> np.ndarray:
    """An (H, W, 3) float32 RGB [0, 1] image from a path (loaded) or an array (checked and clipped).

    Raises:
        ImageError: not (H, W, 3), NaN or Inf values, a side under MIN_SIDE, or an unreadable file.
    """
    if isinstance(x, np.ndarray):
        a = np.asarray(x, np.float32)
        if a.ndim != 3 or a.shape[2] != 3:
            raise ImageError(f"{what} array must be (H, W, 3), got {a.shape}")
        if not np.isfinite(a).all():
            raise ImageError(f"{what} array has NaN or Inf values")
        if min(a.shape[:2]) < MIN_SIDE:
            raise ImageError(f"{what} array is {a.shape[1]}x{a.shape[0]}; each side must be "
                                     f"at least {MIN_SIDE} pixels")
        return np.clip(a, 0, 1)
    return load_image(x)


def style_shape(hw: tuple[int, int], side: int, index: int, count: int) -> tuple[int, int]:
    """(H, W) of style image ``index`` of ``count`` at longest side ``side``; ConfigError if a side
    falls under MIN_SIDE."""
    out = fit_size(hw, side)
    if min(out) < MIN_SIDE:
        which = "style image" if count == 1 else f"style image {index + 1}"
        raise ConfigError(f"at --size x --style-scale = {side} px the {which} ({hw[1]}x{hw[0]}) becomes "
                          f"{out[1]}x{out[0]}; each side must be at least {MIN_SIDE} px")
    return out


def output_shape(content_hw: tuple[int, int], size: int, what: str = "content image") -> tuple[int, int]:
    """Output (H, W) for a content image and the longest side; errors if a side falls under 16 px."""
    hw = fit_size(content_hw, size)
    if min(hw) < MIN_SIDE:
        raise ConfigError(f"at --size {size} the {what} ({content_hw[1]}x{content_hw[0]}) becomes "
                          f"{hw[1]}x{hw[0]}; each side must be at least {MIN_SIDE} px")
    return hw
