"""The cluster job's parts that need no cluster: the per-image painting choice, the manifest, the plan
of what is done, the actor called as a plain object, and the command line's one-line errors."""

import hashlib
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from clusterdata import collection, tiny_model
from PIL import Image

from tfstyle.cluster import ClusterError
from tfstyle.cluster.actor import Stylist, stale_temporaries
from tfstyle.cluster.manifest import ManifestWriter, read_manifest, write_manifest
from tfstyle.cluster.plan import plan_job
from tfstyle.cluster.styles import choose_styles
from tfstyle.config import CLUSTER_MANIFEST
from tfstyle.io.images import ImageError, load_image


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("model") / "m")


@pytest.fixture(scope="module")
def anystyle_dir(tmp_path_factory):
    """A real arbitrary-style model folder (tiny, random weights)."""
    from ffdata import TINY_NET

    from tfstyle.config import ArbitraryConfig
    from tfstyle.feedforward.arbitrary import build_predictor, build_transformer, save_arbitrary_dir

    config = ArbitraryConfig(style_dim=6, style_image_size=64, predictor="efficientnetb0", predictor_layer="block2b_add")
    return save_arbitrary_dir(build_predictor(config, None, random_init=False), build_transformer(TINY_NET, 6, seed=3),
                              TINY_NET, config, tmp_path_factory.mktemp("anystyle") / "m", {})


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    return collection(tmp_path_factory.mktemp("images"), n=12)


def _naive_choice(seed, key, paintings, k):
    """The documented rule, written out: draw i is sha256("seed\\0key\\0i") mod n; repeats redrawn."""
    pool, out, i = sorted(paintings), [], 0
    while len(out) < k:
        j = int(hashlib.sha256(f"{seed}\0{key}\0{i}".encode()).hexdigest()[:16], 16) % len(pool)
        if pool[j] not in out:
            out.append(pool[j])
        i += 1
    return out


def test_style_choice_is_a_pure_function_of_seed_and_path():
    paintings = [f"/art/p{i:02d}.jpg" for i in range(7)]
    keys = [f"n{i:05d}/img_{i}" for i in range(3000)]
    first = [choose_styles(5, k, paintings, 2) for k in keys]
    # The same answer from a reshuffled list and from the rule written out.
    shuffled = list(reversed(paintings))
    assert first == [choose_styles(5, k, shuffled, 2) for k in keys]
    assert first[:200] == [_naive_choice(5, k, paintings, 2) for k in keys[:200]]
    assert all(len(set(c)) == 2 for c in first)
    # Another seed changes most choices; every painting is drawn about equally often.
    other = [choose_styles(6, k, paintings, 2) for k in keys]
    assert sum(a != b for a, b in zip(first, other)) > 0.7 * len(keys)
    counts = Counter(c[0] for c in first)
    assert set(counts) == set(paintings)
    assert all(0.8 < v / (len(keys) / len(paintings)) < 1.2 for v in counts.values()), counts
    # A key's choice does not depend on which other images are in the job.
    assert choose_styles(5, keys[17], paintings, 2) == first[17]
    with pytest.raises(ClusterError, match="1..7"):
        choose_styles(5, "x", paintings, 8)


def test_manifest_keeps_the_newest_row_and_survives_a_torn_last_line(tmp_path):
    path = tmp_path / CLUSTER_MANIFEST
    row = {"source": "/in/a,b.png", "output": "a,b.png", "style": "s", "model": "/m", "status": "done", "reason": ""}
    w = ManifestWriter(path)
    w.append([row, {**row, "output": "c.png", "status": "skipped", "reason": 'bad "header"\nline'}])
    w.close()
    with open(path, "a") as f:
        f.write('/in/d.png,d.png,s,/m,do')  # a crash mid-line
    w = ManifestWriter(path)
    w.append([{**row, "output": "c.png"}])
    w.close()
    rows = read_manifest(path)
    assert set(rows) == {"a,b.png", "c.png"} and rows["c.png"]["status"] == "done"
    assert rows["a,b.png"] == row
    write_manifest(path, rows.values())
    assert read_manifest(path) == rows
    assert path.read_text().splitlines()[0] == "source,output,style,model,status,reason"


