"""How a candidate process is confined: probe what this machine allows, then build the command line.

The strongest available backend is chosen once per process and every run reports what was actually active,
so a weaker fallback is visible in the run record rather than silent. See ``sandbox/README.md`` for the
threat model.

Backends, strongest first:

* ``bwrap`` (bubblewrap): new mount, network, PID, IPC and UTS namespaces; a private root holding only the
  read-only system and Python directories, the read-only task bundle and the writable scratch directory.
  When started as root, ``setpriv`` then drops to an unprivileged uid with no capabilities and
  ``no_new_privs``; otherwise bubblewrap's user namespace is used.
* ``unshare`` (util-linux): a new network namespace only; the filesystem is shared, guarded by Unix
  permissions (the candidate runs under its own uid when we are root) and the audit hook.
* ``none``: resource limits, stripped environment and in-process guards only.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

Backend = Literal["bwrap", "unshare", "none"]

RUNTIME_PACKAGE = "sciml_runtime"
OUR_PACKAGES = ("app", "agents", "sandbox", "problems", "knowledge_base", "baselines", "migrations")
INSIDE_TASK = "/task"
INSIDE_SCRATCH = "/scratch"
INSIDE_LIB = "/opt/sciml"
_ETC_FILES = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/passwd", "/etc/group",
    "/etc/nsswitch.conf", "/etc/localtime", "/etc/alternatives",
)


@dataclass(frozen=True)
class Limits:
    """Kernel resource limits for one candidate process tree."""

    memory_mb: int = 4096
    cpu_seconds: int = 600
    processes: int = 256
    file_size_mb: int = 512
    open_files: int = 1024
    tmp_size_mb: int = 256
    # CUDA reserves tens of GB of address space at initialisation, so a GPU run caps the data segment
    # (RLIMIT_DATA: private writable memory) instead of the whole address space.
    gpu: bool = False

    def as_report(self) -> dict[str, int]:
        return {
            ("data_segment_mb" if self.gpu else "address_space_mb"): self.memory_mb,
            "cpu_seconds": self.cpu_seconds,
            "processes_and_threads": self.processes,
            "file_size_mb": self.file_size_mb,
            "open_files": self.open_files,
            "core_dumps": 0,
        }


@dataclass
class LaunchPlan:
    argv: list[str]
    env: dict[str, str]
    preexec: Callable[[], None]
    protections: dict[str, object]
    task_dir: str
    scratch_dir: str


@dataclass(frozen=True)
class MachineSupport:
    """What this machine allows, probed once."""

    is_root: bool
    bwrap: str | None
    bwrap_works: bool
    unshare: str | None
    unshare_works: bool
    setpriv: str | None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _try(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.lru_cache(maxsize=1)
def probe() -> MachineSupport:
    is_root = os.geteuid() == 0
    bwrap = shutil.which("bwrap")
    unshare = shutil.which("unshare")
    setpriv = shutil.which("setpriv")
    true = shutil.which("true") or "/bin/true"
    notes: list[str] = []
    bwrap_works = False
    if bwrap:
        ns = ["--unshare-net", "--unshare-pid"] + ([] if is_root else ["--unshare-user"])
        bwrap_works = _try([bwrap, "--ro-bind", "/", "/", *ns, "--die-with-parent", true])
        if not bwrap_works:
            notes.append("bubblewrap is installed but cannot create namespaces here")
    else:
        notes.append("bubblewrap not installed (Debian package 'bubblewrap')")
    unshare_works = False
    if unshare:
        argv = [unshare, "--net", true] if is_root else [unshare, "--user", "--map-current-user", "--net", true]
        unshare_works = _try(argv)
    return MachineSupport(is_root, bwrap, bwrap_works, unshare, unshare_works, setpriv, tuple(notes))


# How much each backend confines a candidate. Only bubblewrap hides the host filesystem: under the weaker
# ones a candidate can read any world-readable file, a problem's hidden targets included (a user problem's
# data.npz, for instance), so their scores are not trustworthy.
STRENGTH: dict[str, str] = {"bwrap": "strong", "unshare": "weak", "none": "weak"}
WEAKNESS: dict[str, str] = {
    "unshare": "network namespace only: the host filesystem is shared, so a candidate can read world-readable "
               "files, hidden targets included",
    "none": "no namespaces: the host filesystem and the network are guarded only by in-process hooks, so a "
            "candidate can read world-readable files, hidden targets included",
}


def is_weak(backend: str | None) -> bool:
    """Whether ``backend`` is weaker than bubblewrap (``None``, not known, is not called weak)."""
    return backend is not None and backend != "bwrap"


def describe_backend(requested: str = "auto") -> dict[str, object]:
    """Which backend :func:`choose_backend` picks for ``requested`` here, and how strong it is; never raises."""
    support = probe()
    try:
        backend: str | None = choose_backend(requested)
        error = None
    except RuntimeError as exc:
        backend, error = None, str(exc)
    info: dict[str, object] = {
        "requested": requested,
        "backend": backend,
        "strength": STRENGTH.get(backend or "", "unavailable"),
        "weak": is_weak(backend),
        "bwrap_usable": support.bwrap_works,
        "unshare_usable": support.unshare_works,
        "notes": list(support.notes),
    }
    if backend in WEAKNESS:
        info["weakness"] = WEAKNESS[backend]
    if error:
        info["error"] = error
    return info


def choose_backend(requested: str = "auto") -> Backend:
    support = probe()
    if requested == "bwrap" or (requested == "auto" and support.bwrap_works):
        if not support.bwrap_works:
            raise RuntimeError("sandbox_mode=bwrap requested but bubblewrap cannot run here: "
                               + "; ".join(support.notes))
        return "bwrap"
    if requested == "unshare" or (requested == "auto" and support.unshare_works):
        if not support.unshare_works:
            raise RuntimeError("sandbox_mode=unshare requested but unshare cannot create a network namespace")
        return "unshare"
    return "none"


def _count_tasks_of(uid: int) -> int:
    """Threads currently owned by ``uid`` (RLIMIT_NPROC counts threads, per real uid)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                total += int(fields.get("Threads", "1").strip())
        except (OSError, KeyError, ValueError):
            continue
    return total


