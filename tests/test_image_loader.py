"""The image loader: every Pillow mode and EXIF orientation gives the right values; every hostile
file gives one ImageError naming the file; fuzzed bytes give an image or ImageError, nothing else."""

import io
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tfstyle.io import images as imageio
from tfstyle.io.images import ImageError, load_image

H, W = 20, 24  # small, above the 16 px minimum, not square (catches transposes)


def _save(tmp_path, name, im, **kw):
    p = tmp_path / name
    im.save(p, **kw)
    return p


def _grey(arr2d):
    return np.repeat(arr2d[..., None], 3, axis=2)


# ---- modes: values, not just shapes ------------------------------------------------------------

def test_mode_L(tmp_path):
    a = (np.arange(H * W).reshape(H, W) % 256).astype(np.uint8)
    out = load_image(_save(tmp_path, "l.png", Image.fromarray(a, "L")))
    assert out.dtype == np.float32 and out.shape == (H, W, 3)
    np.testing.assert_allclose(out, _grey(a / 255.0), atol=1e-6)


def test_mode_LA_composites_on_white(tmp_path):
    lum = np.full((H, W), 100, np.uint8)
    alpha = np.zeros((H, W), np.uint8)
    alpha[:, W // 2:] = 255
    alpha[0, 0] = 128
    out = load_image(_save(tmp_path, "la.png", Image.fromarray(np.dstack([lum, alpha]), "LA")))
    np.testing.assert_allclose(out[5, 1], 1.0)  # transparent -> white
    np.testing.assert_allclose(out[5, -1], 100 / 255, atol=1e-6)  # opaque -> its value
    a = 128 / 255
    np.testing.assert_allclose(out[0, 0], 100 / 255 * a + (1 - a), atol=1e-6)


def test_mode_RGBA_composites_on_white(tmp_path):
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 64
    out = load_image(_save(tmp_path, "rgba.png", Image.fromarray(rgba, "RGBA")))
    a = 64 / 255
    np.testing.assert_allclose(out[3, 3], [200 / 255 * a + 1 - a, 1 - a, 1 - a], atol=1e-6)


def _palette_image():
    idx = np.zeros((H, W), np.uint8)
    idx[:, 8:16] = 1
    idx[:, 16:] = 2
    im = Image.fromarray(idx, "P")
    im.putpalette([255, 0, 0, 0, 0, 255, 10, 20, 30] + [0] * (256 * 3 - 9))
    return im


def test_mode_P(tmp_path):
    out = load_image(_save(tmp_path, "p.png", _palette_image()))
    np.testing.assert_allclose(out[0, 0], [1, 0, 0])
    np.testing.assert_allclose(out[0, 10], [0, 0, 1])
    np.testing.assert_allclose(out[0, 20], np.array([10, 20, 30]) / 255, atol=1e-6)


@pytest.mark.parametrize("fmt", ["png", "gif"])
def test_mode_P_with_transparency(tmp_path, fmt):
    im = _palette_image()
    out = load_image(_save(tmp_path, f"pt.{fmt}", im, transparency=1))
    assert Image.open(tmp_path / f"pt.{fmt}").mode == "P"
    np.testing.assert_allclose(out[0, 0], [1, 0, 0])
    np.testing.assert_allclose(out[0, 10], [1, 1, 1])  # the transparent index -> white
    np.testing.assert_allclose(out[0, 20], np.array([10, 20, 30]) / 255, atol=1e-6)


def test_mode_CMYK(tmp_path):
    cmyk = np.zeros((H, W, 4), np.uint8)
    cmyk[:, :8, 0] = 255  # pure cyan
    cmyk[:, 8:16, 3] = 255  # pure black
    p = _save(tmp_path, "cmyk.tif", Image.fromarray(cmyk, "CMYK"))
    assert Image.open(p).mode == "CMYK"
    out = load_image(p)
    np.testing.assert_allclose(out[0, 0], [0, 1, 1])
    np.testing.assert_allclose(out[0, 10], [0, 0, 0])
    np.testing.assert_allclose(out[0, 20], [1, 1, 1])


def test_cmyk_jpeg(tmp_path):
    cmyk = np.zeros((H, W, 4), np.uint8)
    cmyk[..., 1] = 255  # magenta
    p = _save(tmp_path, "cmyk.jpg", Image.fromarray(cmyk, "CMYK"), quality=100)
    out = load_image(p)
    np.testing.assert_allclose(out[10, 10], [1, 0, 1], atol=0.03)


def test_16bit_png_keeps_precision(tmp_path):
    a = np.linspace(0, 65535, H * W).reshape(H, W).astype(np.uint16)
    a[0, 0] = 257  # 1/255 in 16 bits; would be 257/255 > 1 if read as 8-bit
    p = _save(tmp_path, "g16.png", Image.fromarray(a))
    assert Image.open(p).mode.startswith("I;16")
    np.testing.assert_allclose(load_image(p), _grey(a / 65535.0), atol=1e-6)


def test_16bit_tiff(tmp_path):
    a = np.linspace(0, 65535, H * W).reshape(H, W).astype(np.uint16)
    p = _save(tmp_path, "g16.tif", Image.fromarray(a))
    np.testing.assert_allclose(load_image(p), _grey(a / 65535.0), atol=1e-6)


def _png_rgb16(path, rgb16):
    """A 48-bit RGB PNG written by hand (Pillow cannot write one)."""
    h, w, _ = rgb16.shape
    raw = b"".join(b"\0" + rgb16[y].astype(">u2").tobytes() for y in range(h))

    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
                     + chunk(b"IEND", b""))
    return path