def test_plan_skips_what_is_done_and_redoes_what_is_missing(model_dir, images, tmp_path):
    folder, bad = images
    out = tmp_path / "out"
    plan = plan_job(model_dir, [folder], out)
    assert len(plan.todo) == 15 and not plan.done
    # Names as the local apply gives them; the style column holds the model's own style.
    assert {t.output for t in plan.todo} >= {"part0/im000.png", "part1/im001.png", "garbage.png"}
    assert {t.style for t in plan.todo} == {"/paintings/starry_night.jpg"}
    out.mkdir()
    rows = []
    for t in plan.todo[:5]:
        (out / t.output).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32, 32)).save(out / t.output)
        rows.append({**t.as_row(), "model": plan.model, "status": "done", "reason": ""})
    rows[4]["status"] = "skipped"
    os.remove(out / plan.todo[3].output)  # listed as done, but the file is gone
    write_manifest(plan.manifest, rows)
    again = plan_job(model_dir, [folder], out)
    assert [r["output"] for r in again.done] == [t.output for t in plan.todo[:3]]
    assert len(again.todo) == 12
    assert len(plan_job(model_dir, [folder], out, overwrite=True).todo) == 15
    # Another model's outputs are not replaced without --overwrite.
    other = tiny_model(tmp_path / "other", seed=4)
    with pytest.raises(ClusterError, match="holds outputs of model"):
        plan_job(other, [folder], out)
    # Outputs in a folder with no manifest are refused, as the local apply refuses them.
    os.remove(plan.manifest)
    with pytest.raises(ImageError, match="already exists"):
        plan_job(model_dir, [folder], out)


def test_styles_with_a_one_style_model_is_refused(model_dir, images, tmp_path):
    folder, _ = images
    with pytest.raises(ClusterError, match="serves one style"):
        plan_job(model_dir, [folder], tmp_path / "o", styles=folder)


@pytest.mark.slow
def test_actor_writes_outputs_skips_unreadable_and_never_rewrites_this_runs_files(model_dir, images, tmp_path):
    from tfstyle.feedforward.apply import StyleModel

    folder, bad = images
    out = tmp_path / "out"
    tasks = [t.as_row() for t in plan_job(model_dir, [folder], out).todo]
    batch = {k: np.array([t[k] for t in tasks], dtype=object) for k in ("source", "output", "style")}
    actor = Stylist(str(model_dir), str(out), size=None, batch_size=4, threads=1, since_ns=0)
    got = actor(batch)
    status = dict(zip(got["output"], got["status"]))
    assert sorted(o for o, s in status.items() if s == "skipped") == sorted(b.replace(".jpg", ".png") for b in bad)
    reasons = [r for r in got["reason"] if r]
    assert len(reasons) == 3 and all(os.path.basename(b) in " ".join(reasons) for b in bad)
    src = next(t["source"] for t in tasks if t["output"] == "part2/im002.png")
    want = StyleModel(model_dir)(load_image(src))
    np.testing.assert_allclose(load_image(out / "part2/im002.png"), want, atol=0.5 / 255 + 1e-6)
    # A retried batch (its node died) finds this run's files and leaves them be.
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    assert actor(batch)["status"].tolist() == got["status"].tolist()
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == stamps
    assert not stale_temporaries(out, [t["output"] for t in tasks])
    (out / "part0" / ".im000.png.abc123.tmp").write_bytes(b"half")
    assert [p.name for p in stale_temporaries(out, [t["output"] for t in tasks])] == [".im000.png.abc123.tmp"]


def _cli(*args, pre="pass"):
    code = f"import sys; {pre}; from tfstyle.cli import main; sys.exit(main({[str(a) for a in args]!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_cli_errors_are_one_line_exit_2(model_dir, images, tmp_path):
    folder, _ = images
    out = tmp_path / "o"
    closed = __import__("socket").socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]  # bound, never listening: refused at once
    cases = [
        (("--cluster", f"127.0.0.1:{port}"), "pass", "cannot reach a Ray cluster at 127.0.0.1:"),
        (("--cluster", "nowhere"), "pass", "not a cluster address"),
        (("--cluster", "local", "--styles", folder), "pass", "serves one style"),
        (("--styles", folder), "pass", "serves one style"),
        (("--actors", "2"), "pass", "--actors needs --cluster"),
        (("--cluster", "local"), "sys.modules['ray'] = None", 'pip install "tfstyle[cluster]"'),
    ]
    for extra, pre, want in cases:
        r = _cli("apply", model_dir, folder, "-o", out, *extra, pre=pre)
        assert r.returncode == 2, (extra, r.stderr)
        assert want in r.stderr and len(r.stderr.strip().splitlines()) == 1, (extra, r.stderr)
    closed.close()
    assert not out.exists()


