"""Video decoding and encoding (tfstyle.video.codecs): clips made here with PyAV, a few frames each."""

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

from video_clips import write_clip  # noqa: E402

from tfstyle.video.codecs import (FrameFolder, VideoError, VideoWriter, check_output, even_shape, probe,  # noqa: E402
                              read_frames)


def frames(n=12, hw=(48, 64), seed=0):
    """Frames with a marker: frame i is brighter by i (so order and count can be read back)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 120, (*hw, 3)).astype(np.uint8)
    return [np.clip(base.astype(int) + 10 * i, 0, 255).astype(np.uint8) for i in range(n)]


@pytest.fixture()
def clip(tmp_path):
    p = tmp_path / "clip.mp4"
    write_clip(p, frames(), fps=24, audio=True)
    return p


def test_probe_and_read_keep_count_fps_size_and_order(clip):
    info = probe(clip)
    assert (info.kind, info.frames, info.fps, info.width, info.height) == ("video", 12, Fraction(24), 64, 48)
    assert info.has_audio and info.rotation == 0
    got = list(read_frames(info))
    assert [f.index for f in got] == list(range(12))
    assert [round(f.time * 24) for f in got] == list(range(12))
    means = [f.image.mean() for f in got]
    assert all(b > a for a, b in zip(means, means[1:]))  # the brightness marker survives H.264
    small = next(read_frames(info, (24, 32)))
    assert small.image.shape == (24, 32, 3) and small.image.dtype == np.uint8


def test_writer_keeps_audio_timestamps_and_writes_atomically(clip, tmp_path):
    info = probe(clip)
    out = tmp_path / "out.mp4"
    w = VideoWriter(out, (48, 64), info.fps, info.time_base)
    for f in read_frames(info):
        w.write(f.image, f.pts)
        assert not out.exists()  # only the hidden temporary file grows
    w.finish(audio_from=clip)
    again = probe(out)
    assert (again.frames, again.fps, again.width, again.height, again.has_audio) == (12, Fraction(24), 64, 48, True)
    import av

    with av.open(str(clip)) as a, av.open(str(out)) as b:
        packets = [sum(1 for p in c.demux(c.streams.audio[0]) if p.size) for c in (a, b)]
    assert packets[0] == packets[1] > 0  # every audio packet copied
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out.mp4"]  # no temporaries left


def test_writer_abort_leaves_nothing(tmp_path):
    w = VideoWriter(tmp_path / "o.mkv", (48, 64), Fraction(25), Fraction(1, 25))
    w.write(frames(1)[0], 0)
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_variable_frame_rate_rotation_odd_sides_and_one_frame(tmp_path):
    vfr = tmp_path / "vfr.mp4"
    pts = [0, 40, 80, 200, 240, 400]
    write_clip(vfr, frames(6), fps=25, pts=pts)
    assert [round(f.time * 1000) for f in read_frames(probe(vfr))] == pts
    out = tmp_path / "vfr_out.mp4"
    info = probe(vfr)
    w = VideoWriter(out, (48, 64), info.fps, info.time_base)
    for f in read_frames(info):
        w.write(f.image, f.pts)
    w.finish()
    assert [round(f.time * 1000) for f in read_frames(probe(out))] == pts  # still variable

    rot = tmp_path / "rot.mp4"
    raw = frames(2)
    raw[0][:8, :8] = 255  # a white corner, top left as stored
    write_clip(rot, raw, rotation=90)
    info = probe(rot)
    assert (info.rotation, info.width, info.height) == (90, 48, 64)
    first = next(read_frames(info)).image
    assert first.shape == (64, 48, 3)
    # 90 degrees counterclockwise: the stored top-left corner is shown bottom-left.
    assert first[-8:, :8].mean() > 200 and first[:8, :8].mean() < 200

    one = tmp_path / "one.mkv"
    write_clip(one, [np.full((37, 51, 3), 90, np.uint8)], codec="ffv1")  # odd sides, one frame, no audio
    info = probe(one)
    assert (info.frames, info.width, info.height, info.has_audio) == (1, 51, 37, False)
    assert even_shape((37, 51)) == (36, 50)


def test_frame_folders_and_image_sequences(tmp_path):
    store = FrameFolder(tmp_path / "f")
    for i, f in enumerate(frames(5)):
        store.write(i, f)
    assert store.count() == 5 and store.path(0).name == "000001.png"
    for source in (tmp_path / "f", str(tmp_path / "f" / "%06d.png"), str(tmp_path / "f" / "*.png")):
        info = probe(source, fps=10)
        assert (info.kind, info.frames, info.fps) == ("frames", 5, Fraction(10))
        got = [f.image for f in read_frames(info)]
        assert all(np.array_equal(a, b) for a, b in zip(got, frames(5)))  # PNG is lossless
        assert [f.time for f in read_frames(info)] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


@pytest.mark.parametrize("case", ["not a video", "truncated", "zero frames", "unsupported codec", "empty",
                                  "missing", "empty folder", "no match"])
def test_bad_inputs_are_one_line(case, tmp_path, clip):
    p = tmp_path / "bad.mp4"
    if case == "not a video":
        p.write_text("this is a text file, not a video\n" * 20)
    elif case == "truncated":
        import av

        fast = tmp_path / "fast.mp4"
        with av.open(str(fast), "w", options={"movflags": "faststart"}) as out:  # index first, then the data
            s = out.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
            rng = np.random.default_rng(0)
            for i in range(24):
                f = av.VideoFrame.from_ndarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), format="rgb24")
                f.pts = i
                for pk in s.encode(f):
                    out.mux(pk)
            for pk in s.encode(None):
                out.mux(pk)
        data = fast.read_bytes()
        p.write_bytes(data[: len(data) // 2])
    elif case == "zero frames":
        import av

        with av.open(str(p), "w") as out:
            s = out.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
            out.start_encoding()
    elif case == "unsupported codec":
        mkv = tmp_path / "ok.mkv"
        write_clip(mkv, frames(3), codec="ffv1")
        data = mkv.read_bytes()
        assert data.count(b"V_FFV1") == 1
        p = tmp_path / "bad.mkv"
        p.write_bytes(data.replace(b"V_FFV1", b"V_XYZ9"))  # a codec id no FFmpeg knows
    elif case == "empty":
        p.write_bytes(b"")
    elif case == "missing":
        p = tmp_path / "nope.mp4"
    elif case == "empty folder":
        p = tmp_path / "frames"
        p.mkdir()
    elif case == "no match":
        p = str(tmp_path / "shots_%04d.png")
    with pytest.raises(VideoError) as e:
        probe(p)
    assert "\n" not in str(e.value) and str(Path(p).name) in str(e.value), str(e.value)


def test_check_output(tmp_path):
    assert check_output(tmp_path / "o.mp4") == (tmp_path / "o.mp4", False)
    assert check_output(str(tmp_path / "frames") + "/") == (tmp_path / "frames", True)
    assert check_output(tmp_path) == (tmp_path, True)  # an existing folder
    for bad, word in ((tmp_path / "o.avi", "unknown output format"), (tmp_path / "no" / "o.mp4", "does not exist")):
        with pytest.raises(VideoError, match=word):
            check_output(bad)
    (tmp_path / "o.mp4").write_bytes(b"x")
    with pytest.raises(VideoError, match="--overwrite"):
        check_output(tmp_path / "o.mp4")


def test_importing_tfstyle_loads_neither_av_nor_cv2():
    code = ("import sys, tfstyle, tfstyle.cli, tfstyle.video, tfstyle.video.codecs, tfstyle.video.flow, tfstyle.objective.temporal; "
            "import importlib; importlib.import_module('tfstyle.cli.main').build_parser(); print('av' in sys.modules, 'cv2' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]
