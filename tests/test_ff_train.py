import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from ffdata import TINY_NET, TINY_TRAIN, make_photos
from PIL import Image

from tfstyle.feedforward.networks import ModelError, load_model_dir
from tfstyle import train
from tfstyle.feedforward.data import DataError, find_photos, photo_dataset, scan_photos
from tfstyle.feedforward.train import CHECKPOINT_DIR, Trainer, prepare_model_dir


@pytest.fixture(scope="module")
def photos(tmp_path_factory, shared_images):
    return make_photos(tmp_path_factory.mktemp("photos"), shared_images, n=12)


def test_find_photos_recurses_and_scan_skips_unreadable(photos):
    files = find_photos(photos)
    assert len(files) == 13 and {f.suffix for f in files} == {".jpg", ".png", ".webp"}
    ok, bad = scan_photos(files)
    assert len(ok) == 12 and [b.name for b in bad] == ["broken0.jpg"]


def test_missing_empty_and_unreadable_folders(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        find_photos(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no photos here")
    with pytest.raises(DataError, match="no image files"):
        find_photos(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.png").write_bytes(b"nope")
    with pytest.raises(DataError, match="no readable photos"):
        scan_photos(find_photos(tmp_path / "bad"))


def test_pipeline_crops_batches_is_seeded_and_skips_corrupt_decodes(photos, tmp_path):
    files = scan_photos(find_photos(photos))[0]
    # A file whose header reads but whose pixels are cut off: found only when decoded.
    truncated = tmp_path / "truncated.png"
    data = (photos / "set0" / "photo04.png").read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    from tfstyle.feedforward.data import _DecodeStats

    stats = _DecodeStats()
    ds = photo_dataset(files + [truncated], image_size=32, batch_size=3, accumulate=2, seed=5, stats=stats)
    batches = [b.numpy() for b in ds.take(6)]
    assert all(b.shape == (2, 3, 32, 32, 3) and b.dtype == np.float32 for b in batches)
    assert all(0 <= b.min() and b.max() <= 1 for b in batches)
    assert stats.bad == {truncated}
    again = [b.numpy() for b in photo_dataset(files, 32, 3, 2, seed=5).take(2)]
    other = [b.numpy() for b in photo_dataset(files, 32, 3, 2, seed=6).take(2)]
    same = [b.numpy() for b in photo_dataset(files, 32, 3, 2, seed=5).take(2)]
    np.testing.assert_array_equal(again[0], same[0])
    assert not np.array_equal(again[0], other[0])


def test_prepare_model_dir_refuses_to_overwrite(tmp_path):
    d = tmp_path / "m"
    prepare_model_dir(d)
    d.mkdir()
    (d / "model.json").write_text("{}")
    with pytest.raises(ModelError, match="--overwrite"):
        prepare_model_dir(d)
    with pytest.raises(ModelError, match="no checkpoint"):
        prepare_model_dir(d, resume=True)
    prepare_model_dir(d, overwrite=True)
    assert not (d / "model.json").exists()


@pytest.mark.slow
def test_training_lowers_the_loss_clearly(photos, style_path, tmp_path):
    config = TINY_TRAIN.replace(steps=150, checkpoint_every=1000, lr=5e-3, batch_size=4)
    r = train(style_path, photos, tmp_path / "m", config, network=TINY_NET)
    assert r.stop_reason == "done" and r.steps == 150
    loss = np.array(r.history["total"])
    first, last = loss[:10].mean(), loss[-20:].mean()
    assert last < 0.5 * first, (first, last)
    assert [p.name for p in r.unreadable] == ["broken0.jpg"]
    _, net, meta = load_model_dir(tmp_path / "m")
    assert net == TINY_NET and meta["steps"] == 150 and meta["image_size"] == 32


def test_gradient_accumulation_equals_a_bigger_batch(photos, style_path, tmp_path):
    # Content loss normalises by the batch's own target magnitude, so only the style and TV terms
    # are additive over photos: compare with content_weight 0.
    base = TINY_TRAIN.replace(content_weight=0.0, steps=1)
    a = Trainer(style_path, photos, tmp_path / "a", base.replace(batch_size=1, accumulate=2), network=TINY_NET)
    b = Trainer(style_path, photos, tmp_path / "b", base.replace(batch_size=2, accumulate=1), network=TINY_NET)
    x = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    for w1, w2 in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_array_equal(w1, w2)
    ta, _ = a._step_fn(x.reshape(2, 1, 32, 32, 3))
    tb, _ = b._step_fn(x.reshape(1, 2, 32, 32, 3))
    np.testing.assert_allclose(float(ta), float(tb), rtol=1e-5)
    # Adam's first step is about lr * sign(gradient): weights whose true gradient is ~0 (the
    # shifts of norms followed by another norm) move by rounding noise only, hence atol = lr / 100.
    for w1, w2 in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_allclose(w1, w2, atol=1e-4)
    # and one micro-batch alone gives a different update
    c = Trainer(style_path, photos, tmp_path / "c", base.replace(batch_size=1), network=TINY_NET)
    c._step_fn(x[:1].reshape(1, 1, 32, 32, 3))
    assert any(not np.allclose(w1, w2, atol=1e-4) for w1, w2 in zip(a.model.get_weights(), c.model.get_weights()))


def test_winograd_loss_network_trains_as_the_direct_one(photos, style_path, tmp_path):
    """--conv-algorithm for training (auto: Winograd on AVX2 CPUs, 1.5x faster there): the same loss and
    the same update as TensorFlow's direct convolutions, within float32 rounding."""
    base = TINY_TRAIN.replace(steps=1)
    a = Trainer(style_path, photos, tmp_path / "a", base.replace(conv_algorithm="direct"), network=TINY_NET)
    b = Trainer(style_path, photos, tmp_path / "b", base.replace(conv_algorithm="winograd"), network=TINY_NET)
    assert a.extractor.conv == "direct" and b.extractor.conv == "winograd" and b.extractor._chain.replaced
    x = np.random.default_rng(1).random((1, 2, 32, 32, 3), dtype=np.float32)
    ta, _ = a._step_fn(x)
    tb, _ = b._step_fn(x)
    np.testing.assert_allclose(float(ta), float(tb), rtol=1e-5)
    for w1, w2 in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_allclose(w1, w2, atol=1e-4)  # as above: near-zero gradients move by noise
    assert a.fingerprint == b.fingerprint  # a run may resume with the other algorithm: the same arithmetic


def test_interrupt_saves_checkpoint_and_resume_continues(photos, style_path, tmp_path):
    d = tmp_path / "m"
    config = TINY_TRAIN.replace(steps=8, checkpoint_every=3)

    def stop_at_5(p):
        if p.step == 5:
            raise KeyboardInterrupt

    r = train(style_path, photos, d, config, network=TINY_NET, callback=stop_at_5)
    assert r.stop_reason == "interrupted" and r.steps == 5
    saved = load_model_dir(d)[0].get_weights()
    assert (d / CHECKPOINT_DIR / "ckpt-5.index").exists()
    with pytest.raises(ModelError, match="--overwrite"):
        train(style_path, photos, d, config, network=TINY_NET)
    # Resumed trainer starts from the saved weights and step.
    t = Trainer(style_path, photos, d, config, network=TINY_NET, resume=True)
    assert t.start_step == 5
    for w1, w2 in zip(saved, t.model.get_weights()):
        np.testing.assert_array_equal(w1, w2)
    r2 = t.run()
    assert r2.stop_reason == "done" and r2.steps == 8 and len(r2.history["total"]) == 3
    # Other settings cannot resume this checkpoint.
    with pytest.raises(ModelError, match="another style"):
        Trainer(style_path, photos, d, config.replace(steps=20, style_weight=3.0), network=TINY_NET, resume=True)


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "tfstyle", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


TINY_FLAGS = ["--arch", "light", "--image-size", "32", "--style-size", "64", "--batch-size", "2",
              "--content-layers", "block2_conv2", "--style-layers", "block1_conv1,block2_conv1",
              "--precision", "float32", "--backbone", "random", "--strategy", "default", "-q"]


def test_cli_train_bad_inputs_exit_2(photos, style_path, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.jpg").write_bytes(b"junk")
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "model.json").write_text("{}")
    cases = [
        (["--data", tmp_path / "missing"], "does not exist"),
        (["--data", tmp_path / "empty"], "no image files"),
        (["--data", tmp_path / "junk"], "no readable photos"),
        (["--data", photos, "--batch-size", "0"], "batch_size"),
        (["--data", photos, "--image-size", "34"], "multiple of 4"),
        (["--data", photos, "--conv-algorithm", "winograd", "--precision", "mixed"], "needs float32"),
    ]
    for extra, needle in cases:
        r = _cli("train", style_path, "-o", tmp_path / "out", *TINY_FLAGS[:-1], *extra)
        assert r.returncode == 2, (extra, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert needle in lines[-1] and "Traceback" not in r.stderr, r.stderr
    r = _cli("train", style_path, "--data", photos, "-o", existing, *TINY_FLAGS)
    assert r.returncode == 2 and "--overwrite" in r.stderr
    r = _cli("train", tmp_path / "nostyle.jpg", "--data", photos, "-o", tmp_path / "o2", *TINY_FLAGS)
    assert r.returncode == 2 and "nostyle.jpg" in r.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "o2").exists()


@pytest.mark.slow
def test_cli_sigterm_saves_checkpoint_exits_130_and_resume_finishes(photos, style_path, tmp_path):
    d = tmp_path / "m"
    cmd = [sys.executable, "-m", "tfstyle", "train", str(style_path), "--data", str(photos), "-o", str(d),
           "--steps", "100000", "--checkpoint-every", "2", *TINY_FLAGS]
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        # Wait until training is under way (the first periodic checkpoint).
        deadline = time.time() + 240
        while time.time() < deadline and not (d / CHECKPOINT_DIR / "ckpt-2.index").exists():
            time.sleep(0.5)
        time.sleep(1)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    assert "--resume" in err
    steps = load_model_dir(d)[2]["steps"]
    assert steps >= 2 and (d / CHECKPOINT_DIR / f"ckpt-{steps}.index").exists()
    r = _cli("train", style_path, "--data", photos, "-o", d, "--steps", steps + 3, "--checkpoint-every", "100000",
             "--resume", "--preview-every", "1", "--logdir", tmp_path / "tb", *TINY_FLAGS)
    assert r.returncode == 0, r.stderr
    assert load_model_dir(d)[2]["steps"] == steps + 3
    # TensorBoard: scalars of every loss part and preview images, at the resumed steps.
    import tensorflow as tf

    tags, steps_seen = set(), set()
    for f in (tmp_path / "tb").glob("events.*"):
        for event in tf.compat.v1.train.summary_iterator(str(f)):
            for v in event.summary.value:
                tags.add(v.tag)
                steps_seen.add(event.step)
    assert {"loss/total", "loss/style/block1_conv1", "loss/content/block2_conv2", "loss/tv", "preview"} <= tags
    assert steps_seen == {steps + 1, steps + 2, steps + 3}


def test_mixed_precision_training_saves_a_float32_loadable_model(photos, style_path, tmp_path):
    r = train(style_path, photos, tmp_path / "m", TINY_TRAIN.replace(steps=3, precision="mixed"), network=TINY_NET)
    assert r.policy in ("mixed_bfloat16", "mixed_float16")
    assert r.stop_reason == "done" and all(np.isfinite(r.history["total"]))
    model = load_model_dir(tmp_path / "m")[0]
    y = model(np.full((1, 20, 20, 3), 0.5, np.float32)).numpy()
    assert y.dtype == np.float32 and np.isfinite(y).all()