def test_without_cluster_ray_is_never_imported(model_dir, tmp_path):
    """The local apply, in this process: no module of Ray is even looked for."""
    from tfstyle.cli import main

    class Spy:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "ray":
                wanted.append(name)

    img = tmp_path / "a.png"
    Image.new("RGB", (32, 32), "red").save(img)
    wanted: list[str] = []
    assert "ray" not in sys.modules
    sys.meta_path.insert(0, Spy())
    try:
        assert main(["apply", str(model_dir), str(img), "-o", str(tmp_path / "o"), "-q"]) == 0
    finally:
        sys.meta_path.pop(0)
    assert (tmp_path / "o" / "a.png").is_file()
    assert not wanted and "ray" not in sys.modules


def test_plan_with_paintings_gives_each_image_its_seeded_choice(anystyle_dir, images, tmp_path):
    """The plan of an arbitrary-style model: K outputs per image, NAME_style<j>, each with the
    painting choose_styles gives for the image's path."""
    folder, _ = images
    anystyle = anystyle_dir
    paintings = tmp_path / "paintings"
    paintings.mkdir()
    for i in range(5):
        Image.new("RGB", (32, 32), (40 * i, 0, 0)).save(paintings / f"p{i}.png")
    plan = plan_job(anystyle, [folder], tmp_path / "o", styles=paintings, seed=9, styles_per_image=2)
    assert len(plan.todo) == 2 * 15
    by_image: dict[str, list[str]] = {}
    for t in plan.todo:
        stem, j = t.output.rsplit("_style", 1)
        assert j in ("0.png", "1.png")
        by_image.setdefault(stem, []).append(t.style)
    all_paintings = [str(p) for p in sorted(paintings.iterdir())]
    for stem, chosen in by_image.items():
        assert chosen == choose_styles(9, stem, all_paintings, 2)
    again = plan_job(anystyle, [folder], tmp_path / "o", styles=paintings, seed=9, styles_per_image=2)
    assert [t.style for t in again.todo] == [t.style for t in plan.todo]


@pytest.mark.slow
def test_the_actor_gives_an_arbitrary_style_model_each_task_its_painting(anystyle_dir, images, tmp_path):
    """The actor (called as a plain object) stylises each image with its task's painting: the same
    pixels as the model applied with that painting directly; a plan without paintings is refused."""
    from tfstyle.feedforward.arbitrary import ArbitraryModel

    folder, bad = images
    paintings = tmp_path / "paintings"
    paintings.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        Image.fromarray((rng.random((40, 56, 3)) * 255).astype(np.uint8)).save(paintings / f"p{i}.png")
    plan = plan_job(anystyle_dir, [folder], tmp_path / "o", styles=paintings, seed=4)
    assert len({t.style for t in plan.todo}) > 1
    actor = Stylist(str(anystyle_dir), str(tmp_path / "o"), size=None, batch_size=4, threads=1, since_ns=0)
    rows = actor({"source": np.array([t.source for t in plan.todo], dtype=object),
                  "output": np.array([t.output for t in plan.todo], dtype=object),
                  "style": np.array([t.style for t in plan.todo], dtype=object)})
    skipped = {os.path.relpath(src, folder) for src, st in zip(rows["source"], rows["status"]) if st != "done"}
    assert skipped == set(bad)  # the collection's unreadable files, and nothing else
    model = ArbitraryModel(anystyle_dir)
    for t in [t for t in plan.todo if os.path.relpath(t.source, folder) not in skipped][:4]:
        want = model.stylize(load_image(t.source), model.style_vector(load_image(t.style)))
        got = load_image(tmp_path / "o" / t.output)
        assert np.abs(got - want).max() <= 1 / 255 + 1e-6  # PNG: 8-bit rounding
    with pytest.raises(ClusterError, match="needs paintings"):
        plan_job(anystyle_dir, [folder], tmp_path / "o2")
