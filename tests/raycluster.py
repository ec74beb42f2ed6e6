"""A real Ray cluster for the tests: a head and worker nodes, each started with ``ray start --block``
in its own process group with ``--node-ip-address=127.0.0.1``, joined at 127.0.0.1:PORT, and stopped
by the process groups started here (never ``ray stop``, which would end every Ray process on the
machine).

Ray 2.60 takes the address of the machine's route to the outside for its own whatever
``--node-ip-address`` says, and listens there. So every node, and every command that joins the
cluster (:meth:`RayCluster.run`), runs in a network namespace of its own that holds nothing but the
loopback interface (``ip netns``, as root): Ray finds no other address there, and nothing it opens
can be reached from outside this machine, nor from the rest of it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ports() -> list[str]:
    """Every port a node listens on, free ones chosen here: other Ray clusters may run on this
    machine and Ray's fixed defaults would collide with them."""
    return ["--node-manager-port", str(free_port()), "--object-manager-port", str(free_port()),
            "--dashboard-agent-listen-port", str(free_port()), "--dashboard-agent-grpc-port", str(free_port()),
            "--runtime-env-agent-port", str(free_port()), "--metrics-export-port", str(free_port())]


def loopback_namespace() -> str:
    """A new network namespace with only the loopback interface, up; its name. Fails, with the
    reason, where namespaces cannot be made (not root, no iproute2): the tests never fall back to
    a cluster that listens on the machine's own address."""
    name = f"tfstyle-ray-{os.getpid()}-{free_port()}"
    for cmd in (["ip", "netns", "add", name], ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            subprocess.run(["ip", "netns", "delete", name], capture_output=True)
            raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()} (the Ray tests run their cluster in a "
                               f"loopback-only network namespace: root and iproute2 are needed)")
    return name


class RayCluster:
    """``head_cpus`` on the head, one worker node per entry of ``worker_cpus``; ``pin``: a core list
    (taskset's) per node, head first, that the node and every process it starts run on."""

    def __init__(self, tmp: Path, head_cpus: int = 1, worker_cpus=(1,), env: dict | None = None,
                 pin: list[str] | None = None):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.pin = list(pin or [])
        self.netns = loopback_namespace()
        # Every process of the cluster, and every command that joins it, runs behind this prefix.
        self.prefix = ["ip", "netns", "exec", self.netns]
        # Ray's session folder holds Unix sockets, whose paths may not exceed 107 bytes: a short one.
        self.ray_tmp = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        # No token authentication: a token file in the home folder (which a local ray.init() writes)
        # would turn it on for the head only, and the worker nodes could not join.
        # A killed node is declared dead after about 3 s instead of Ray's default of half a minute.
        self.env = {**os.environ, **(env or {}), "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
                    "RAY_health_check_period_ms": "1000", "RAY_health_check_timeout_ms": "1000",
                    "RAY_health_check_failure_threshold": "3"}
        self.workers: list[subprocess.Popen] = []
        self.head = None
        try:
            self.head = self._start(["--head", "--port", str(self.port), "--num-cpus", str(head_cpus),
                                 "--include-dashboard=false", "--temp-dir", str(self.ray_tmp),
                                 "--ray-client-server-port", str(free_port())], "head")
            self._wait_started(self.head, "head")
            for i, n in enumerate(worker_cpus):  # one at a time: nodes starting together collide
                self.workers.append(self._start(["--address", self.address, "--num-cpus", str(n)], f"worker{i}"))
                self._wait_started(self.workers[-1], f"worker{i}")
        except BaseException:
            self.stop()
            raise

    def _start(self, args: list[str], name: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")
        cmd = [RAY, "start", "--block", "--node-ip-address=127.0.0.1", "--disable-usage-stats", *_ports(), *args]
        index = 0 if name == "head" else 1 + len(self.workers)
        if index < len(self.pin):
            cmd = ["taskset", "-c", self.pin[index], *cmd]
        return subprocess.Popen([*self.prefix, *cmd], stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                start_new_session=True)

    def run(self, cmd: list[str], **kwargs) -> subprocess.Popen:
        """``cmd`` started inside the cluster's network namespace (``ip netns exec`` execs it: the
        process id is the command's own)."""
        return subprocess.Popen([*self.prefix, *cmd], **kwargs)

    def _wait_started(self, p: subprocess.Popen, name: str, timeout: float = 120) -> None:
        """Until the node's ``ray start`` says it runs (it does once its raylet has registered with
        the head): reading its log costs nothing, a Ray client per poll would cost seconds of CPU."""
        log = self.tmp / f"{name}.log"
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if p.poll() is not None:
                raise RuntimeError(f"Ray node {name} exited: see {log}")
            if b"Ray runtime started." in log.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError(f"Ray node {name} did not start in {timeout} s: see {log}")

    @staticmethod
    def kill(p: subprocess.Popen, sig=signal.SIGKILL) -> None:
        """Signal the process group this cluster started for one node."""
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        nodes = [p for p in [*self.workers, self.head] if p is not None]
        for p in nodes:
            self.kill(p, signal.SIGTERM)
        end = time.monotonic() + 5
        for p in nodes:
            try:
                p.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # The node's children (raylet, GCS, workers) share its process group.
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        shutil.rmtree(self.ray_tmp, ignore_errors=True)
        subprocess.run(["ip", "netns", "delete", self.netns], capture_output=True)
