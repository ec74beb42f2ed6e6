"""``tfstyle video``: the real command on clips made here (frame count, fps, audio, sizes, frame
folders, bad inputs, interrupt and resume)."""

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from ffdata import TINY_NET
from PIL import Image

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

from video_clips import motion_clip, write_clip  # noqa: E402

from tfstyle.cli import main  # noqa: E402
from tfstyle.io.images import load_image  # noqa: E402
from tfstyle.video.codecs import probe, read_frames  # noqa: E402
from tfstyle.video import RUN_FILE, store_path  # noqa: E402


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from tfstyle.feedforward.networks import build_transform_net, save_model_dir

    d = tmp_path_factory.mktemp("model")
    save_model_dir(build_transform_net(TINY_NET, seed=1), TINY_NET, d, {})
    return d


@pytest.fixture(scope="module")
def clip(tmp_path_factory, shared_images):
    """12 frames, 24 fps, 80x60 px (4:3), a pan with sensor noise, and an AAC tone."""
    c = motion_clip(load_image(shared_images / "content" / "chelsea_cat.png"), (60, 80), 12, "pan", 1.3)
    p = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_clip(p, c.frames, fps=24, audio=True)
    return p


def _env():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["TFSTYLE_OFFLINE"] = "1"
    return env


def test_model_path_keeps_frames_fps_audio_and_aspect(clip, model_dir, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    assert main(["video", str(clip), "-o", str(out), "--model", str(model_dir), "--size", "48", "-q"]) == 0
    info = probe(out)
    assert (info.frames, info.fps, info.has_audio, info.width, info.height) == (12, Fraction(24), True, 48, 36)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no store, no temporaries
    # The model's frames (H.264 in yuv420p blurs the colours of a tiny random network's noisy output, so
    # the video's frame is compared against the input too; the frame folder below is exact).
    from tfstyle.feedforward.apply import StyleModel

    model = StyleModel(model_dir)
    frames = [f.image for f in read_frames(probe(clip), (36, 48))]
    want = model(frames[0].astype(np.float32) / 255)
    got = next(read_frames(info)).image.astype(np.float32) / 255
    assert np.abs(got - want).mean() < 0.5 * np.abs(got - frames[0] / 255).mean()

    # A folder of frames as output, then that folder (and a pattern) as input.
    folder = tmp_path / "frames"
    assert main(["video", str(clip), "-o", f"{folder}/", "--model", str(model_dir), "--size", "48",
                 "--blend", "0", "-q"]) == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"{i:06d}.png" for i in range(1, 13)]
    assert Image.open(folder / names[0]).size == (48, 36)
    first = np.asarray(Image.open(folder / names[0]), np.float32) / 255
    assert np.abs(first - want).max() < 1 / 255 + 1e-6  # PNG: exact up to 8-bit rounding
    for source in (str(folder), str(folder / "%06d.png")):
        again = tmp_path / "again.mkv"
        assert main(["video", source, "-o", str(again), "--model", str(model_dir), "--size", "48", "--fps", "12",
                     "--overwrite", "-q"]) == 0
        a = probe(again)
        assert (a.frames, a.fps, a.has_audio, a.width, a.height) == (12, Fraction(12), False, 48, 36)


def test_odd_sizes_round_to_even_for_video_and_stay_for_frames(clip, model_dir, tmp_path):
    out = tmp_path / "odd.mp4"
    assert main(["video", str(clip), "-o", str(out), "--model", str(model_dir), "--size", "41", "-q"]) == 0
    info = probe(out)
    assert (info.width, info.height) == (40, 30)  # 41x31 rounded down to even sides for yuv420p
    assert main(["video", str(clip), "-o", f"{tmp_path}/f/", "--model", str(model_dir), "--size", "41", "-q"]) == 0
    assert Image.open(tmp_path / "f" / "000001.png").size == (41, 31)


def test_default_size_keeps_the_clip_and_an_explicit_size_is_obeyed(clip, model_dir, tmp_path):
    # --model without --size: the clip's own 80x60, neither the old 512 px default nor a rescale.
    out = tmp_path / "own.mp4"
    assert main(["video", str(clip), "-o", str(out), "--model", str(model_dir), "--blend", "0", "-q"]) == 0
    info = probe(out)
    assert (info.width, info.height, info.frames) == (80, 60, 12)
    # An explicit --size still enlarges.
    out = tmp_path / "big.mp4"
    assert main(["video", str(clip), "-o", str(out), "--model", str(model_dir), "--size", "120", "--blend", "0",
                 "-q"]) == 0
    assert (probe(out).width, probe(out).height) == (120, 90)


def test_frame_size_rule():
    from tfstyle.config import StylizeConfig
    from tfstyle.video import frame_size

    small, large = probe_like(60, 80), probe_like(1080, 1920)
    cap = StylizeConfig().size
    assert frame_size(small, None, fast=True, cap=cap) == 80  # the model path keeps any clip's size
    assert frame_size(large, None, fast=True, cap=cap) == 1920
    assert frame_size(small, None, fast=False, cap=cap) == 80  # optimisation: never enlarged ...
    assert frame_size(large, None, fast=False, cap=cap) == cap  # ... and at most the cost limit
    assert frame_size(large, None, fast=False, cap=256) == 256  # (a preset's size is that limit)
    for fast in (True, False):  # an explicit size is obeyed, up or down
        assert frame_size(small, 200, fast=fast, cap=cap) == 200
        assert frame_size(large, 64, fast=fast, cap=cap) == 64


def probe_like(h, w):
    from types import SimpleNamespace

    return SimpleNamespace(height=h, width=w)


