"""The distributed batch job behind ``tfstyle apply --cluster``: Ray Data with a pool of actors.

:func:`tfstyle.cluster.job.run_job` plans the outputs exactly as the local ``apply`` names them,
drops what an earlier run finished (by the manifest, checked against the files), and stylises the
rest on a Ray cluster; each actor loads the model once. Ray is imported only by
:mod:`tfstyle.cluster.job`, so this package costs nothing without ``--cluster``.

Modules: ``styles`` (the per-image painting choice, a pure function), ``manifest`` (the CSV beside
the outputs), ``plan`` (what to write, what is done), ``actor`` (the model replica; no Ray in it),
``job`` (connecting to Ray and running the dataset).
"""

from __future__ import annotations


class ClusterError(ValueError):
    """The cluster cannot be used (no Ray installed, an unreachable address, a style folder that a
    model cannot take). One-line message."""
