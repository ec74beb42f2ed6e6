"""Interrupts (SIGINT, SIGTERM) of the real command, --resume, atomic writes, and non-finite losses."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfstyle.io.images import ImageError, atomic_write, save_image
from tfstyle.io.state import load_state, state_path

pytestmark = pytest.mark.slow


def _env():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["TFSTYLE_OFFLINE"] = "1"
    return env


def _cmd(content, style, out, *extra):
    return [sys.executable, "-m", "tfstyle", "stylize", str(content), str(style), "-o", str(out),
            "--size", "32", "--optimizer", "adam", "--precision", "float32", *map(str, extra)]


def _start(argv):
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())


def _wait_for(pred, proc, timeout=120):
    t0 = time.monotonic()
    while not pred():
        if proc.poll() is not None:
            raise AssertionError(f"exited early ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            raise AssertionError("timed out")
        time.sleep(0.05)


def _state_step(spath):
    try:
        return load_state(spath).step
    except Exception:  # noqa: BLE001 - not there yet
        return -1


def _finish(proc, timeout=120):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return proc.returncode, err


def _no_temporaries(folder):
    left = [p.name for p in Path(folder).iterdir() if p.name.startswith(".") or p.name.endswith(".tmp")]
    assert left == [], left


def _consistent(state, size=(21, 32)):
    assert state.image.shape == (*size, 3) and np.isfinite(state.image).all()
    assert 0 <= state.image.min() and state.image.max() <= 1
    assert state.history and all(len(v) == state.step for v in state.history.values())
    assert all(np.isfinite(v).all() for v in state.history.values())
    if state.optimizer == "adam" and state.slots:
        assert int(np.asarray(state.slots[0])) == state.step  # Adam's own update counter


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_mid_run_then_resume(sig, tmp_path, content_path, style_path, shared_images):
    out = tmp_path / "o.png"
    spath = state_path(out)
    proc = _start(_cmd(content_path, style_path, out, "--steps", 5000, "--save-every", 4, "-q"))
    _wait_for(lambda: _state_step(spath) >= 4, proc)
    proc.send_signal(sig)
    code, err = _finish(proc)
    assert code == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "interrupted at step" in last and str(out) in last and "--resume" in last, err
    assert np.asarray(Image.open(out)).shape == (21, 32, 3)
    first = load_state(spath)
    _consistent(first)
    assert first.step >= 4
    _no_temporaries(tmp_path)

    # Other inputs or settings: refused before any work, state untouched.
    saved = spath.read_bytes()
    for argv in (_cmd(content_path, style_path, out, "--steps", 5000, "--resume", "--size", 48),
                 _cmd(content_path, shared_images / "style" / "munch_the_scream.jpg", out, "--steps", 5000,
                      "--resume"),
                 _cmd(content_path, style_path, out, "--steps", 5000, "--resume", "--lr", 0.5)):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=_env())
        assert r.returncode == 2 and "other images or settings" in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert spath.read_bytes() == saved

    if sig == signal.SIGINT:
        # Resume, interrupt again: the step count and the history continue from the saved state.
        second = _resume_and_interrupt(sig, first, content_path, style_path, out)
    else:
        second = first

    # Resume to the end: exit 0, the state file is gone, the step count is the total.
    total = second.step + 3
    r = subprocess.run(_cmd(content_path, style_path, out, "--steps", total, "--resume"),
                       capture_output=True, text=True, timeout=300, env=_env())
    assert r.returncode == 0, r.stderr
    assert f"{total} steps" in r.stderr.strip().splitlines()[-1]
    assert not spath.exists()
    _no_temporaries(tmp_path)


def _resume_and_interrupt(sig, first, content_path, style_path, out):
    spath = state_path(out)
    proc = _start(_cmd(content_path, style_path, out, "--steps", 5000, "--save-every", 4, "--resume", "-q"))
    _wait_for(lambda: _state_step(spath) >= first.step + 4, proc)
    proc.send_signal(sig)
    code, err = _finish(proc)
    assert code == 130, err
    second = load_state(spath)
    _consistent(second)
    assert second.step > first.step
    for k, v in first.history.items():
        assert second.history[k][: first.step] == v, k
    return second


def test_interrupt_during_setup_writes_nothing(tmp_path, content_path, style_path):
    out = tmp_path / "o.png"
    for sig in (signal.SIGINT, signal.SIGTERM):
        proc = _start(_cmd(content_path, style_path, out, "--steps", 50))
        time.sleep(1.0)  # importing TensorFlow / building the model
        assert proc.poll() is None
        proc.send_signal(sig)
        code, err = _finish(proc)
        assert code == 130, err
        assert "Traceback" not in err
        assert "nothing written" in err.strip().splitlines()[-1], err
        assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("seed", [0, 1])
def test_interrupt_at_random_moments_keeps_state_consistent(seed, tmp_path, content_path, style_path):
    """SIGINT or SIGTERM at a random moment (setup, first steps, mid-run, during the every-step
    writes of --save-every 1, a resumed run's setup); each time the files on disk are consistent,
    and --resume finishes the run."""
    rnd = random.Random(seed)
    out = tmp_path / "o.png"
    spath = state_path(out)
    steps = 400
    for attempt in range(3):
        argv = _cmd(content_path, style_path, out, "--steps", steps, "--save-every", 1, "-q", "--size", 48)
        if spath.exists():
            argv.append("--resume")
        before = spath.read_bytes() if spath.exists() else None
        reached = _state_step(spath)
        proc = _start(argv)
        target = rnd.choice([None, 1, 2, 5, 9])  # None: during setup; else a few steps into the loop
        if target is None:
            time.sleep(rnd.uniform(0.3, 4.0))
        else:
            _wait_for(lambda: _state_step(spath) >= reached + target, proc)
            time.sleep(rnd.uniform(0.0, 0.2))  # with --save-every 1 this often lands inside a write
        proc.send_signal(rnd.choice([signal.SIGINT, signal.SIGTERM]))
        code, err = _finish(proc)
        assert code in (130, 0), err
        assert "Traceback" not in err and "internal error" not in err, err
        _no_temporaries(tmp_path)
        if code == 0:
            assert not spath.exists()
            break
        if "nothing written" in err:  # interrupted before the loop: the old state is untouched
            assert (spath.read_bytes() if spath.exists() else None) == before
        else:
            state = load_state(spath)
            _consistent(state, size=(32, 48))
            assert np.asarray(Image.open(out)).shape == (32, 48, 3)
    if spath.exists():
        s = load_state(spath)
        r = subprocess.run(_cmd(content_path, style_path, out, "--steps", s.step + 2, "-q", "--size", 48,
                                "--resume"), capture_output=True, text=True, timeout=300, env=_env())
        assert r.returncode == 0, r.stderr
        assert not spath.exists()
    _no_temporaries(tmp_path)


# ---- atomic writes -------------------------------------------------------------------------------

def test_interrupted_write_keeps_old_file_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "o.png"
    save_image(np.zeros((16, 16, 3), np.float32), p)
    old = p.read_bytes()

    def half_then_interrupt(f):
        f.write(b"\x89PNG partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(p, half_then_interrupt)
    assert p.read_bytes() == old
    assert sorted(x.name for x in tmp_path.iterdir()) == ["o.png"]

    def disk_full(f):
        raise OSError(28, "No space left on device")

    with pytest.raises(ImageError, match="No space left"):
        atomic_write(p, disk_full)
    assert p.read_bytes() == old
    assert sorted(x.name for x in tmp_path.iterdir()) == ["o.png"]


def test_atomic_writes_get_the_permissions_a_plain_write_would(tmp_path):
    import os
    import stat

    old = os.umask(0o027)
    try:
        new = save_image(np.zeros((8, 8, 3), np.float32), tmp_path / "new.png")
        assert stat.S_IMODE(new.stat().st_mode) == 0o640  # 0666 less the umask, not mkstemp's 0600
        kept = tmp_path / "kept.png"
        kept.write_bytes(b"")
        kept.chmod(0o604)
        save_image(np.zeros((8, 8, 3), np.float32), kept)
        assert stat.S_IMODE(kept.stat().st_mode) == 0o604  # replacing a file keeps its mode
    finally:
        os.umask(old)


# ---- Python API: exact resume, non-finite losses --------------------------------------------------

@pytest.fixture(scope="module")
def stylizer_parts(content_path, style_path):
    from tfstyle import load_image
    from tfstyle.backbones.weights import resolve_weights

    return load_image(content_path), load_image(style_path), resolve_weights("random")


def _interrupt_at(step):
    def cb(p):
        if p.step == step:
            raise KeyboardInterrupt

    return cb


@pytest.mark.parametrize("entry", ["Stylizer", "stylize"])
@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_api_resume_continues(optimizer, entry, stylizer_parts):
    """Through a Stylizer and through tfstyle.stylize (the command line's path, whose state once
    held the best image, an update behind Adam's iterate and slots)."""
    from tfstyle import stylize
    from tfstyle.config import StylizeConfig
    from tfstyle.optimize.stylizer import Stylizer

    c, s, w = stylizer_parts
    # TensorFlow's convolutions: a resumed run must repeat the uninterrupted one to float32 rounding.
    # Winograd's sums may round differently when the machine is loaded, and Adam (epsilon 1e-10)
    # turns a sign change of a near-zero gradient into a full-rate step of that pixel.
    cfg = StylizeConfig(size=32, steps=10, optimizer=optimizer, lr=0.05, conv_algorithm="direct")
    if entry == "Stylizer":
        st = Stylizer(c, s, cfg, w)
    else:
        class st:  # noqa: N801 - the same calls as a Stylizer
            run = staticmethod(lambda **kw: stylize(c, s, cfg, weights=w, **kw))
    part = st.run(callback=_interrupt_at(4))
    assert part.stop_reason == "interrupted" and part.steps == 4 and part.state.step == 4
    assert all(len(v) == 4 for v in part.state.history.values())
    rest = st.run(resume=part.state)
    assert rest.stop_reason == "done" and rest.steps == 10
    assert all(len(v) == 10 for v in rest.history.values())
    assert rest.history["total"][:4] == part.state.history["total"]
    if optimizer == "adam":
        # Adam continues exactly: the same as never having stopped.
        full = st.run()
        np.testing.assert_allclose(rest.history["total"], full.history["total"], rtol=1e-6)
        np.testing.assert_allclose(rest.image, full.image, atol=1e-6)


def _poison(st, after):
    """Make the Stylizer's loss NaN from evaluation ``after + 1`` on (a test-only hook)."""
    import tensorflow as tf

    counter = tf.Variable(0, dtype=tf.int64)
    real = st.loss

    def poisoned(features, image):
        total, parts = real(features, image)
        counter.assign_add(1)
        bad = counter > after
        return tf.where(bad, tf.constant(float("nan")), total), parts

    st.loss = poisoned
    return real


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_api_nonfinite_loss_stops_and_keeps_last_good_image(optimizer, stylizer_parts):
    import tensorflow as tf

    from tfstyle.config import StylizeConfig
    from tfstyle.optimize.stylizer import Stylizer

    c, s, w = stylizer_parts
    st = Stylizer(c, s, StylizeConfig(size=32, steps=20, optimizer=optimizer, lr=0.05), w)
    real = _poison(st, after=6)
    res = st.run()
    assert res.stop_reason == "nonfinite" and "nan" in res.message
    assert 1 <= res.steps <= 6
    assert all(np.isfinite(v).all() for v in res.history.values())
    assert np.isfinite(res.image).all()
    # The image kept is the best one measured (its real loss is the lowest in the history).
    st.loss = real
    kept = float(Stylizer._value_and_grad_impl(st, tf.constant(res.image[None]))[0])
    assert kept == pytest.approx(min(res.history["total"]), rel=1e-4)
    if optimizer == "adam":
        assert res.state.step == res.steps and np.isfinite(res.state.slots[1]).all()


def test_cli_nonfinite_exit_3(tmp_path, content_path, style_path):
    """A real way to overflow: an absurd style weight makes Adam's second moment overflow on the
    first update. The run stops with exit 3 and writes the last good image: the starting one."""
    from tfstyle import load_image
    from tfstyle.io.images import resize, to_uint8

    out = tmp_path / "o.png"
    r = subprocess.run(_cmd(content_path, style_path, out, "--steps", 20, "--style-weight", "1e37", "-q"),
                       capture_output=True, text=True, timeout=300, env=_env())
    assert r.returncode == 3, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if "NOTE" not in ln]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "NaN or Inf at step 1" in lines[0] and "last good image" in lines[0] and str(out) in lines[0]
    start = to_uint8(resize(load_image(content_path), (21, 32)))
    np.testing.assert_array_equal(np.asarray(Image.open(out)), start)
    state = load_state(state_path(out))  # resumable: nothing of the overflowed update kept
    assert state.step == 0 and all(np.isfinite(s).all() for s in state.slots)
    _no_temporaries(tmp_path)