def _preexec(limits: Limits, processes: int) -> Callable[[], None]:
    def apply() -> None:
        mb = 1024 * 1024
        memory = resource.RLIMIT_DATA if limits.gpu else resource.RLIMIT_AS
        resource.setrlimit(memory, (limits.memory_mb * mb, limits.memory_mb * mb))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size_mb * mb, limits.file_size_mb * mb))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))

    return apply


def _masked_paths(bound: list[str], extra_secret: list[Path]) -> list[str]:
    """Our own packages and secret directories that would be visible through a bound directory."""
    masked: list[str] = []
    candidates: list[str] = [str(p) for p in extra_secret]
    for name in OUR_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec and spec.submodule_search_locations:
            candidates.extend(str(Path(p).resolve()) for p in spec.submodule_search_locations)
    for path in candidates:
        if any(path == b or path.startswith(b.rstrip("/") + "/") for b in bound) and os.path.isdir(path):
            masked.append(path)
    return sorted(set(masked))


def _python_dirs() -> list[str]:
    dirs = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), os.path.realpath(sys.exec_prefix)}
    exe_dir = os.path.dirname(os.path.realpath(sys.executable))
    dirs.add(os.path.dirname(exe_dir))
    return sorted(d for d in dirs if not d.startswith("/usr/") and d != "/usr")


def base_env(*, cpu_threads: int, home: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment: nothing of the parent's leaks (keys, DATABASE_URL, tokens)."""
    threads = str(max(1, cpu_threads))
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "USER": "candidate",
        "LOGNAME": "candidate",
        "TMPDIR": f"{home}/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/.mpl",
        "NO_PROXY": "*",
    }
    if extra:
        env.update(extra)
    return env


def python_argv() -> list[str]:
    bootstrap = (
        "import sys, runpy; sys.path.insert(0, sys.argv[1]); "
        f"runpy.run_module('{RUNTIME_PACKAGE}.harness', run_name='__main__')"
    )
    return [sys.executable, "-I", "-B", "-c", bootstrap]