def test_48bit_rgb_png(tmp_path):
    rgb = np.zeros((H, W, 3), np.uint16)
    rgb[..., 0] = 0xFFFF
    rgb[..., 1] = 0x8000
    rgb[..., 2] = 0x0100
    out = load_image(_png_rgb16(tmp_path / "rgb48.png", rgb))
    # Pillow reads 16-bit RGB as 8-bit RGB (high byte).
    np.testing.assert_allclose(out[4, 4], [1.0, 128 / 255, 1 / 255], atol=1e-6)


def test_mode_I_32bit_tiff(tmp_path):
    a = np.linspace(0, 65535, H * W).reshape(H, W).astype(np.int32)
    p = _save(tmp_path, "i32.tif", Image.fromarray(a, "I"))
    assert Image.open(p).mode == "I"
    np.testing.assert_allclose(load_image(p), _grey(a / 65535.0), atol=1e-6)


def test_mode_F_float_tiff(tmp_path):
    a = np.linspace(0, 1, H * W).reshape(H, W).astype(np.float32)
    a[0, 0] = np.nan
    a[0, 1] = 7.0  # out of [0, 1]: the 0..255 convention
    p = _save(tmp_path, "f.tif", Image.fromarray(a, "F"))
    out = load_image(p)
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(out[5:, :, 0], a[5:] / 255.0, atol=1e-6)  # scaled as 0..255 data
    a2 = np.linspace(0, 1, H * W).reshape(H, W).astype(np.float32)
    out2 = load_image(_save(tmp_path, "f2.tif", Image.fromarray(a2, "F")))
    np.testing.assert_allclose(out2, _grey(a2), atol=1e-6)


def test_mode_1(tmp_path):
    a = np.zeros((H, W), bool)
    a[:, ::2] = True
    p = _save(tmp_path, "bw.png", Image.fromarray(a).convert("1"))
    assert Image.open(p).mode == "1"
    np.testing.assert_allclose(load_image(p), _grey(a.astype(np.float64)))


# ---- EXIF orientation --------------------------------------------------------------------------

def _pattern():
    """Blocky, asymmetric RGB pattern that survives JPEG at quality 100."""
    a = np.zeros((16, 32, 3), np.uint8)
    a[:8, :8] = (255, 0, 0)
    a[:8, 8:16] = (0, 255, 0)
    a[8:, 24:] = (0, 0, 255)
    a[8:, :8] = (255, 255, 0)
    return a


