"""Run one candidate in the sandbox and say, in plain words, how it ended.

The runner never sees the hidden targets: it receives what the candidate may see (the task bundle) and
returns a :class:`RunOutcome` with the path of the predictions file, which the trusted scorer validates.
One candidate per process lifetime is the isolation rule; a warm pool only saves the interpreter start and
the torch import, each warm process still serves exactly one candidate.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shutil
import signal
import stat
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

import numpy as np
from pydantic import BaseModel, Field

from .isolation import Limits, choose_backend, plan_launch, probe
from .spawner import Spawner
from .process import SandboxProcess
from .runtime import guards
from .runtime.task import Budget, write_task_bundle

FailureKind = Literal[
    "timeout", "memory", "cpu_time", "crash", "violation", "invalid_output", "no_output", "killed",
    "contract", "sandbox_error",
]
STARTUP_TIMEOUT_S = 120.0
PREDICTIONS_NAME = "predictions.npy"
RUNTIME_SOURCE = Path(__file__).resolve().parent / "runtime"
_GPU_REPORT_KEYS = ("name", "max_memory_allocated_mb", "max_memory_reserved_mb", "initialised")
_MEMORY_MARKERS = ("can't allocate memory", "out of memory", "cannot allocate memory", "std::bad_alloc")


class RunOutcome(BaseModel):
    """What happened to one candidate process; scores are added by the scorer, never read from the child."""

    run_id: str
    status: Literal["succeeded", "failed"]
    failure: FailureKind | None = None
    reason: str | None = None
    exit_code: int | None = None
    signal: str | None = None
    # The wall budget starts just before the candidate module is imported: ``import_seconds`` (its top
    # level) and ``solve_seconds`` (the call of solve() to the end of the process) both count against it.
    # ``startup_seconds`` is the sandbox's own set-up before that, which does not.
    startup_seconds: float = 0.0
    import_seconds: float | None = None
    solve_seconds: float | None = None
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    max_rss_mb: float = 0.0
    # Optimiser steps the candidate counted (task.tick) or last logged; reported from inside, informational.
    steps: int | None = None
    warm_start: bool = False
    device: str = "cpu"
    # Set only when a GPU was granted: the pinned ids, the GPU time (solve wall time while the GPU was held)
    # and the peak memory torch reports from inside the jail (informational, like max_rss_mb).
    gpu: dict[str, Any] | None = None
    logs: list[dict[str, Any]] = Field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    traceback: str | None = None
    violations: list[str] = Field(default_factory=list)
    protections: dict[str, Any] = Field(default_factory=dict)
    predictions_path: str | None = Field(default=None, exclude=True)


class TaskBundle(BaseModel):
    """What a candidate may see. Built by the evaluation layer from a problem; never holds targets."""

    model_config = {"arbitrary_types_allowed": True}

    meta: dict[str, Any]
    train: Mapping[str, np.ndarray]
    query_inputs: Mapping[str, np.ndarray]


def _limits_for(budget: Budget, gpu: bool = False) -> Limits:
    grace = max(5.0, 0.1 * budget.wall_seconds)
    threads = max(1, budget.cpu_threads)
    cpu = int(threads * (budget.wall_seconds + grace) + STARTUP_TIMEOUT_S / 4)
    return Limits(memory_mb=int(budget.memory_mb), cpu_seconds=max(cpu, 10), gpu=gpu)


def _names_torch(code: str) -> bool:
    """Whether the source mentions torch at all (then a warm, torch-loaded worker pays off)."""
    return re.search(r"\btorch\b", code) is not None


def _grace(budget: Budget) -> float:
    return max(5.0, 0.1 * budget.wall_seconds)


def _runtime_lib(root: Path) -> Path:
    """A copy of the candidate runtime under its in-jail package name, keyed by content hash."""
    digest = hashlib.sha256()
    files = sorted(p for p in RUNTIME_SOURCE.glob("*.py"))
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    lib = root / "runtime" / digest.hexdigest()[:16]
    package = lib / "sciml_runtime"
    if not (package / "harness.py").exists():
        tmp = root / "runtime" / f".tmp-{uuid.uuid4().hex}"
        (tmp / "sciml_runtime").mkdir(parents=True)
        for path in files:
            shutil.copy2(path, tmp / "sciml_runtime" / path.name)
        os.chmod(tmp, 0o755)
        os.chmod(tmp / "sciml_runtime", 0o755)
        try:
            os.replace(tmp, lib)
        except OSError:  # another runner won the race
            shutil.rmtree(tmp, ignore_errors=True)
    return lib


class CandidateRunner:
    """Turns candidate source code plus a task bundle into a :class:`RunOutcome`."""

    _uid_counter = itertools.count()

    def __init__(
        self,
        runs_dir: Path,
        *,
        backend: str = "auto",
        uid_base: int = 61000,
        secret_dirs: list[Path] | None = None,
        keep_runs: bool = False,
        warm_workers: int = 0,
    ) -> None:
        self.backend = choose_backend(backend)
        self.runs_dir = self._reachable_runs_dir(Path(runs_dir))
        self.uid_base = uid_base
        self.secret_dirs = list(secret_dirs or [])
        self.keep_runs = keep_runs
        self.lib_dir = _runtime_lib(self.runs_dir)
        self._spawner = Spawner()
        self._pool = None
        if warm_workers > 0:
            from .warm_pool import WarmPool

            self._pool = WarmPool(self, size=warm_workers)

    # -- directories ---------------------------------------------------------------------------------------
    def _reachable_runs_dir(self, wanted: Path) -> Path:
        """Where run directories go; without a mount namespace the candidate's uid must reach them.

        bubblewrap binds the run directory into the jail, so any location works. The weaker backends run the
        candidate on the host filesystem under its own uid, which needs search permission on every
        ancestor; when ``wanted`` sits below a private directory (e.g. under /root), use a directory of
        our own under the system temp dir instead.
        """
        wanted.mkdir(parents=True, exist_ok=True)
        os.chmod(wanted, 0o711)
        if self.backend == "bwrap" or not probe().is_root:
            return wanted
        if all(os.stat(p).st_mode & stat.S_IXOTH for p in wanted.resolve().parents):
            return wanted
        import tempfile

        fallback = Path(tempfile.gettempdir()) / f"agentic-sciml-runs-{os.getuid()}"
        fallback.mkdir(mode=0o711, exist_ok=True)
        os.chmod(fallback, 0o711)
        return fallback

    def _new_uid(self) -> int | None:
        if not probe().is_root:
            return None
        return self.uid_base + (os.getpid() * 131 + next(self._uid_counter)) % 1000

    def make_run_dirs(self, uid: int | None) -> tuple[str, Path, Path]:
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:8]
        run_dir = self.runs_dir / run_id
        task_dir, scratch = run_dir / "task", run_dir / "scratch"
        task_dir.mkdir(parents=True)
        (scratch / "tmp").mkdir(parents=True)
        os.chmod(run_dir, 0o711)
        os.chmod(task_dir, 0o755)
        if uid is not None:
            for path in (scratch, scratch / "tmp"):
                os.chown(path, uid, uid)
        os.chmod(scratch, 0o700)
        return run_id, task_dir, scratch

    def launch(self, *, budget: Budget, uid: int | None, task_dir: Path, scratch: Path, warm: bool,
               job: dict[str, Any] | None = None, light: bool = False,
               gpu_ids: list[str] | None = None) -> SandboxProcess:
        limits = _limits_for(budget, gpu=bool(gpu_ids))
        plan = plan_launch(
            backend=self.backend, task_dir=task_dir, scratch_dir=scratch, lib_dir=self.lib_dir, limits=limits,
            cpu_threads=budget.cpu_threads, uid=uid, secret_dirs=self.secret_dirs, gpu_ids=gpu_ids,
        )
        extra = {"SCIML_WARM": "1"} if warm else {"SCIML_JOB": _json(job or {})}
        if light and not warm:
            extra["SCIML_LIGHT"] = "1"
        return self._spawner.call(lambda: SandboxProcess.spawn(plan, stdin_job=warm, extra_env=extra))

    # -- the run -------------------------------------------------------------------------------------------
    def run(
        self,
        code: str,
        bundle: TaskBundle,
        budget: Budget,
        *,
        on_log: Callable[[dict[str, Any]], None] | None = None,
        cancel: threading.Event | None = None,
        gpu_ids: list[str] | None = None,
    ) -> RunOutcome:
        """Run ``code`` on ``bundle``; ``gpu_ids`` are the GPUs the executor granted this run (at most one)."""
        from .gpu import resolve_device

        device = resolve_device(budget.device, gpu_ids)
        if device is None:
            return RunOutcome(run_id="-", status="failed", failure="sandbox_error",
                              reason=f"the budget asks for device {budget.device!r} but no GPU was granted "
                                     "on this node")
        granted = list(gpu_ids or []) if device == "cuda" else []
        bundle = bundle.model_copy(update={"meta": {**bundle.meta, "device": device}})
        job = {"memory_mb": budget.memory_mb, "cpu_seconds": _limits_for(budget).cpu_seconds,
               "cpu_threads": budget.cpu_threads, "gpu": bool(granted)}
        t0 = time.monotonic()
        # A warm worker still importing torch is ready sooner than a cold start would be: wait for it. A
        # candidate that never names torch starts faster cold, without importing torch at all.
        light = not _names_torch(code)
        # Warm workers are CPU-only: their limits and environment were fixed before the job existed.
        worker = (self._pool.acquire(budget, wait_s=20.0)
                  if self._pool is not None and not light and not granted else None)
        try:
            if worker is not None:
                run_id, task_dir, scratch, proc = worker.run_id, worker.task_dir, worker.scratch, worker.process
                self._write_bundle(task_dir, code, bundle)
                proc.send_job(job)
                # The pool started the jail with generous ceilings; the harness lowers them to this job's
                # before candidate code runs, so those are the limits to report.
                rlimits = dict(proc.plan.protections.get("rlimits") or {})
                rlimits.update(address_space_mb=int(budget.memory_mb), cpu_seconds=int(job["cpu_seconds"]))
                proc.plan.protections["rlimits"] = rlimits
            else:
                uid = self._new_uid()
                run_id, task_dir, scratch = self.make_run_dirs(uid)
                self._write_bundle(task_dir, code, bundle)
                proc = self.launch(budget=budget, uid=uid, task_dir=task_dir, scratch=scratch, warm=False, job=job,
                                   light=light, gpu_ids=granted)
        except OSError as exc:
            return RunOutcome(run_id="-", status="failed", failure="sandbox_error",
                              reason=f"could not start the sandbox: {exc}")
        try:
            outcome = self._supervise(proc, run_id, budget, scratch, t0, on_log, cancel)
        except BaseException:
            # Interrupted from outside (KeyboardInterrupt from a Ray cancel, a bug): never leave the jail behind.
            proc.kill()
            proc.wait_exit(5.0)
            if not self.keep_runs:
                self.cleanup_run_dir(run_id)
            raise
        outcome.warm_start = worker is not None
        outcome.device = device
        if granted:
            held = (outcome.import_seconds or 0.0) + (outcome.solve_seconds or 0.0)  # the budgeted time
            outcome.gpu = {"ids": granted, "gpu_seconds": round(held, 4), **(outcome.gpu or {})}
        else:
            outcome.gpu = None
        return outcome

    def cleanup(self, outcome: RunOutcome) -> None:
        """Remove the run directory once the predictions were scored (unless runs are kept)."""
        if not self.keep_runs:
            self.cleanup_run_dir(outcome.run_id)

    def cleanup_run_dir(self, run_id: str) -> None:
        if run_id and run_id != "-" and "/" not in run_id:
            shutil.rmtree(self.runs_dir / run_id, ignore_errors=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        self._spawner.stop()

    @staticmethod
    def _write_bundle(task_dir: Path, code: str, bundle: TaskBundle) -> None:
        write_task_bundle(task_dir, meta=bundle.meta, train=bundle.train, query_inputs=bundle.query_inputs)
        (task_dir / "candidate.py").write_text(code)
        for path in task_dir.iterdir():
            os.chmod(path, 0o644)

    def _supervise(
        self,
        proc: SandboxProcess,
        run_id: str,
        budget: Budget,
        scratch: Path,
        t0: float,
        on_log: Callable[[dict[str, Any]], None] | None,
        cancel: threading.Event | None,
    ) -> RunOutcome:
        state: dict[str, Any] = {"logs": [], "protections": None, "started": None, "imported": None, "done": None,
                                 "usage": {}, "error": None, "violations": [], "first": True}

        def handle(message: dict[str, Any]) -> None:
            kind = message.get("type")
            first, state["first"] = state["first"], False
            if kind == "warm":
                state["first"] = True  # the warm marker precedes the protections message
                return
            if kind == "protections":
                # Trusted only as the first message: it is sent before candidate code exists in the process.
                if first and state["protections"] is None and isinstance(message.get("active"), dict):
                    state["protections"] = message["active"]
                return
            if kind == "log" and isinstance(message.get("record"), dict):
                record = message["record"]
                if len(state["logs"]) < 20_000:
                    state["logs"].append(record)
                    if on_log is not None:
                        try:
                            on_log(record)
                        except Exception:  # noqa: BLE001 - a consumer's bug must not kill the run
                            pass
            elif kind == "started" and state["started"] is None:
                # Sent before the candidate module is imported: the wall budget starts here.
                state["started"] = time.monotonic()
            elif kind == "imported" and state["started"] is not None and state["imported"] is None:
                # Sent after the module's top level ran. Timed here, not from the message's content; a
                # candidate can forge it early, which only moves time from import_seconds to solve_seconds.
                state["imported"] = time.monotonic()
            elif kind == "done":
                state["done"] = message
            elif kind == "usage":
                state["usage"] = message
            elif kind == "error" and state["error"] is None:
                state["error"] = message
            elif kind == "violation":
                what = str(message.get("what", "unspecified"))[:500]
                if len(state["violations"]) < 20:
                    state["violations"].append(what)

        killed_for: str | None = None
        while True:
            channel_closed = proc.drain(handle, timeout=0.05)
            info = proc.poll_exit()
            if info is not None and channel_closed:
                break
            if info is not None:
                proc.drain(handle, timeout=1.0)
                break
            now = time.monotonic()
            if cancel is not None and cancel.is_set():
                killed_for = "cancelled"
            elif state["started"] is None and now - t0 > STARTUP_TIMEOUT_S:
                killed_for = "startup"
            elif state["started"] is not None and now - state["started"] > budget.wall_seconds + _grace(budget):
                killed_for = "timeout"
            elif _import_overran(state, budget):
                killed_for = "import"  # no budget is left for solve(): stop now rather than after the grace
            if killed_for:
                proc.kill()
                proc.wait_exit(10.0)
                proc.drain(handle, timeout=0.5)
                break
        info = proc.wait_exit(10.0)
        proc.join_readers(2.0)
        end = time.monotonic()
        started, imported = state["started"], state["imported"]
        outcome = RunOutcome(
            run_id=run_id,
            status="failed",
            exit_code=info.returncode if info else None,
            signal=signal.Signals(info.signal).name if info and info.signal else None,
            startup_seconds=round((started or end) - t0, 4),
            import_seconds=round((imported or end) - started, 4) if started else None,
            solve_seconds=round(end - imported, 4) if imported else None,
            wall_seconds=round(end - t0, 4),
            cpu_seconds=round(info.cpu_seconds, 3) if info else 0.0,
            max_rss_mb=round(info.max_rss_mb, 1) if info else 0.0,
            logs=state["logs"],
            stdout=proc.stdout.text(),
            stderr=proc.stderr.text(),
            violations=state["violations"],
            protections={**proc.plan.protections, **(state["protections"] or {"in_process_guards": False})},
        )
        # The outer process's rusage misses the jailed grandchild; the harness reports its own usage. It is
        # informational (a candidate could lie about it) and never feeds the score.
        usage = state["usage"]
        for key in ("cpu_seconds", "max_rss_mb"):
            value = usage.get(key)
            if isinstance(value, (int, float)) and value > getattr(outcome, key):
                setattr(outcome, key, round(float(value), 3))
        steps = usage.get("steps")
        if isinstance(steps, int) and not isinstance(steps, bool) and 0 <= steps < 2**53:
            outcome.steps = steps
        elif state["logs"]:
            outcome.steps = max((int(r["step"]) for r in state["logs"] if isinstance(r.get("step"), int)), default=None)
        if isinstance(usage.get("gpu"), dict):
            outcome.gpu = _gpu_report(usage["gpu"])
        self._classify(outcome, state, info, killed_for, budget, scratch)
        return outcome

    def _classify(self, outcome: RunOutcome, state: dict[str, Any], info: Any, killed_for: str | None,
                  budget: Budget, scratch: Path) -> None:
        sig = info.signal if info else None
        code = info.returncode if info else None
        # bubblewrap reports a child killed by signal N as exit status 128 + N.
        if sig is None and code is not None and code > 128 and self.backend == "bwrap":
            sig = code - 128
            outcome.signal = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        error = state["error"]

        def fail(kind: FailureKind, reason: str) -> None:
            outcome.status, outcome.failure, outcome.reason = "failed", kind, reason

        if killed_for == "timeout":
            where = "" if state["imported"] is not None else " at the module's top level, before solve() was called,"
            return fail("timeout", f"exceeded the wall-clock budget of {budget.wall_seconds:g} s "
                        f"(+{_grace(budget):g} s grace){where} and was killed")
        if killed_for == "import" or _import_overran(state, budget):
            return fail("timeout", f"exceeded the wall-clock budget of {budget.wall_seconds:g} s at the module's "
                        f"top level ({outcome.import_seconds or 0.0:.2f} s of import), before solve() was called")
        if killed_for == "startup":
            return fail("timeout", f"the sandbox did not become ready within {STARTUP_TIMEOUT_S:g} s "
                        "(set-up hung)")
        if killed_for == "cancelled":
            return fail("killed", "cancelled")
        if state["violations"] or code == guards.VIOLATION_EXIT:
            what = "; ".join(state["violations"]) or "a guard stopped the process"
            return fail("violation", f"forbidden behaviour: {what}")
        if sig == signal.SIGSYS:
            return fail("violation", "killed by the seccomp filter: a forbidden system call "
                        "(network socket, process creation or exec)")
        if sig == signal.SIGXCPU:
            return fail("cpu_time", f"exceeded the CPU-time limit of {_limits_for(budget).cpu_seconds} s")
        if error is not None:
            message = f"{error.get('error_type', 'Error')}: {error.get('message', '')}".strip()
            outcome.traceback = error.get("traceback")
            lowered = message.lower()
            if error.get("error_type") == "MemoryError" or any(m in lowered for m in _MEMORY_MARKERS):
                return fail("memory", f"exceeded the memory limit of {budget.memory_mb} MB ({message[:300]})")
            if error.get("error_type") == "ContractError":
                return fail("contract", message)
            return fail("crash", message[:1000])
        if sig is not None:
            name = outcome.signal or str(sig)
            if sig == signal.SIGKILL:
                return fail("killed", f"killed by {name} (out of memory or killed from outside)")
            return fail("crash", f"died from signal {name}")
        if code not in (0, None):
            tail = outcome.stderr.strip().splitlines()[-1:] or [""]
            return fail("crash", f"exited with status {code}: {tail[0][:300]}")
        path = scratch / PREDICTIONS_NAME
        if state["done"] is None or not _is_plain_file(path):
            return fail("no_output", "solve() returned no predictions (the process ended without saving them)")
        outcome.status = "succeeded"
        outcome.predictions_path = str(path)


def _import_overran(state: dict[str, Any], budget: Budget) -> bool:
    """Whether the module's top level alone used up the wall budget (solve() then has no time left)."""
    started, imported = state["started"], state["imported"]
    return started is not None and imported is not None and imported - started > budget.wall_seconds


def _gpu_report(raw: dict[str, Any]) -> dict[str, Any]:
    """The harness's GPU figures, reduced to known keys and plain values (the child is untrusted)."""
    clean: dict[str, Any] = {}
    for key in _GPU_REPORT_KEYS:
        value = raw.get(key)
        if isinstance(value, bool):
            clean[key] = value
        elif isinstance(value, (int, float)):
            clean[key] = round(float(value), 1)
        elif isinstance(value, str):
            clean[key] = value[:200]
    return clean


def _is_plain_file(path: Path) -> bool:
    """A regular file, not a symlink: a candidate must not point the scorer at another file."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _json(value: Any) -> str:
    import json

    return json.dumps(value)
