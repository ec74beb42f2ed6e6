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
