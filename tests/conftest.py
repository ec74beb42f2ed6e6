import os
from pathlib import Path

import pytest

import tfstyle  # noqa: F401 - first, as a user's program imports it: it may ask TensorFlow for oneDNN

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests never try a network download of ImageNet weights.
os.environ.setdefault("TFSTYLE_OFFLINE", "1")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"


@pytest.fixture(scope="session", autouse=True)
def kernel_cache(tmp_path_factory) -> Path:
    """Built native kernels go to one folder shared by this run's worker processes (and the CLI
    processes the tests start), not the user's cache: the first worker builds, the others load it."""
    from tfstyle.config import NATIVE_CACHE_ENV

    root = tmp_path_factory.getbasetemp().parent / "tfstyle-cache"
    os.environ.setdefault(NATIVE_CACHE_ENV, str(root))
    return Path(os.environ[NATIVE_CACHE_ENV])


@pytest.fixture(scope="session")
def shared_images() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"sample images not found at {SHARED} (shared/ must sit beside the clone)")
    return SHARED


@pytest.fixture(scope="session")
def content_path(shared_images) -> Path:
    return shared_images / "content" / "chelsea_cat.png"


@pytest.fixture(scope="session")
def style_path(shared_images) -> Path:
    return shared_images / "style" / "vangogh_starry_night.jpg"


@pytest.fixture(scope="session")
def web_models(tmp_path_factory, shared_images) -> dict:
    """Both network presets as model folders, shared by the TF.js export and web-app tests:
    {"light": briefly trained (style: starry night), "standard": random weights (style: great wave)}."""
    from webdata import random_standard, trained_light

    d = tmp_path_factory.mktemp("web_models")
    return {"light": trained_light(d, shared_images), "standard": random_standard(d, shared_images)}
