"""Training under tf.distribute: two logical CPU devices (MirroredStrategy) and two worker processes
on 127.0.0.1 (MultiWorkerMirroredStrategy with TF_CONFIG)."""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from ffdata import make_photos

from tfstyle.feedforward.networks import load_model_dir

pytestmark = pytest.mark.slow
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def photos(tmp_path_factory, shared_images):
    return make_photos(tmp_path_factory.mktemp("photos"), shared_images, n=8)


def test_mirrored_over_two_logical_cpus_matches_one_device(photos, style_path, tmp_path):
    # One update on two replicas (one photo each) must equal one update on one device with both
    # photos. Content weight 0: the content loss normalises by its own batch, so it is the only
    # term that is not additive over photos.
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
        sys.path.insert(0, {str(TESTS)!r})
        from ffdata import TINY_NET, TINY_TRAIN
        from tfstyle.feedforward.train import Trainer, train
        config = TINY_TRAIN.replace(content_weight=0.0, batch_size=2)
        args = ({str(style_path)!r}, {str(photos)!r})
        mirrored = Trainer(*args, {str(tmp_path / "a")!r}, config.replace(strategy="mirrored"), network=TINY_NET)
        single = Trainer(*args, {str(tmp_path / "b")!r}, config.replace(strategy="default"), network=TINY_NET)
        x = np.random.default_rng(0).random((1, 2, 32, 32, 3), dtype=np.float32)
        s = mirrored.strategy
        per_replica = s.experimental_distribute_values_from_function(
            lambda ctx: tf.constant(x[:, ctx.replica_id_in_sync_group:ctx.replica_id_in_sync_group + 1]))
        lm, _ = mirrored._step_fn(per_replica)
        ls, _ = single._step_fn(x)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(mirrored.model.get_weights(),
                                                              single.model.get_weights()))
        # and a whole run with accumulation on two replicas
        r = train(*args, {str(tmp_path / "c")!r}, TINY_TRAIN.replace(strategy="mirrored", steps=4,
                  accumulate=2), network=TINY_NET)
        print(json.dumps({{"replicas": s.num_replicas_in_sync, "loss_m": float(lm), "loss_s": float(ls),
                          "diff": diff, "steps": r.steps, "run_replicas": r.replicas,
                          "losses": r.history["total"]}}))
    """)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2 and out["run_replicas"] == 2
    # Per-replica losses are averaged: the mean of two one-photo losses equals the two-photo loss.
    np.testing.assert_allclose(out["loss_m"], out["loss_s"], rtol=1e-4)
    assert out["diff"] < 1e-4  # Adam's first step is ~lr * sign(grad), lr = 1e-2
    assert out["steps"] == 4 and all(np.isfinite(out["losses"]))
    assert load_model_dir(tmp_path / "c")[2]["steps"] == 4


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_two_worker_processes_train_in_lockstep(photos, style_path, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    flags = ["--arch", "light", "--image-size", "32", "--style-size", "64", "--batch-size", "4",
             "--content-layers", "block2_conv2", "--style-layers", "block1_conv1,block2_conv1",
             "--precision", "float32", "--backbone", "random", "--strategy", "multiworker", "--steps", "5",
             "--checkpoint-every", "3", "--accumulate", "2"]
    procs = []
    for i in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
        # Each worker writes its own copy; worker 0 (the chief) also writes TensorBoard logs.
        cmd = [sys.executable, "-m", "tfstyle", "train", str(style_path), "--data", str(photos),
               "-o", str(tmp_path / f"w{i}"), *flags]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=900)
            results.append((p.returncode, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for rc, err in results:
        assert rc == 0, err[-3000:]
        assert "2 replica(s)" in err
    w0, _, m0 = load_model_dir(tmp_path / "w0")
    w1, _, m1 = load_model_dir(tmp_path / "w1")
    assert m0["steps"] == m1["steps"] == 5
    # Synchronous data parallelism: both workers hold the same weights after every update.
    for a, b in zip(w0.get_weights(), w1.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # and they moved away from the common initialisation
    from tfstyle.config import NETWORK_PRESETS
    from tfstyle.feedforward.networks import build_transform_net

    init = build_transform_net(NETWORK_PRESETS["light"], seed=0).get_weights()
    assert any(not np.allclose(a, b, atol=1e-4) for a, b in zip(init, w0.get_weights()))
    assert (tmp_path / "w0" / "logs").is_dir() and not (tmp_path / "w1" / "logs").exists()