_EXPECT = {  # EXIF orientation -> what a viewer shows, from the stored pixels
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: np.transpose(a, (1, 0, 2)),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, -1)[::-1],
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_exif_orientation(tmp_path, orientation, fmt):
    a = _pattern()
    im = Image.fromarray(a)
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = _save(tmp_path, f"o{orientation}.{fmt}", im, exif=exif.tobytes(), **({"quality": 100, "subsampling": 0} if fmt == "jpg" else {}))
    out = load_image(p)
    want = _EXPECT[orientation](a) / 255.0
    assert out.shape == want.shape
    np.testing.assert_allclose(out, want, atol=0.1 if fmt == "jpg" else 1e-6)


def test_broken_exif_still_loads(tmp_path):
    a = _pattern()
    p = _save(tmp_path, "badexif.jpg", Image.fromarray(a), quality=100, subsampling=0, exif=b"Exif\0\0II*\0\xff\xff\xff\x7f")
    out = load_image(p)
    np.testing.assert_allclose(out, a / 255.0, atol=0.1)


# ---- animations ----------------------------------------------------------------------------------

def _frames():
    return [Image.fromarray(np.full((H, W, 3), c, np.uint8)) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]


@pytest.mark.parametrize("fmt", ["gif", "png", "webp"])
def test_animated_first_frame_and_notice(tmp_path, fmt):
    frames = _frames()
    p = tmp_path / f"anim.{fmt}"
    extra = {"lossless": True} if fmt == "webp" else {}
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0, **extra)
    assert getattr(Image.open(p), "n_frames", 1) == 3
    notes = []
    out = load_image(p, notice=notes.append)
    np.testing.assert_allclose(out[5, 5], [1, 0, 0], atol=0.02)
    assert len(notes) == 1 and str(p) in notes[0] and "3 frames" in notes[0] and "first" in notes[0]
    notes.clear()
    load_image(_save(tmp_path, "still.png", frames[1]), notice=notes.append)
    assert notes == []


# ---- hostile files: ImageError naming the file and the problem ----------------------------------

def _png_header_only(path, w, h):
    def chunk(t, data):
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


