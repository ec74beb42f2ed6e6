"""Settings of ``tfstyle apply --cluster``: the same job on Ray Data (:mod:`tfstyle.cluster`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .parsers import _h, _positive_int

# The manifest the job keeps beside its outputs (one row per output: source, output, style, model,
# status, reason); a rerun skips the rows marked done whose files exist.
CLUSTER_MANIFEST = "manifest.csv"
CLUSTER_MANIFEST_FIELDS = ("source", "output", "style", "model", "status", "reason")
# A file the job writes into the output folder when it starts: an output newer than it was written
# by this run (a batch retried after a worker died does not write it twice).
CLUSTER_RUN_MARKER = ".tfstyle-run"
# Seconds to wait for a cluster address to answer before calling it unreachable.
CLUSTER_CONNECT_TIMEOUT_S = 5.0
CLUSTER_MODES = ("auto", "local")


@dataclass(frozen=True)
class ClusterConfig:
    """Settings of ``tfstyle apply --cluster``: the actor pool and the per-image style choice."""

    actors: int = field(default=0, metadata=_h("--cluster: model replicas (actors); 0: as many as the "
                                                "cluster's CPUs hold"))
    cpus_per_actor: int = field(default=1, metadata=_h("--cluster: CPUs each actor reserves (and its "
                                                        "TensorFlow threads)"))
    seed: int = field(default=0, metadata=_h("--styles: seed of the per-image painting choice"))
    styles_per_image: int = field(default=1, metadata=_h("--styles: stylised copies of each image, "
                                                          "each with another painting"))

    def validate(self) -> "ClusterConfig":
        _positive_int("actors", self.actors, minimum=0)
        _positive_int("cpus_per_actor", self.cpus_per_actor, minimum=1)
        _positive_int("seed", self.seed, minimum=0)
        _positive_int("styles_per_image", self.styles_per_image, minimum=1)
        return self
