"""A real Ray cluster on loopback for the tests: a head and separate worker nodes, each its own raylet.

``ray.cluster_utils.Cluster`` starts every node as real processes (GCS, raylet, object store, workers), so
removing a node with ``allow_graceful=False`` is a node failure as Ray sees one. Everything listens on
127.0.0.1: Ray would otherwise advertise the machine's outward address, so the tests switch off Ray's
multi-host address resolution (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, which on Linux only means "use
loopback"). Teardown removes every node it started and kills, by pid, any process of theirs that outlived
that; nothing else on the machine is touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


@dataclass
class LocalRayCluster:
    cluster: Any
    temp_dir: Path
    workers: list[Any] = field(default_factory=list)
    _pids: set[int] = field(default_factory=set)

    @property
    def address(self) -> str:
        return self.cluster.address

    def add_worker(self, num_cpus: int = 1, **kwargs: Any) -> Any:
        node = self.cluster.add_node(
            num_cpus=num_cpus, node_ip_address="127.0.0.1", temp_dir=str(self.temp_dir), **kwargs
        )
        self.workers.append(node)
        self._remember(node)
        return node

    def kill_worker(self, node: Any) -> None:
        """A node failure: every process of the node gets SIGKILL, no graceful shutdown."""
        self.cluster.remove_node(node, allow_graceful=False)
        self.workers.remove(node)

    @staticmethod
    def node_id(node: Any) -> str:
        return node.node_id

    @staticmethod
    def raylet_pid(node: Any) -> int:
        return node.all_processes["raylet"][0].process.pid

    def _remember(self, node: Any) -> None:
        for infos in node.all_processes.values():
            for info in infos:
                self._pids.add(info.process.pid)

    def shutdown(self) -> None:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        try:
            self.cluster.shutdown()
        finally:
            for pid in self._pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            shutil.rmtree(self.temp_dir, ignore_errors=True)


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def jails_under(pid: int) -> list[int]:
    """Sandboxed candidate processes (bubblewrap or the harness itself) below a process."""
    return [p for p in descendants(pid) if "sciml_runtime" in cmdline(p)]


@contextlib.contextmanager
def local_ray_cluster(
    worker_cpus: list[int] | tuple[int, ...] = (1,), head_cpus: int = 0
) -> Iterator[LocalRayCluster]:
    """A head (``head_cpus`` evaluation slots, 0 by default) plus one worker node per entry of ``worker_cpus``."""
    saved = {key: os.environ.get(key) for key in LOOPBACK_ENV}
    os.environ.update(LOOPBACK_ENV)
    import ray._private.ray_constants as constants
    from ray.cluster_utils import Cluster

    previous_flag = constants.ENABLE_RAY_CLUSTER
    constants.ENABLE_RAY_CLUSTER = False  # read at call time by Ray's address resolution
    # Unix socket paths must stay short (108 bytes): not under pytest's long tmp_path.
    temp_dir = Path(tempfile.mkdtemp(prefix="rayt", dir="/tmp"))
    local: LocalRayCluster | None = None
    # Ray records the cluster's address in <system temp>/ray/ray_current_cluster even when the nodes use
    # another temp dir, and does not create that folder itself: on a fresh machine it does not exist yet.
    from ray._private.utils import get_ray_address_file

    Path(get_ray_address_file(None)).parent.mkdir(parents=True, exist_ok=True)
    try:
        cluster = Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": head_cpus,
                "include_dashboard": False,
                "node_ip_address": "127.0.0.1",
                "temp_dir": str(temp_dir),
            },
        )
        local = LocalRayCluster(cluster=cluster, temp_dir=temp_dir)
        local._remember(cluster.head_node)
        for cpus in worker_cpus:
            local.add_worker(cpus)
        yield local
    finally:
        if local is not None:
            local.shutdown()
        else:
            shutil.rmtree(temp_dir, ignore_errors=True)
        constants.ENABLE_RAY_CLUSTER = previous_flag
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
