"""The wheel carries the web app's runtimes: ``python -m build`` (npm at build time, setup.py) on a copy
of the source, then the wheel in a fresh virtual environment writes a site with ``tfstyle web`` with
neither node nor npm on PATH."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = json.loads((ROOT / "src" / "tfstyle" / "web" / "runtime.json").read_text())
NODE_MODULES = ROOT / "src" / "tfstyle" / "web" / "node_modules"


def _source_copy(dest: Path) -> Path:
    """What a fresh clone has: the build files and src/, without node_modules or build outputs."""
    dest.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copyfile(ROOT / name, dest / name)
    shutil.copytree(ROOT / "src", dest / "src", ignore=shutil.ignore_patterns(
        "node_modules", "vendor", "__pycache__", "*.egg-info", "*.so", "build"))
    return dest


@pytest.mark.slow
def test_wheel_carries_the_runtimes_and_tfstyle_web_runs_without_node(tmp_path):
    if shutil.which("npm") is None:
        pytest.fail("npm is missing: building a wheel needs it (.ci/run installs Node.js with npm)")
    src = _source_copy(tmp_path / "src_copy")
    dist = tmp_path / "dist"
    r = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(src)], capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    (wheel,) = dist.glob("tfstyle-*.whl")
    want = sorted(f"tfstyle/web/vendor/{p}" for p in [*RUNTIME["site"].values(), *RUNTIME["versions"].values()])
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        vendored = sorted(n for n in names if n.startswith("tfstyle/web/vendor/"))
        assert vendored == want, "the runtime files a site uses, and nothing else from node_modules"
        assert not [n for n in names if "node_modules" in n]
        assert {"tfstyle/web/runtime.json", "tfstyle/web/app/litert.js"} <= set(names)
        unpacked = sum(z.getinfo(n).file_size for n in vendored)
    assert unpacked < 30e6, unpacked

    # A fresh environment: the wheel installed without its dependencies, which come from this
    # interpreter's site-packages through a .pth line (not its editable tfstyle: .pth lines add
    # paths, they do not run the editable finder).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    import sysconfig

    Path(purelib, "tfstyle-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]

    from tfstyle.config import NETWORK_PRESETS
    from tfstyle.feedforward.networks import build_transform_net, save_model_dir

    model = tmp_path / "light"
    save_model_dir(build_transform_net(NETWORK_PRESETS["light"], seed=0), NETWORK_PRESETS["light"], model, {})
    env = {"PATH": str(venv / "bin"), "HOME": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    probe = subprocess.run([str(py), "-c", "import shutil, tfstyle.web.site as s; "
                            "print(shutil.which('node'), shutil.which('npm'), s.__file__)"],
                           capture_output=True, text=True, env=env, check=True, cwd=tmp_path).stdout.split()
    assert probe[:2] == ["None", "None"] and probe[2].startswith(str(venv)), probe
    site = tmp_path / "site"
    r = subprocess.run([str(venv / "bin" / "tfstyle"), "web", str(model), "-o", str(site), "--litert-sizes", "256",
                        "--litert-aspects", "1:1"], capture_output=True, text=True, env=env, timeout=600,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "LiteRT.js 2.5.3" in r.stderr
    for site_path, rel in RUNTIME["site"].items():
        assert (site / site_path).read_bytes() == (NODE_MODULES / rel).read_bytes(), site_path
    style = json.loads((site / "models" / "models.json").read_text())["styles"][0]
    assert style["litert"]["256"]["shapes"] == [[256, 256]]
    assert (site / style["litert"]["256"]["file"]).stat().st_size > 0
