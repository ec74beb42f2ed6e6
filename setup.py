"""Build hook: the wheel carries the web app's browser runtimes.

``tfstyle web`` copies LiteRT.js and TensorFlow.js into every site it writes. A source checkout gets
them with ``npm ci`` (src/tfstyle/web/package-lock.json pins them); a wheel carries the files the
sites use, and only those (src/tfstyle/web/runtime.json lists them), under ``tfstyle/web/vendor/``,
so that ``pip install tfstyle-*.whl`` gives a working ``tfstyle web`` on a machine without node or
npm. npm runs here, at build time, never at install time. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

WEB = Path(__file__).resolve().parent / "src" / "tfstyle" / "web"


def _runtime_files() -> list[str]:
    manifest = json.loads((WEB / "runtime.json").read_text(encoding="utf-8"))
    return [*manifest["site"].values(), *manifest["versions"].values()]


def _installed_matches_lock(node_modules: Path, files: list[str]) -> bool:
    """Every file is there, and every package they belong to has the version the lock file pins."""
    if not all((node_modules / f).is_file() for f in files):
        return False
    lock = json.loads((WEB / "package-lock.json").read_text(encoding="utf-8")).get("packages", {})
    for package in {"/".join(f.split("/")[:2]) for f in files}:
        try:
            have = json.loads((node_modules / package / "package.json").read_text(encoding="utf-8"))["version"]
        except (OSError, ValueError, KeyError):
            return False
        if have != lock.get(f"node_modules/{package}", {}).get("version"):
            return False
    return True


class BuildPyWithRuntimes(build_py):
    """build_py, then the browser runtimes into build_lib (not for editable installs: a checkout
    uses its own node_modules)."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        files = _runtime_files()
        node_modules = WEB / "node_modules"
        if not _installed_matches_lock(node_modules, files):
            npm = shutil.which("npm")
            if npm is None:
                raise SystemExit("building a tfstyle wheel needs npm (the web app's runtimes are installed "
                                 "from src/tfstyle/web/package-lock.json); install Node.js with npm")
            # --prefer-offline: npm's cache when it has the pinned versions (the lock file's
            # integrity hashes check them either way); --ignore-scripts: nothing of theirs runs here.
            subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline",
                            "--prefix", str(WEB)], check=True)
            if not _installed_matches_lock(node_modules, files):
                raise SystemExit("npm ci did not install the files src/tfstyle/web/runtime.json lists")
        vendor = Path(self.build_lib) / "tfstyle" / "web" / "vendor"
        if vendor.exists():
            shutil.rmtree(vendor)
        for f in files:
            (vendor / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(node_modules / f, vendor / f)


setup(cmdclass={"build_py": BuildPyWithRuntimes})
