"""Hostile input to ``tfstyle stylize``: exit 2, one line on stderr naming the file or flag and the
problem, no traceback, no output file, no temporary files. Cheap cases call ``main()`` in-process;
a few run the real command to show nothing else (TF logs, warnings) reaches stderr."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tfstyle.cli import main
from tfstyle.io.state import save_state, state_path

sys.path.insert(0, str(Path(__file__).parent))
from test_image_loader import hostile_files  # noqa: E402


def run_main(argv, capsys):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.err


def one_line(err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def leftovers(folder):
    """Temporary files a write may have left behind."""
    return [p.name for p in Path(folder).iterdir() if p.name.startswith(".") or p.name.endswith(".tmp")]


@pytest.fixture
def outdir(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    return d


# ---- image files ---------------------------------------------------------------------------------

@pytest.mark.parametrize("position", ["content", "style"])
def test_hostile_image_files(position, tmp_path, outdir, capsys, content_path, style_path):
    for bad, words in hostile_files(tmp_path / "h"):
        out = outdir / "o.png"
        c, s = (bad, style_path) if position == "content" else (content_path, bad)
        code, err = run_main(["stylize", c, s, "-o", out, "--size", "32", "--steps", "1"], capsys)
        assert code == 2, (bad, err)
        line = one_line(err)
        assert line.startswith("tfstyle: error: ") and str(bad) in line, line
        for w in words:
            assert w in line, (w, line)
        assert not out.exists() and leftovers(outdir) == []


def test_hostile_files_fail_before_tensorflow_loads(tmp_path):
    """A real process: bad inputs are refused before TensorFlow is imported (a fraction of a second),
    and nothing but the one line reaches stderr even with TF's log level left to the CLI."""
    cases = hostile_files(tmp_path / "h")
    good = tmp_path / "good.png"
    Image.new("RGB", (32, 32), (1, 2, 3)).save(good)
    code = ("import sys, json\nfrom tfstyle.cli import main\nres = []\n"
            "for bad in json.loads(sys.argv[1]):\n"
            "    res.append(main(['stylize', bad, sys.argv[2], '-o', sys.argv[3]]))\n"
            "print(json.dumps([res, 'tensorflow' in sys.modules]))\n")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    r = subprocess.run([sys.executable, "-c", code, json.dumps([str(p) for p, _ in cases]), str(good),
                        str(tmp_path / "o.png")], capture_output=True, text=True, timeout=120, env=env)
    codes, tf_loaded = json.loads(r.stdout)
    assert codes == [2] * len(cases)
    assert tf_loaded is False
    lines = r.stderr.splitlines()
    assert len(lines) == len(cases) and all(ln.startswith("tfstyle: error: ") for ln in lines), r.stderr


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["truncated.jpg", "adir"])
def test_real_command_hostile_file(kind, tmp_path, style_path):
    bad = dict((p.name, p) for p, _ in hostile_files(tmp_path / "h"))[kind]
    out = tmp_path / "o.png"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    r = subprocess.run([sys.executable, "-m", "tfstyle", "stylize", str(bad), str(style_path), "-o", str(out)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 2
    assert str(bad) in one_line(r.stderr)
    assert not out.exists()


# ---- flags ---------------------------------------------------------------------------------------

BAD_FLAGS = [
    (["--size", "0"], "size"), (["--size", "-5"], "size"), (["--size", "15"], "size"),
    (["--size", "nan"], "--size"), (["--size", "abc"], "--size"), (["--size", "100000"], "size"),
    (["--size", "1.5"], "--size"),
    (["--steps", "0"], "steps"), (["--steps", "-1"], "steps"), (["--steps", "2000000"], "steps"),
    (["--steps", "lots"], "--steps"), (["--stop-margin", "1"], "stop_margin"), (["--stop-margin", "-0.1"], "stop_margin"),
    (["--lr-cooldown", "0"], "lr_cooldown"), (["--iterate-average", "2"], "iterate_average"),
    (["--lr", "-1"], "lr"), (["--lr", "nan"], "lr"), (["--lr", "inf"], "lr"),
    (["--lr", "1e39"], "lr"), (["--lr", "x"], "--lr"),
    (["--lr-decay", "0"], "lr_decay"), (["--lr-decay", "2"], "lr_decay"), (["--lr-decay", "nan"], "lr_decay"),
    (["--content-weight", "-1"], "content_weight"), (["--content-weight", "nan"], "content_weight"),
    (["--style-weight", "-inf"], "--style-weight"), (["--style-weight=-inf"], "style_weight"), (["--tv-weight", "-0.1"], "tv_weight"),
    (["--content-weight", "0", "--style-weight", "0"], "both be 0"),
    (["--style-layers", ""], "--style-layers"), (["--style-layers", ",,"], "--style-layers"),
    (["--style-layers", "block1_conv1:abc"], "block1_conv1"),
    (["--style-layers", "block1_conv1:-1"], "block1_conv1"),
    (["--style-layers", "block1_conv1:nan"], "block1_conv1"),
    (["--style-layers", "block1_conv1:0,block2_conv1:0"], "style layer weights"),
    (["--style-layers", "block9_conv1"], "block9_conv1"), (["--style-layers", "conv1_1"], "conv1_1"),
    (["--content-layers", "nope"], "nope"), (["--content-layers", ","], "--content-layers"),
    (["--content-layers", "block4_conv2,fc1"], "fc1"),
    (["--seed", "-1"], "seed"), (["--seed", "1e3"], "--seed"),
    (["--save-every", "-1"], "--save-every"),
    (["--optimizer", "sgd"], "--optimizer"), (["--init", "zeros"], "--init"),
    (["--lr-schedule", "linear"], "--lr-schedule"), (["--conv-algorithm", "fft"], "--conv-algorithm"),
    (["--precision", "half"], "--precision"), (["--backbone", "resnet"], "--backbone"),
    (["--conv-algorithm", "winograd", "--network", "resnet50"], "VGG"),
    (["--conv-algorithm", "winograd", "--precision", "mixed"], "float32"),
    (["--no-such-flag"], "--no-such-flag"),
]


@pytest.mark.parametrize("flags,word", BAD_FLAGS, ids=[" ".join(f) for f, _ in BAD_FLAGS])
def test_bad_flag_values(flags, word, outdir, capsys, content_path, style_path):
    out = outdir / "o.png"
    code, err = run_main(["stylize", content_path, style_path, "-o", out] + flags, capsys)
    assert code == 2, err
    line = one_line(err)
    assert word in line, line
    assert not out.exists() and leftovers(outdir) == []


def test_missing_arguments(capsys, content_path):
    for argv in ([], ["stylize"], ["stylize", content_path], ["stylize", content_path, content_path],
                 ["paint"]):
        code, err = run_main(argv, capsys)
        assert code == 2
        one_line(err)


# ---- output --------------------------------------------------------------------------------------

def test_output_problems(tmp_path, capsys, content_path, style_path):
    (tmp_path / "adir.png").mkdir()
    (tmp_path / "file").write_text("x")
    cases = [
        (tmp_path / "missing" / "o.png", "does not exist"),
        (tmp_path / "file" / "o.png", "does not exist"),
        (Path("/sys/o.png"), "cannot write"),  # not writable, even for root
        (tmp_path / "adir.png", "is a directory"),
        (tmp_path / "o.gifx", "unknown output format"),
        (tmp_path / "noext", "unknown output format"),
        (tmp_path / ("x" * 250 + ".png"), "cannot write"),  # name too long once made temporary
    ]
    for out, words in cases:
        code, err = run_main(["stylize", content_path, style_path, "-o", out], capsys)
        assert code == 2, (out, err)
        line = one_line(err)
        assert str(out) in line and words in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir.png", "file"]


def test_existing_output_is_not_overwritten(tmp_path, capsys, content_path, style_path):
    out = tmp_path / "o.png"
    out.write_bytes(b"precious")
    code, err = run_main(["stylize", content_path, style_path, "-o", out, "--size", "32"], capsys)
    assert code == 2
    assert "already exists" in one_line(err) and "--overwrite" in err
    assert out.read_bytes() == b"precious"
    # A symlink at the output path counts as existing too.
    link = tmp_path / "link.png"
    os.symlink(tmp_path / "elsewhere.png", link)
    code, err = run_main(["stylize", content_path, style_path, "-o", link], capsys)
    assert code == 2 and "already exists" in one_line(err)


@pytest.mark.slow
def test_overwrite_replaces_output(tmp_path, capsys, content_path, style_path):
    out = tmp_path / "o.png"
    out.write_bytes(b"old")
    code, err = run_main(["stylize", content_path, style_path, "-o", out, "--size", "32", "--steps", "2",
                          "--optimizer", "adam", "--overwrite", "-q"], capsys)
    assert code == 0, err
    assert Image.open(out).size == (32, 21)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png"]  # no state, no temporaries


def test_newline_in_file_name_stays_one_line(tmp_path, capsys, style_path):
    bad = tmp_path / "two\nlines.png"
    bad.write_text("not an image")
    code, err = run_main(["stylize", bad, style_path, "-o", tmp_path / "o.png"], capsys)
    assert code == 2
    assert "two\\nlines.png" in one_line(err)


# ---- saved states for --resume ------------------------------------------------------------------

def _npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _meta(**kw):
    meta = {"version": 1, "step": 2, "optimizer": "adam", "fingerprint": "x", "n_slots": 0,
            "history": {"total": [1.0, 0.5]}}
    meta.update(kw)
    return np.frombuffer(json.dumps(meta).encode(), np.uint8)


def _good_image():
    return np.full((21, 32, 3), 0.5, np.float32)


STATE_CASES = {
    "zero bytes": lambda p: p.write_bytes(b""),
    "random bytes": lambda p: p.write_bytes(os.urandom(300)),
    "text": lambda p: p.write_text("step=5\n"),
    "truncated zip": lambda p: (_npz(p, image=_good_image(), meta=_meta()),
                                p.write_bytes(p.read_bytes()[:200])),
    "no meta": lambda p: _npz(p, image=_good_image()),
    "meta not json": lambda p: _npz(p, image=_good_image(), meta=np.frombuffer(b"{nope", np.uint8)),
    "meta a list": lambda p: _npz(p, image=_good_image(),
                                  meta=np.frombuffer(b"[1, 2]", np.uint8)),
    "other version": lambda p: _npz(p, image=_good_image(), meta=_meta(version=99)),
    "pickled object": lambda p: np.save(open(p, "wb"), np.array([{"a": 1}], dtype=object), allow_pickle=True),
    "object array in npz": lambda p: np.savez(open(p, "wb"), image=np.array([None, 1], dtype=object),
                                              meta=_meta()),
    "nan image": lambda p: _npz(p, image=np.full((21, 32, 3), np.nan, np.float32), meta=_meta()),
    "image out of range": lambda p: _npz(p, image=np.full((21, 32, 3), 7, np.float32), meta=_meta()),
    "image 2-d": lambda p: _npz(p, image=np.zeros((21, 32), np.float32), meta=_meta()),
    "complex image": lambda p: _npz(p, image=np.zeros((21, 32, 3), np.complex64), meta=_meta()),
    "negative step": lambda p: _npz(p, image=_good_image(), meta=_meta(step=-3, history={})),
    "history mismatch": lambda p: _npz(p, image=_good_image(), meta=_meta(step=5)),
    "history not a dict": lambda p: _npz(p, image=_good_image(), meta=_meta(history=[1, 2])),
    "missing slots": lambda p: _npz(p, image=_good_image(), meta=_meta(n_slots=3)),
    "nan slots": lambda p: _npz(p, image=_good_image(), meta=_meta(n_slots=1),
                                slot0=np.array([np.nan], np.float32)),
    "unknown optimizer": lambda p: _npz(p, image=_good_image(), meta=_meta(optimizer="sgd")),
}


@pytest.mark.parametrize("case", sorted(STATE_CASES))
def test_corrupt_state_files(case, tmp_path, capsys, content_path, style_path):
    out = tmp_path / "o.png"
    spath = state_path(out)
    STATE_CASES[case](spath)
    before = spath.read_bytes()
    code, err = run_main(["stylize", content_path, style_path, "-o", out, "--size", "32", "--steps", "5",
                          "--optimizer", "adam", "--resume"], capsys)
    assert code == 2, err
    line = one_line(err)
    assert str(spath) in line, line
    assert spath.read_bytes() == before  # never destroyed by a failed resume
    assert not out.exists() and leftovers(tmp_path) == []


def test_resume_without_state(tmp_path, capsys, content_path, style_path):
    out = tmp_path / "o.png"
    code, err = run_main(["stylize", content_path, style_path, "-o", out, "--resume"], capsys)
    assert code == 2 and "no saved state" in one_line(err) and str(state_path(out)) in err


def test_resume_refuses_other_inputs_or_settings(tmp_path, capsys, content_path, style_path, shared_images):
    """A state whose fingerprint is not this run's (other image, other settings) is refused."""
    from tfstyle.progress import RunState

    out = tmp_path / "o.png"
    save_state(RunState(image=_good_image(), step=2, optimizer="adam", history={"total": [1.0, 0.5]},
                        fingerprint="0" * 64), state_path(out))
    other_style = shared_images / "style" / "munch_the_scream.jpg"
    for argv in (["--size", "32"], ["--size", "48"]):
        code, err = run_main(["stylize", content_path, other_style, "-o", out, "--resume", "--steps", "9",
                              "--optimizer", "adam"] + argv, capsys)
        assert code == 2 and "other images or settings" in one_line(err)


# ---- option-parser fuzzing ---------------------------------------------------------------------

_TOKENS = ["stylize", "train", "-o", "--output", "--size", "--steps", "--lr", "--lr-decay", "--optimizer",
           "--init", "--precision", "--backbone", "--weights", "--style-layers", "--content-layers",
           "--content-weight", "--style-weight", "--tv-weight", "--seed", "--save-every", "--resume",
           "--overwrite", "-q", "--logdir", "adam", "lbfgs", "noise", "0", "-1", "16", "1e400", "nan",
           "inf", "-inf", "1e-9", "block1_conv1", "block1_conv1:0.5,block9_conv9", ":", ",", "=", "--",
           "-", "", " ", "\0", "\n", "é", "out.png", "out.jpg", "sub/out.png", "/sys/x.png", "--size=0",
           "--lr=nan"]


@st.composite
def argvs(draw):
    files = draw(st.lists(st.sampled_from(["BAD_TXT", "BAD_DIR", "TINY_PNG", "MISSING"]), max_size=3))
    parts = draw(st.lists(st.one_of(st.sampled_from(_TOKENS), st.text(max_size=12)), max_size=12))
    argv = files + parts
    if draw(st.booleans()):
        argv = ["stylize"] + argv
    return draw(st.permutations(argv))


_FUZZ = settings(max_examples=300, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@_FUZZ
@given(argv=argvs())
def test_fuzz_option_parser(argv, tmp_path, monkeypatch, capsys):
    """Random argv: main() returns an int exit code, never raises, never prints a traceback."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFSTYLE_OFFLINE", "1")
    if not (tmp_path / "BAD_TXT").exists():
        (tmp_path / "BAD_TXT").write_text("text")
        (tmp_path / "BAD_DIR").mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / "TINY_PNG", "PNG")
    code = main(list(argv))
    err = capsys.readouterr().err
    assert isinstance(code, int) and code in (0, 2), (argv, code, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code == 2:
        one_line(err)
    # No run can start (no valid image among the inputs), so nothing is written.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["BAD_DIR", "BAD_TXT", "TINY_PNG"]


# ---- inputs that load, with a word from the command ---------------------------------------------

@pytest.mark.slow
def test_animated_input_says_first_frame(tmp_path, capsys, style_path):
    frames = [Image.fromarray(np.full((40, 48, 3), c, np.uint8)) for c in ((200, 0, 0), (0, 0, 200))]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = tmp_path / "o.png"
    code, err = run_main(["stylize", gif, style_path, "-o", out, "--size", "32", "--steps", "1",
                          "--optimizer", "adam", "-q"], capsys)
    assert code == 0, err
    notes = [ln for ln in err.splitlines() if str(gif) in ln]
    assert len(notes) == 1 and notes[0].startswith("tfstyle: NOTE: ") and "2 frames; using the first" in notes[0]
    assert out.is_file()


def test_strip_too_thin_at_this_size(tmp_path, capsys, style_path):
    strip = tmp_path / "strip.png"
    Image.new("RGB", (20000, 16), (9, 9, 9)).save(strip)
    out = tmp_path / "o.png"
    for argv, what in (([strip, style_path], "content image"), ([style_path, strip], "style image")):
        code, err = run_main(["stylize", *argv, "-o", out, "--size", "64"], capsys)
        assert code == 2
        line = one_line(err)
        assert f"{what} (20000x16)" in line and "at least 16" in line, line
        assert not out.exists()
