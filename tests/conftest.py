import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Tests never try a network download of ImageNet weights.
os.environ.setdefault("TFSTYLE_OFFLINE", "1")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"


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
