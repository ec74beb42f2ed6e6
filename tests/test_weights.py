"""The VGG19 weight-file path: a notop h5 file in Keras's legacy layout, written here with h5py,
found via --weights, $TFSTYLE_VGG19_WEIGHTS or the Keras cache, loaded into the real model; bad
files and the fallback give one line."""

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from tfstyle.cli import main  # noqa: E402
from tfstyle.backbones.vgg import VGG19 as _VGG19, VGG19_LAYERS as VGG_LAYERS  # noqa: E402
from tfstyle.backbones.weights import resolve_weights  # noqa: E402

VGG19_WEIGHTS_FILE = _VGG19.weights_file

# VGG19's conv layers: (name, in channels, out channels).
_WIDTHS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
CONVS = []
_prev = 3
for _name in VGG_LAYERS:
    if "conv" in _name:
        _out = _WIDTHS[int(_name[5])]
        CONVS.append((_name, _prev, _out))
        _prev = _out


def write_vgg19_h5(path, seed=0, break_shape=False):
    """A VGG19 notop weight file in Keras's legacy h5 layout, with seeded random values."""
    rng = np.random.default_rng(seed)
    values = {}
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([b"input_1"] + [n.encode() for n in VGG_LAYERS])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        f.create_group("input_1").attrs["weight_names"] = np.array([], dtype="S1")
        convs = {n: (i, o) for n, i, o in CONVS}
        for name in VGG_LAYERS:
            g = f.create_group(name)
            if name not in convs:
                g.attrs["weight_names"] = np.array([], dtype="S1")
                continue
            cin, cout = convs[name]
            if break_shape and name == "block3_conv1":
                cin += 1
            kernel = (rng.standard_normal((3, 3, cin, cout)) * np.sqrt(2 / (9 * cin))).astype(np.float32)
            bias = rng.uniform(-0.1, 0.1, cout).astype(np.float32)
            g.attrs["weight_names"] = np.array([f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()])
            g.create_dataset(f"{name}/kernel:0", data=kernel)
            g.create_dataset(f"{name}/bias:0", data=bias)
            values[name] = (kernel, bias)
    return values


@pytest.fixture(scope="module")
def weight_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "vgg19_notop.h5"
    values = write_vgg19_h5(path)
    return path, values


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No weights anywhere: an empty Keras home, no env variable, no download."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.delenv("TFSTYLE_VGG19_WEIGHTS", raising=False)
    monkeypatch.setenv("TFSTYLE_OFFLINE", "1")
    return tmp_path / "keras_home"


def _assert_loaded(info, values):
    from tfstyle.backbones.extractor import build_model

    model = build_model(info)
    for name, (kernel, bias) in values.items():
        k, b = model.get_layer(name).get_weights()
        np.testing.assert_array_equal(k, kernel, err_msg=name)
        np.testing.assert_array_equal(b, bias, err_msg=name)


@pytest.mark.slow
def test_weights_flag_loads_file_values(weight_file, clean_env):
    path, values = weight_file
    info = resolve_weights("vgg19", str(path))
    assert info.source == "flag" and info.path == str(path) and not info.is_random
    _assert_loaded(info, values)


@pytest.mark.slow
def test_weights_env_loads_file_values(weight_file, clean_env, monkeypatch):
    path, values = weight_file
    monkeypatch.setenv("TFSTYLE_VGG19_WEIGHTS", str(path))
    info = resolve_weights("auto")
    assert info.source == "env" and info.path == str(path)
    _assert_loaded(info, values)


@pytest.mark.slow
def test_keras_cache_loads_file_values(weight_file, clean_env):
    path, values = weight_file
    (clean_env / "models").mkdir(parents=True)
    cached = clean_env / "models" / VGG19_WEIGHTS_FILE
    os.symlink(path, cached)
    info = resolve_weights("vgg19")
    assert info.source == "cache" and info.path == str(cached)
    _assert_loaded(info, values)


