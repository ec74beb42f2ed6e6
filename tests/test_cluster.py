"""``tfstyle apply --cluster`` on a real Ray cluster: a head and a worker node started here with
``ray start --block`` (each in its own process group, stopped by the process ids started here), a few
hundred small images with unreadable ones among them, a worker node killed mid-job, an interrupted
job finished by a rerun on a Ray started in-process (``--cluster local``)."""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
from clusterdata import collection, same_pictures, tiny_model
from raycluster import RayCluster

from tfstyle.config import CLUSTER_MANIFEST
from tfstyle.io.images import load_image

pytestmark = pytest.mark.slow
N = 240


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """The model, the collection, and the local apply's outputs (the reference)."""
    from tfstyle.feedforward.apply import StyleModel, apply_files

    d = tmp_path_factory.mktemp("job")
    model = tiny_model(d / "model")
    images, bad = collection(d / "images", n=N)
    r = apply_files(StyleModel(model), [images], d / "reference", batch_size=2)
    assert len(r.written) == N and len(r.skipped) == len(bad)
    return model, images, bad, d / "reference"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # One CPU on the head and one on the worker: two actors, one on each node.
    c = RayCluster(tmp_path_factory.mktemp("ray"), head_cpus=1, worker_cpus=(1,))
    yield c
    c.stop()


def _env():
    # No token file written into the home folder by --cluster local; no cluster found in the environment.
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return {**env, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def _apply(cluster, model, images, out, *extra):
    """The command, in the cluster's loopback-only network namespace (with --cluster local too: the
    Ray it starts listens there)."""
    cmd = [sys.executable, "-m", "tfstyle", "apply", str(model), str(images), "-o", str(out), "--batch-size", "2",
           *map(str, extra)]
    return cluster.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())


def _wait_for_outputs(p, out, n, timeout=240):
    """Poll until ``n`` outputs exist (or the command ended); returns how many there were."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        count = len(list(out.rglob("*.png"))) if out.is_dir() else 0
        if count >= n or p.poll() is not None:
            return count
        time.sleep(0.05)
    p.kill()
    raise AssertionError(f"fewer than {n} outputs after {timeout} s")


def _manifest(out):
    with open(out / CLUSTER_MANIFEST, newline="") as f:
        return list(csv.DictReader(f))


def _check_manifest(out, model, images, bad):
    rows = _manifest(out)
    assert len(rows) == N + len(bad) and len({r["output"] for r in rows}) == len(rows)
    assert {r["source"] for r in rows} == {str(p) for p in images.rglob("*") if p.is_file()}
    skipped = {os.path.relpath(r["source"], images): r["reason"] for r in rows if r["status"] == "skipped"}
    assert sorted(skipped) == sorted(bad) and all(skipped[b] for b in bad)
    assert {r["model"] for r in rows} == {str(model)} and {r["style"] for r in rows} == {"/paintings/starry_night.jpg"}
    assert sum(r["status"] == "done" for r in rows) == N
    assert not [p for p in out.rglob("*.tmp")]


def test_a_worker_node_killed_mid_job_loses_nothing(job, cluster):
    model, images, bad, reference = job
    out = cluster.tmp / "out"
    p = _apply(cluster, model, images, out, "--cluster", cluster.address)
    t0 = time.monotonic()
    seen = _wait_for_outputs(p, out, N // 8)
    t1 = time.monotonic()
    RayCluster.kill(cluster.workers[0])  # SIGKILL to the worker node: its raylet and its actor
    _, err = p.communicate(timeout=300)
    print(f"killed after {t1 - t0:.1f} s at {seen} outputs; finished {time.monotonic() - t1:.1f} s later")
    assert p.returncode == 0, err
    assert seen < N, "the job ended before the node was killed"
    assert f"wrote {N} image(s)" in err and f"{len(bad)} unreadable skipped (2 actor(s) on 2 node(s))" in err, err
    assert sum(line.startswith("tfstyle: skipped") for line in err.splitlines()) == len(bad)
    # The same arithmetic as the local apply: equal pixels, a rare one level of rounding apart.
    assert same_pictures(out, reference) >= 0.9 * N
    _check_manifest(out, model, images, bad)


def test_an_interrupted_job_is_finished_by_a_rerun(job, cluster):
    model, images, bad, reference = job
    out = cluster.tmp / "interrupted"
    p = _apply(cluster, model, images, out, "--cluster", cluster.address)
    seen = _wait_for_outputs(p, out, 20)
    # Outputs are recorded when their batch's results reach the driver: interrupt once some are.
    end = time.monotonic() + 120
    while p.poll() is None and time.monotonic() < end and not (
            (out / CLUSTER_MANIFEST).is_file() and any(r["status"] == "done" for r in _manifest(out))):
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert seen < N and "run the same command again to finish" in err
    written = list(out.rglob("*.png"))
    assert 0 < len(written) < N + len(bad)
    for f in written:  # whole files only
        assert load_image(f).shape[2] == 3
    done = [r for r in _manifest(out) if r["status"] == "done"]
    assert done and all((out / r["output"]).is_file() for r in done)
    # The rerun, on a Ray started in its own process, does only what is missing.
    p = _apply(cluster, model, images, out, "--cluster", "local")
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert f"{len(done)} already done" in err and f"wrote {N - len(done)} image(s)" in err, err
    assert same_pictures(out, reference) >= 0.9 * N
    _check_manifest(out, model, images, bad)