def _bad_video(kind, tmp_path, clip):
    p = tmp_path / "bad.mp4"
    if kind == "not a video":
        p.write_text("plain text\n" * 50)
    elif kind == "truncated":
        data = clip.read_bytes()
        p.write_bytes(data[: len(data) // 2])
    elif kind == "zero frames":
        import av

        with av.open(str(p), "w") as out:
            s = out.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
            out.start_encoding()
    elif kind == "unsupported codec":
        mkv = tmp_path / "ok.mkv"
        write_clip(mkv, [np.zeros((48, 64, 3), np.uint8)] * 3, codec="ffv1")
        p = tmp_path / "bad.mkv"
        p.write_bytes(mkv.read_bytes().replace(b"V_FFV1", b"V_XYZ9"))
    return p


@pytest.mark.parametrize("kind", ["not a video", "truncated", "zero frames", "unsupported codec", "missing model",
                                  "no model or style", "model and style", "existing output", "bad flag",
                                  "mask flag", "style not an image"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(kind, clip, model_dir, tmp_path, capsys, style_path):
    src, out = clip, tmp_path / "out" / "o.mp4"
    out.parent.mkdir()
    extra = ["--model", str(model_dir)]
    if kind in ("not a video", "truncated", "zero frames", "unsupported codec"):
        src = _bad_video(kind, tmp_path, clip)
    elif kind == "missing model":
        extra = ["--model", str(tmp_path / "nothing")]
    elif kind == "no model or style":
        extra = []
    elif kind == "model and style":
        extra += [str(style_path)]
    elif kind == "existing output":
        out.write_bytes(b"keep me")
    elif kind == "bad flag":
        extra += ["--blend", "1.5"]
    elif kind == "mask flag":
        extra = [str(style_path), "--content-mask", str(style_path)]
    elif kind == "style not an image":
        extra = [str(clip)]
    before = sorted(p.name for p in out.parent.iterdir())
    code = main(["video", str(src), *extra, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert sorted(p.name for p in out.parent.iterdir()) == before
    if kind == "existing output":
        assert out.read_bytes() == b"keep me"


def test_missing_video_extra_names_the_install_command(clip, model_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # "import av" raises ImportError
    code = main(["video", str(clip), "-o", str(tmp_path / "o.mp4"), "--model", str(model_dir)])
    err = capsys.readouterr().err
    assert code == 2 and 'pip install "tfstyle[video]"' in err and len(err.strip().splitlines()) == 1


def _cmd(clip, out, style, *extra):
    return [sys.executable, "-m", "tfstyle", "video", str(clip), str(style), "-o", str(out), "--size", "32",
            "--steps", "2", "--precision", "float32", "--content-layers", "block2_conv2",
            "--style-layers", "block1_conv1,block2_conv1", "-q", *extra]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_keeps_frames_and_resume_finishes(sig, clip, tmp_path, style_path):
    out = tmp_path / "o.mp4"
    store = store_path(out)
    proc = subprocess.Popen(_cmd(clip, out, style_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env())
    t0 = time.monotonic()
    while not (store / "000003.png").exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() - t0 < 180, "timed out"
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err.strip().splitlines()[-1], err
    assert not out.exists()  # never a half-written video
    kept = sorted(p.name for p in store.iterdir() if not p.name.startswith("."))
    assert 3 <= len(kept) < 12 and kept == [f"{i:06d}.png" for i in range(1, len(kept) + 1)]
    assert (store / RUN_FILE).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == [store.name]  # no temporary files
    first = (store / "000001.png").read_bytes()

    # Other settings: refused, the kept frames untouched.
    r = subprocess.run(_cmd(clip, out, style_path, "--resume", "--temporal-weight", "5"), capture_output=True,
                       text=True, timeout=120, env=_env())
    assert r.returncode == 2 and "another input" in r.stderr, r.stderr
    # A fresh run without --resume or --overwrite: refused too.
    r = subprocess.run(_cmd(clip, out, style_path), capture_output=True, text=True, timeout=120, env=_env())
    assert r.returncode == 2 and "--resume" in r.stderr, r.stderr

    r = subprocess.run(_cmd(clip, out, style_path, "--resume"), capture_output=True, text=True, timeout=300,
                       env=_env())
    assert r.returncode == 0, r.stderr
    info = probe(out)
    assert (info.frames, info.fps, info.has_audio) == (12, Fraction(24), True)
    assert not store.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mp4"]
    assert len(first) > 0


@pytest.mark.parametrize("kind", ["one frame", "odd sides", "rotated", "variable frame rate"])
def test_unusual_but_valid_clips(kind, model_dir, tmp_path):
    rng = np.random.default_rng(0)
    src = tmp_path / "in.mkv"
    pts = None
    if kind == "one frame":
        write_clip(src, [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)])
        want = (1, 64, 48)
    elif kind == "odd sides":
        write_clip(src, [rng.integers(0, 255, (37, 51, 3), dtype=np.uint8)] * 3, codec="ffv1")
        want = (3, 50, 36)  # 51x37 kept at its own size (--size 51), then even sides for H.264
    elif kind == "rotated":
        src = tmp_path / "in.mp4"
        write_clip(src, [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)] * 3, rotation=90)
        want = (3, 48, 64)  # upright: portrait
    else:
        src = tmp_path / "in.mp4"
        pts = [0, 40, 120, 130, 400]
        write_clip(src, [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)] * 5, pts=pts)
        want = (5, 64, 48)
    out = tmp_path / "out.mp4"
    size = "51" if kind == "odd sides" else "64"
    assert main(["video", str(src), "-o", str(out), "--model", str(model_dir), "--size", size, "-q"]) == 0
    info = probe(out)
    assert (info.frames, info.width, info.height, info.rotation, info.has_audio) == (*want, 0, False)
    if pts is not None:
        assert [round(f.time * 1000) for f in read_frames(info)] == pts