def _run(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


def _one_line(err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["flag", "env", "cache"])
def test_cli_uses_weight_file(how, weight_file, clean_env, monkeypatch, tmp_path, capsys,
                              content_path, style_path):
    path, _ = weight_file
    argv = ["stylize", str(content_path), str(style_path), "-o", str(tmp_path / "out.png"),
            "--size", "32", "--steps", "2", "--optimizer", "adam", "--precision", "float32", "-q"]
    if how == "flag":
        argv += ["--weights", str(path)]
    elif how == "env":
        monkeypatch.setenv("TFSTYLE_VGG19_WEIGHTS", str(path))
    else:
        (clean_env / "models").mkdir(parents=True)
        os.symlink(path, clean_env / "models" / VGG19_WEIGHTS_FILE)
    code, err = _run(argv + ["--backbone", "vgg19"], capsys)
    assert code == 0, err
    assert "random" not in err
    assert (tmp_path / "out.png").is_file()


def _bad_weight_files(tmp_path, weight_file):
    text = tmp_path / "text.h5"
    text.write_text("not an h5 file\n")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(weight_file[0].read_bytes()[:4096])
    wrong_shape = tmp_path / "wrong_shape.h5"
    write_vgg19_h5(wrong_shape, break_shape=True)
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f.attrs["layer_names"] = np.array([b"block1_conv1"])
        f.create_group("block1_conv1").attrs["weight_names"] = np.array([], dtype="S1")
    return [text, truncated, wrong_shape, empty]


@pytest.mark.slow
def test_bad_weight_files_fail_in_one_line(weight_file, clean_env, tmp_path, capsys, content_path,
                                           style_path):
    for bad in _bad_weight_files(tmp_path, weight_file):
        out = tmp_path / "out.png"
        code, err = _run(["stylize", str(content_path), str(style_path), "-o", str(out), "--size", "32",
                          "--steps", "1", "--weights", str(bad), "-q"], capsys)
        assert code == 2, (bad, err)
        line = _one_line(err)
        assert str(bad) in line and "not a VGG19 notop weight file" in line, line
        assert not out.exists()


def test_missing_weight_file_named(clean_env, tmp_path, capsys, content_path, style_path):
    missing = tmp_path / "nowhere.h5"
    code, err = _run(["stylize", str(content_path), str(style_path), "-o", str(tmp_path / "o.png"),
                      "--weights", str(missing)], capsys)
    assert code == 2
    assert str(missing) in _one_line(err) and "does not exist" in err


def test_missing_env_weight_file_named(clean_env, tmp_path, capsys, monkeypatch, content_path, style_path):
    missing = tmp_path / "nowhere.h5"
    monkeypatch.setenv("TFSTYLE_VGG19_WEIGHTS", str(missing))
    code, err = _run(["stylize", str(content_path), str(style_path), "-o", str(tmp_path / "o.png")], capsys)
    assert code == 2
    line = _one_line(err)
    assert str(missing) in line and "TFSTYLE_VGG19_WEIGHTS" in line


def test_backbone_vgg19_without_weights_says_where_to_put_them(clean_env, tmp_path, capsys,
                                                               content_path, style_path):
    out = tmp_path / "o.png"
    code, err = _run(["stylize", str(content_path), str(style_path), "-o", str(out),
                      "--backbone", "vgg19"], capsys)
    assert code == 2
    line = _one_line(err)
    assert VGG19_WEIGHTS_FILE in line
    assert str(clean_env / "models" / VGG19_WEIGHTS_FILE) in line  # where to put it
    assert "--weights" in line and "TFSTYLE_VGG19_WEIGHTS" in line
    assert not out.exists()


@pytest.mark.slow
def test_backbone_auto_fallback_says_so_in_one_line(tmp_path, content_path, style_path):
    """A real subprocess, with TF's own log level left to the CLI: exactly one NOTE line, then the
    result line; nothing else on stderr."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TFSTYLE_VGG19_WEIGHTS")}
    env.update(KERAS_HOME=str(tmp_path / "kh"), TFSTYLE_OFFLINE="1")
    out = tmp_path / "o.png"
    r = subprocess.run([sys.executable, "-m", "tfstyle", "stylize", str(content_path), str(style_path),
                        "-o", str(out), "--size", "32", "--steps", "2", "--optimizer", "adam", "-q"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    notes = [ln for ln in lines if "NOTE" in ln]
    assert len(notes) == 1 and "random-weight VGG19" in notes[0] and VGG19_WEIGHTS_FILE in notes[0], r.stderr
    assert lines == notes, r.stderr  # -q: nothing but the note
    assert out.is_file()


@pytest.mark.slow
def test_corrupt_weight_file_subprocess_one_line(weight_file, tmp_path, content_path, style_path):
    """Keras/h5py/TF must not add anything to stderr on the way to the error."""
    bad = tmp_path / "bad.h5"
    write_vgg19_h5(bad, break_shape=True)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = tmp_path / "o.png"
    r = subprocess.run([sys.executable, "-m", "tfstyle", "stylize", str(content_path), str(style_path),
                        "-o", str(out), "--size", "32", "--steps", "1", "--weights", str(bad)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 2
    line = _one_line(r.stderr)
    assert line.startswith("tfstyle: error: ") and str(bad) in line
    assert not out.exists()