def plan_launch(
    *,
    backend: Backend,
    task_dir: Path,
    scratch_dir: Path,
    lib_dir: Path,
    limits: Limits,
    cpu_threads: int,
    uid: int | None,
    secret_dirs: list[Path],
    extra_env: dict[str, str] | None = None,
    gpu_ids: list[str] | None = None,
) -> LaunchPlan:
    """Build the argv, environment and pre-exec hook for one sandboxed harness process.

    ``gpu_ids`` (granted by the executor) are pinned with ``CUDA_VISIBLE_DEVICES`` and the NVIDIA device
    nodes are bound into the jail; without them the candidate sees no GPU.
    """
    support = probe()
    protections: dict[str, object] = {"backend": backend, "strength": STRENGTH.get(backend, "weak"),
                                      "rlimits": limits.as_report()}
    fallbacks: list[str] = list(support.notes)
    drop_uid = support.is_root and uid is not None and support.setpriv is not None
    processes = limits.processes
    if not support.is_root:
        processes += _count_tasks_of(os.getuid())

    if backend == "bwrap":
        inside_task, inside_scratch, inside_lib = INSIDE_TASK, INSIDE_SCRATCH, INSIDE_LIB
    else:
        inside_task, inside_scratch, inside_lib = str(task_dir), str(scratch_dir), str(lib_dir)
    env = base_env(cpu_threads=cpu_threads, home=inside_scratch, extra=extra_env)
    env.update({
        "SCIML_TASK_DIR": inside_task,
        "SCIML_SCRATCH_DIR": inside_scratch,
        "SCIML_WRITABLE": inside_scratch + (":/tmp" if backend == "bwrap" else ""),
        "CUDA_VISIBLE_DEVICES": ",".join(gpu_ids or []),
    })
    gpu_nodes: list[str] = []
    if gpu_ids:
        from .gpu import device_nodes

        gpu_nodes = device_nodes()
        env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        protections["gpu"] = {"cuda_visible_devices": env["CUDA_VISIBLE_DEVICES"], "device_nodes": gpu_nodes,
                              "memory_limit": "RLIMIT_DATA (CUDA needs a large address space)"}
    argv_tail = [*python_argv(), inside_lib]
    if drop_uid:
        argv_tail = [
            support.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
            "--bounding-set=-all", "--inh-caps=-all", "--", *argv_tail,
        ]
        protections["user"] = f"uid {uid}, no capabilities, no_new_privs"
    else:
        protections["user"] = "same uid as the service" + ("" if support.is_root else " (not root)")
        if support.is_root:
            fallbacks.append("setpriv missing: candidate keeps root's uid inside its namespaces")

    if backend == "bwrap":
        bound: list[str] = []
        made: set[str] = {"/"}

        def parents(target: str) -> list[str]:
            # bubblewrap creates missing mount points readable by root only; the unprivileged candidate
            # needs to traverse them, so create each ancestor explicitly (0755).
            out: list[str] = []
            path = Path(target).parent
            chain = [p for p in reversed([path, *path.parents]) if str(p) not in made]
            for ancestor in chain:
                made.add(str(ancestor))
                out += ["--dir", str(ancestor)]
            return out

        args = [support.bwrap or "bwrap", "--die-with-parent", "--new-session", "--clearenv"]
        args += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if not support.is_root:
            args += ["--unshare-user", "--disable-userns"]
        args += ["--hostname", "sandbox"]
        # The private /tmp comes first: mounted later, it would hide anything bound below it, such as a
        # virtual environment in a checkout under /tmp.
        args += ["--perms", "1777", "--size", str(limits.tmp_size_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        args += ["--ro-bind", "/usr", "/usr"]
        bound.append("/usr")
        for top in ("/bin", "/lib", "/lib64", "/sbin", "/lib32", "/libx32"):
            if os.path.islink(top):
                args += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                args += ["--ro-bind", top, top]
                bound.append(top)
        for path in _ETC_FILES:
            if os.path.exists(path):
                args += ["--ro-bind", path, path]
        for path in _python_dirs():
            args += [*parents(path), "--ro-bind", path, path]
            bound.append(path)
        for path in _masked_paths(bound, secret_dirs):
            args += ["--tmpfs", path, "--remount-ro", path]
        args += ["--proc", "/proc", "--dev", "/dev"]
        for node in gpu_nodes:
            args += ["--dev-bind", node, node]
        if gpu_nodes:
            # The CUDA runtime and NVML read PCI topology and the driver's parameters (read-only).
            for path in ("/sys/bus/pci", "/sys/devices", "/sys/module/nvidia"):
                args += ["--ro-bind-try", path, path]
        args += ["--ro-bind", str(task_dir), INSIDE_TASK]
        args += ["--bind", str(scratch_dir), INSIDE_SCRATCH]
        args += [*parents(INSIDE_LIB), "--ro-bind", str(lib_dir), INSIDE_LIB]
        args += ["--chdir", INSIDE_SCRATCH]
        for key, value in env.items():
            args += ["--setenv", key, value]
        argv = [*args, *argv_tail]
        protections["network"] = "new network namespace without interfaces"
        protections["filesystem"] = "private root: read-only system and Python, read-only task, writable scratch"
        protections["pid_namespace"] = True
        protections["ipc_namespace"] = True
    elif backend == "unshare":
        prefix = [support.unshare or "unshare", "--net"]
        if not support.is_root:
            prefix = [support.unshare or "unshare", "--user", "--map-current-user", "--net"]
        argv = [*prefix, "--", *argv_tail]
        protections["network"] = "new network namespace without interfaces"
        protections["filesystem"] = "shared host filesystem: Unix permissions and the audit hook only"
        protections["pid_namespace"] = False
        fallbacks.append("no mount namespace: candidate can read world-readable host files")
    else:
        argv = list(argv_tail)
        protections["network"] = False
        protections["filesystem"] = "shared host filesystem: Unix permissions and the audit hook only"
        protections["pid_namespace"] = False
        fallbacks.append("no namespaces: network reachable except through the seccomp filter")
    protections["env"] = "cleared; only PATH, HOME, TMPDIR, locale and thread counts are set"
    if fallbacks:
        protections["fallbacks"] = fallbacks
    return LaunchPlan(
        argv=argv,
        env=env,
        preexec=_preexec(limits, processes),
        protections=protections,
        task_dir=inside_task,
        scratch_dir=inside_scratch,
    )
