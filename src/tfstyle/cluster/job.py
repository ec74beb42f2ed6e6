"""Running a job on Ray Data: connect (or start Ray in this process), map the tasks through a pool
of :class:`~tfstyle.cluster.actor.Stylist` actors, keep the manifest.

Ray's ``map_batches`` with a pool of actors is its documented batch-inference pattern: each actor
loads the model once. Ray Data restarts an actor whose node died and retries its in-flight blocks
(``max_restarts`` and ``max_task_retries`` unlimited by default), so a lost worker costs time, not
images; the run marker keeps a retried block from writing an image twice.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..config import (CLUSTER_CONNECT_TIMEOUT_S, CLUSTER_RUN_MARKER, ApplyConfig, ClusterConfig, ConfigError)
from ..io.images import atomic_write
from . import ClusterError
from .actor import Stylist, stale_temporaries
from .manifest import DONE, SKIPPED, ManifestWriter, write_manifest
from .plan import plan_job

INSTALL_HINT = 'pip install "tfstyle[cluster]"'
# Each Ray Data block (the unit a worker's death sends back to be retried) holds this many batches.
BATCHES_PER_BLOCK = 4


@dataclass
class ClusterResult:
    """What :func:`run_job` did.

    Attributes:
        written: outputs written by this run.
        already: outputs an earlier run had finished (skipped).
        skipped: ``(source, reason)`` of the images that could not be read.
        manifest: the manifest's path.
        interrupted: the run was stopped (Ctrl-C); what is written is whole, a rerun finishes it.
        actors: the size of the actor pool; nodes: the cluster's nodes alive at the start.
    """

    written: int = 0
    already: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    manifest: Path | None = None
    interrupted: bool = False
    actors: int = 0
    nodes: int = 0


def resolve_address(cluster: str) -> str | None:
    """``local`` -> None (start Ray in this process); ``auto`` -> ``$RAY_ADDRESS``, else None; an
    address as given."""
    if cluster == "local":
        return None
    if cluster == "auto":
        return os.environ.get("RAY_ADDRESS") or None
    return cluster


def _check_reachable(address: str) -> None:
    """Fail in seconds with one line where Ray would retry for a long time."""
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ClusterError(f"--cluster {address}: not a cluster address (HOST:PORT, ray://HOST:PORT, "
                           "auto or local)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CLUSTER_CONNECT_TIMEOUT_S).close()
    except OSError as e:
        why = e.strerror or type(e).__name__
        raise ClusterError(f"cannot reach a Ray cluster at {address} ({why})") from None


def import_ray():
    """Ray and Ray Data, or a one-line error saying how to install them."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ClusterError(f"--cluster needs Ray Data: {INSTALL_HINT}") from None
    return ray


