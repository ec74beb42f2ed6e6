"""The native Winograd transforms (tfstyle.kernels.native): built once per cache by one process while
the others wait and load it, and where they cannot be had the TensorFlow-op transforms run and the
tool says why in its last line. Their arithmetic is tested with the convolutions (test_winograd.py)."""

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfstyle.kernels import native
from tfstyle.kernels.winograd import native_transforms
from tfstyle.config import NATIVE_CACHE_ENV, NATIVE_KERNELS_ENV

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))  # bench/video_clips.py makes the test clips

GXX = shutil.which("g++")
needs_compiler = pytest.mark.skipif(GXX is None, reason="no g++ here (CI installs it)")


def _compiler_log(tmp_path, fail: bool = False):
    """A $CXX that logs each call's arguments and then runs g++ (or fails like a compiler)."""
    log = tmp_path / "cxx.log"
    script = tmp_path / "cxx"
    body = ('echo "boom.cc:1:1: error: boom" >&2; exit 1' if fail else f'exec {GXX or "g++"} "$@"')
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo "$@" >> {log}
        {body}
        """))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script, log


def _builds(log) -> int:
    return sum("-shared" in line for line in log.read_text().splitlines()) if log.exists() else 0


def test_in_use_here_where_a_compiler_is():
    ops = native_transforms()
    if GXX is None:
        assert ops is None and "no C++ compiler" in native.status()
    else:
        assert ops is not None and native.status() == "native transforms"
        assert native.library_path() is not None and native.library_path().parent == native.cache_dir()


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv(NATIVE_KERNELS_ENV, "0")
    ops, line = native._load(None)
    assert ops is None and line == "TensorFlow-op transforms (TFSTYLE_NATIVE_KERNELS=0)"


def test_no_compiler_means_the_tensorflow_ops_and_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    ops, line = native._load(None)
    assert ops is None
    assert line == f"TensorFlow-op transforms, slower (no C++ compiler: {tmp_path / 'no-such-compiler'} not found)"


def test_a_failed_build_is_recorded_and_not_tried_again(monkeypatch, tmp_path):
    cxx, log = _compiler_log(tmp_path, fail=True)
    monkeypatch.setenv("CXX", str(cxx))
    monkeypatch.setenv(NATIVE_CACHE_ENV, str(tmp_path / "cache"))
    for _ in range(2):
        ops, line = native._load(None)
        assert ops is None and line == "TensorFlow-op transforms, slower (no native ones: cxx failed: boom.cc:1:1: error: boom)"
    assert _builds(log) == 1
    assert not list((tmp_path / "cache" / "kernels").glob("*.so*"))  # no half-written library


def test_an_unusable_cache_means_the_tensorflow_ops(monkeypatch, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv(NATIVE_CACHE_ENV, str(tmp_path / "file"))
    ops, line = native._load(None)
    assert ops is None and line.startswith("TensorFlow-op transforms, slower (no native ones: kernel cache ")
    assert "not writable" in line


@needs_compiler
def test_a_library_that_fails_the_check_is_not_used():
    ops, line = native._load(lambda ops: "their tiles differ from TensorFlow's")
    assert ops is None
    assert line == "TensorFlow-op transforms, slower (the native ones are not used: their tiles differ from TensorFlow's)"
    ops, line = native._load(lambda ops: 1 / 0)
    assert ops is None
    assert line == "TensorFlow-op transforms, slower (the native ones are not used: their check failed: division by zero)"


@needs_compiler
@pytest.mark.slow
def test_processes_starting_together_build_once_and_all_load_it(tmp_path):
    cxx, log = _compiler_log(tmp_path)
    env = {**os.environ, "CXX": str(cxx), NATIVE_CACHE_ENV: str(tmp_path / "cache")}
    code = ("import tfstyle, tensorflow as tf\n"
            "from tfstyle.kernels import native, winograd\n"
            "ops = winograd.native_transforms()\n"
            "print(native.status())\n")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    assert [o[0].strip() for o in outs] == ["native transforms"] * 2
    assert _builds(log) == 1
    built = list((tmp_path / "cache" / "kernels").glob("winograd_ops-*.so"))
    assert len(built) == 1 and not list(built[0].parent.glob("*.tmp"))
    # a later process loads it without building
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.stdout.strip() == "native transforms" and _builds(log) == 1


def _stylize(tmp_path, content_path, style_path, env):
    out = tmp_path / "out.png"
    r = subprocess.run([sys.executable, "-m", "tfstyle", "stylize", str(content_path), str(style_path), "-o", str(out),
                        "--size", "64", "--steps", "3", "--precision", "float32", "--conv-algorithm", "winograd",
                        "--overwrite"], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert np.asarray(Image.open(out)).shape[2] == 3
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"tfstyle: wrote {out}")
    return r.stderr, last


@needs_compiler
@pytest.mark.slow
def test_cli_says_when_it_compiles_and_how_the_convolutions_ran(tmp_path, content_path, style_path):
    env = {**os.environ, NATIVE_CACHE_ENV: str(tmp_path / "cache")}
    first, last = _stylize(tmp_path, content_path, style_path, env)
    assert "compiling the native Winograd transforms for this machine (once" in first
    assert "float32, Winograd convolutions, native transforms," in last
    again, last = _stylize(tmp_path, content_path, style_path, env)
    assert "compiling" not in again and "Winograd convolutions, native transforms," in last


@needs_compiler
@pytest.mark.slow
@pytest.mark.parametrize("command", ["train", "video"])
def test_train_and_video_say_when_they_compile(command, tmp_path, style_path, shared_images):
    """The loss network of ``tfstyle train`` and of an optimised ``tfstyle video`` builds the same library
    on first use, and says so before the pause as ``tfstyle stylize`` does."""
    from ffdata import make_photos

    from video_clips import motion_clip, write_clip

    from tfstyle.io.images import load_image

    layers = ["--content-layers", "block2_conv2", "--style-layers", "block1_conv1,block2_conv1",
              "--precision", "float32", "--conv-algorithm", "winograd", "-q"]
    if command == "train":
        photos = make_photos(tmp_path / "photos", shared_images, n=2, corrupt=0)
        args = [style_path, "--data", photos, "-o", tmp_path / "model", "--steps", "1", "--arch", "light",
                "--image-size", "32", "--style-size", "64", "--batch-size", "2", "--strategy", "default"]
    else:
        clip = tmp_path / "clip.mp4"
        frames = motion_clip(load_image(shared_images / "content" / "chelsea_cat.png"), (32, 48), 2, "pan", 1.0)
        write_clip(clip, frames.frames, fps=12)
        args = [clip, style_path, "-o", tmp_path / "out.mp4", "--size", "32", "--steps", "1"]
    cache = tmp_path / "cache"
    env = {**os.environ, NATIVE_CACHE_ENV: str(cache)}
    r = subprocess.run([sys.executable, "-m", "tfstyle", command, *map(str, args), *layers], capture_output=True,
                       text=True, timeout=300, env=env)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "compiling the native Winograd transforms for this machine (once" in r.stderr
    assert list((cache / "kernels").glob("winograd_ops-*.so"))  # the note was true: it built


@pytest.mark.slow
def test_cli_without_a_compiler_runs_and_says_why_it_is_slower(tmp_path, content_path, style_path):
    env = {**os.environ, "CXX": str(tmp_path / "no-such-compiler")}
    err, last = _stylize(tmp_path, content_path, style_path, env)
    assert "compiling" not in err
    assert "Winograd convolutions, TensorFlow-op transforms, slower (no C++ compiler" in last
