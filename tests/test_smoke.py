import subprocess
import sys

import numpy as np
from PIL import Image


def test_cli_stylize_writes_image(tmp_path, content_path, style_path):
    out = tmp_path / "out.png"
    r = subprocess.run([sys.executable, "-m", "tfstyle", "stylize", str(content_path), str(style_path),
                        "-o", str(out), "--size", "64", "--steps", "5", "-q"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "random-weight VGG19" in r.stderr
    im = np.asarray(Image.open(out))
    assert max(im.shape[:2]) == 64 and im.shape[2] == 3


def _program(tmp_path, args, env_extra=None):
    """``tfstyle`` as a program, with an exit handler that says whether Python's teardown ran."""
    import os

    code = ("import atexit, sys; atexit.register(lambda: print('PYTHON-TEARDOWN', flush=True)); "
            "from tfstyle.cli import main; sys.argv[0] = 'tfstyle'; sys.exit(main())")
    env = {k: v for k, v in os.environ.items() if k != "TFSTYLE_FULL_EXIT"}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


def test_a_finished_stylize_ends_without_the_teardown_and_says_everything(tmp_path, content_path, style_path):
    args = ["stylize", content_path, style_path, "--size", "48", "--steps", "3"]
    fast = _program(tmp_path, [*args, "-o", tmp_path / "a.png"])
    assert fast.returncode == 0, fast.stderr
    assert "PYTHON-TEARDOWN" not in fast.stdout  # ended at once after its output
    assert fast.stderr.strip().splitlines()[-1].startswith(f"tfstyle: wrote {tmp_path / 'a.png'}")  # flushed
    full = _program(tmp_path, [*args, "-o", tmp_path / "b.png"], {"TFSTYLE_FULL_EXIT": "1"})
    assert full.returncode == 0 and "PYTHON-TEARDOWN" in full.stdout, full.stderr
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    # A failed command ends the ordinary way.
    bad = _program(tmp_path, ["stylize", tmp_path / "missing.png", style_path, "-o", tmp_path / "c.png"])
    assert bad.returncode == 2 and "PYTHON-TEARDOWN" in bad.stdout, bad.stderr