def _gif_bomb(path, w, h):
    """A ~40 byte GIF whose logical screen is w x h, with one 1x1 frame: Pillow decodes it to a
    full-size canvas."""
    head = b"GIF89a" + struct.pack("<HHBBB", w, h, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    path.write_bytes(head + frame + b"\x3b")
    return path


def hostile_files(d):
    """(path, words the message must contain). Shared with the CLI tests."""
    d.mkdir(parents=True, exist_ok=True)
    good = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(good, "PNG")
    good_jpg = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(good_jpg, "JPEG")
    cases = []

    def add(name, words, data=None):
        p = d / name
        if data is not None:
            p.write_bytes(data)
        cases.append((p, words))
        return p

    add("empty.png", ["empty"], b"")
    add("truncated.png", ["cannot decode"], good.getvalue()[: len(good.getvalue()) // 2])
    add("truncated.jpg", ["cannot decode"], good_jpg.getvalue()[: len(good_jpg.getvalue()) // 2])
    add("text.jpg", ["not an image"], b"this is a text file, not a JPEG\n" * 10)
    add("page.svg", ["not an image"], b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"/>')
    add("doc.pdf", ["not an image"], b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    (d / "adir").mkdir(exist_ok=True)
    add("adir", ["directory"])
    loop = d / "loop.png"
    if not loop.is_symlink():
        os.symlink(loop.name, loop)
    cases.append((loop, ["symbolic link loop"]))
    broken = d / "broken.png"
    if not broken.is_symlink():
        os.symlink("does-not-exist.png", broken)
    cases.append((broken, ["broken symbolic link"]))
    fifo = d / "fifo.png"
    if not fifo.exists():
        os.mkfifo(fifo)
    cases.append((fifo, ["not a regular file"]))
    cases.append((d / "missing.png", ["no such file"]))
    for w, h in ((1, 1), (3, 3), (20000, 5), (5, 20000)):
        p = d / f"px{w}x{h}.png"
        Image.new("RGB", (w, h), (10, 20, 30)).save(p)
        cases.append((p, [f"{w}x{h}", "at least 16"]))
    cases.append((_png_header_only(d / "bomb.png", 100_000, 100_000), ["declares"]))
    cases.append((_gif_bomb(d / "bomb.gif", 16_000, 16_000), ["declares"]))
    return cases


def test_hostile_files_raise_one_line_image_error(tmp_path):
    for path, words in hostile_files(tmp_path / "h"):
        with pytest.raises(ImageError) as e:
            load_image(path)
        msg = str(e.value)
        assert "\n" not in msg and str(path) in msg, msg
        for w in words:
            assert w in msg, (path, msg)


def test_bomb_files_are_small_and_refused_before_decoding(tmp_path):
    before = Image.MAX_IMAGE_PIXELS
    gif = _gif_bomb(tmp_path / "b.gif", 12_000, 12_000)  # 144 M pixels: just over the limit
    assert gif.stat().st_size < 100
    with pytest.raises(ImageError, match="declares"):
        load_image(gif)
    # The same trick under the limit decodes (its canvas is filled): the limit is what stops it.
    ok = _gif_bomb(tmp_path / "ok.gif", 64, 48)
    out = load_image(ok)
    assert out.shape == (48, 64, 3)
    assert Image.MAX_IMAGE_PIXELS == before  # Pillow's global limit is restored


def test_unreadable_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    p = tmp_path / "secret.png"
    Image.new("RGB", (32, 32)).save(p)
    p.chmod(0)
    with pytest.raises(ImageError, match="Permission denied"):
        load_image(p)


def test_invalid_names():
    for name in ("a\0b.png", "\udcff\0.png"):
        with pytest.raises(ImageError, match="not a valid file name"):
            load_image(name)


# ---- fuzzing -------------------------------------------------------------------------------------

def _seed_images():
    rng = np.random.default_rng(1)
    rgb = Image.fromarray(rng.integers(0, 255, (20, 24, 3), np.uint8))
    out = []
    for fmt, im, kw in [
        ("PNG", rgb, {}), ("JPEG", rgb, {"quality": 90}), ("BMP", rgb, {}), ("WEBP", rgb, {}),
        ("TIFF", Image.fromarray(rng.uniform(0, 1, (20, 24)).astype(np.float32), "F"), {}),
        ("PNG", Image.fromarray((rng.uniform(0, 1, (20, 24)) * 65535).astype(np.uint16)), {}),
        ("PNG", _palette_image(), {"transparency": 1}),
        ("GIF", _frames()[0], {"save_all": True, "append_images": _frames()[1:]}),
        ("TIFF", rgb.convert("CMYK"), {}),
    ]:
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        out.append(buf.getvalue())
    return out


SEEDS = _seed_images()


@st.composite
def mutated_images(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "header"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 16))]
        else:  # rewrite a 4-byte field in the header region (sizes, offsets, counts live there)
            j = draw(st.integers(0, min(40, len(data))))
            data[j:j + 4] = draw(st.binary(min_size=4, max_size=4))
    return bytes(data)


def _check_loader_contract(path):
    try:
        out = load_image(path)
    except ImageError as e:
        assert "\n" not in str(e) and str(path) in str(e)
        return
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    assert out.ndim == 3 and out.shape[2] == 3 and min(out.shape[:2]) >= imageio.MIN_SIDE
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0


_FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])


@_FUZZ
@given(data=st.one_of(st.binary(max_size=2048), mutated_images()))
def test_fuzz_loader_returns_image_or_image_error(tmp_path, monkeypatch, data):
    # A smaller pixel limit bounds the memory a mutated header can ask for; the contract is the same.
    monkeypatch.setattr(imageio, "MAX_PIXELS", 2048 * 2048)
    p = tmp_path / "fuzz.img"
    p.write_bytes(data)
    _check_loader_contract(p)


def test_seed_images_load(tmp_path):
    for i, data in enumerate(SEEDS):
        p = tmp_path / f"seed{i}"
        p.write_bytes(data)
        out = load_image(p)
        assert out.shape[:2] == (20, 24)