@contextlib.contextmanager
def connect(cluster: str):
    """Ray connected to ``cluster`` (``auto``, ``local`` or an address) for the block's duration.

    A Ray already initialised in this process is used as it is and left running."""
    address = resolve_address(cluster)
    if address is not None:
        _check_reachable(address)
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    # The library never prints: Ray's own log lines stay in its session logs (Ray still prints the
    # cluster's events, a node lost for one, on stderr).
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False,
             "runtime_env": {"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2", "ABSL_MIN_LOG_LEVEL": "2"}}}
    try:
        if address is None:
            # A cluster of this machine alone, never one it finds running here. Ray asked for the
            # loopback address (Ray 2.60 still listens on every interface: docs/cluster.md).
            ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1", **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, TimeoutError, RuntimeError) as e:
        msg = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise ClusterError(f"cannot join the Ray cluster at {address or 'local'}: {msg}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def run_job(model_dir, inputs, out_dir, cluster: str = "auto", apply: ApplyConfig = ApplyConfig(),
            config: ClusterConfig = ClusterConfig(), styles=None, overwrite: bool = False,
            callback: Callable[[int, int], None] | None = None) -> ClusterResult:
    """Stylise image files and folders into ``out_dir`` on a Ray cluster, as ``apply_files`` does
    on this machine, keeping a manifest beside the outputs.

    Args:
        model_dir: the model folder; every node reads it at the same path.
        inputs: image files and folders (searched recursively), readable by every node.
        out_dir: the output folder, shared by every node (a network file system on a real cluster).
        cluster: ``local`` (start Ray in this process), ``auto`` (``$RAY_ADDRESS``, else local) or the
            address of a running cluster (``HOST:PORT`` of its head, or ``ray://HOST:PORT``).
        apply: size, batch size and format, as for the local apply.
        config: the actor pool, and the seed and copies of the per-image painting choice.
        styles: a folder of paintings (or one) for an arbitrary-style model; None for a model that
            serves one style.
        overwrite: redo every output, whatever the manifest says.
        callback: called as ``callback(finished, total)`` on this process as batches finish; it may
            raise KeyboardInterrupt to stop the run (what is written stays, the manifest is kept).

    Returns:
        A :class:`ClusterResult`.

    Raises:
        ClusterError: Ray is not installed, the address cannot be reached, ``styles`` with a
            one-style model, an output folder holding another model's outputs.
        ImageError, ModelError: as for the local apply.
    """
    apply, config = apply.validate(), config.validate()
    suffix = "." + apply.format
    plan = plan_job(model_dir, inputs, out_dir, suffix, styles, config.seed, config.styles_per_image, overwrite)
    out = plan.out_dir
    if plan.todo:  # Ray and the address, checked before anything is written
        address = resolve_address(cluster)
        if address is not None:
            _check_reachable(address)
        import_ray()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{out}: cannot create the output folder ({e.strerror or e})") from None
    result = ClusterResult(already=len(plan.done), manifest=plan.manifest)
    write_manifest(plan.manifest, plan.done)  # drops rows whose files are gone; --overwrite: none
    if not plan.todo:
        return result
    marker = atomic_write(out / CLUSTER_RUN_MARKER, lambda f: f.write(f"{os.getpid()}\n".encode()))
    since_ns = marker.stat().st_mtime_ns
    rows: list[dict[str, str]] = []
    writer = ManifestWriter(plan.manifest)
    try:
        with connect(cluster) as ray:
            result.nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
            cpus = int(ray.cluster_resources().get("CPU", 0))
            if cpus < config.cpus_per_actor:
                raise ClusterError(f"the cluster has {cpus} CPU(s); each actor needs {config.cpus_per_actor}")
            batches = math.ceil(len(plan.todo) / apply.batch_size)
            actors = min(config.actors or cpus // config.cpus_per_actor, batches)
            result.actors = actors
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = False
            ctx.print_on_execution_start = False
            ds = ray.data.from_items([t.as_row() for t in plan.todo],
                                     override_num_blocks=max(actors, math.ceil(batches / BATCHES_PER_BLOCK)))
            ds = ds.map_batches(
                Stylist, batch_size=apply.batch_size, batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=config.cpus_per_actor,
                fn_constructor_kwargs={"model_dir": plan.model, "out_dir": os.path.abspath(out),
                                       "size": apply.size or None, "batch_size": apply.batch_size,
                                       "threads": config.cpus_per_actor, "since_ns": since_ns})
            try:
                for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                    got = [{"source": s, "output": o, "style": st, "model": plan.model, "status": status,
                            "reason": why}
                           for s, o, st, status, why in zip(batch["source"], batch["output"], batch["style"],
                                                            batch["status"], batch["reason"])]
                    writer.append(got)
                    rows += got
                    for r in got:
                        if r["status"] == SKIPPED:
                            result.skipped.append((r["source"], r["reason"]))
                    if callback is not None:
                        callback(len(rows), len(plan.todo))
            except KeyboardInterrupt:
                result.interrupted = True
    except KeyboardInterrupt:  # while connecting or shutting down
        result.interrupted = True
    finally:
        writer.close()
        write_manifest(plan.manifest, plan.done + rows)
    result.written = sum(r["status"] == DONE for r in rows)
    if not result.interrupted:
        for tmp in stale_temporaries(out, [t.output for t in plan.todo]):
            with contextlib.suppress(OSError):
                tmp.unlink()
        with contextlib.suppress(OSError):
            marker.unlink()
    return result
