"""Entry point of the sandboxed process: load the task, lock the process down, run ``solve``, save output.

Runs inside the jail as ``python -m <runtime>.harness``. Order matters:

1. import numpy and torch (a warm worker does this long before it gets a job; a candidate that never
   names torch skips it);
2. wait for the job (warm mode) and lower the resource limits to the job's budget;
3. install the audit hook and the seccomp filter, then report which protections are active: this is the
   first message on the control channel, written before any candidate code exists in the process;
4. start the wall budget (the ``started`` message), import the candidate module (``imported``: its
   top level counts against the budget like ``solve`` does) and call ``solve(task)``;
5. save the predictions as ``.npy`` for the trusted scorer, which validates them outside.

The control channel is a pipe inherited as a file descriptor. Candidate code can write to it too, so the
parent treats everything after the protections message as untrusted: log records become curves, and
nothing on the channel can set a score.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path

# The process-level guards are applied by the trusted part of this module before the candidate runs.
from . import guards

TASK_DIR = Path(os.environ.get("SCIML_TASK_DIR", "/task"))
SCRATCH_DIR = Path(os.environ.get("SCIML_SCRATCH_DIR", "/scratch"))
PREDICTIONS_NAME = "predictions.npy"
MAX_LOG_RECORDS = 20_000


class Channel:
    """Line-delimited JSON messages to the parent over an inherited pipe."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._write = os.write
        self.log_count = 0

    def send(self, message: dict) -> None:
        data = (json.dumps(message, default=str) + "\n").encode()
        view = memoryview(data)
        while view:
            written = self._write(self._fd, view)
            view = view[written:]

    def log_sink(self, record: dict) -> None:
        self.log_count += 1
        if self.log_count <= MAX_LOG_RECORDS:
            self.send({"type": "log", "record": record})


def _apply_job_limits(job: dict) -> None:
    """Lower the address-space and CPU limits to this job's budget (lowering needs no privilege)."""
    memory_mb = job.get("memory_mb")
    if memory_mb:
        limit = int(memory_mb) * 1024 * 1024
        # A GPU job caps private writable memory: CUDA reserves far more address space than it uses.
        which = resource.RLIMIT_DATA if job.get("gpu") else resource.RLIMIT_AS
        soft, hard = resource.getrlimit(which)
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(which, (limit, limit))
    cpu_seconds = job.get("cpu_seconds")
    if cpu_seconds:
        used = resource.getrusage(resource.RUSAGE_SELF)
        spent = int(used.ru_utime + used.ru_stime) + 1
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        new_soft = spent + int(cpu_seconds)
        new_hard = new_soft + 5
        if hard != resource.RLIM_INFINITY:
            new_hard = min(new_hard, hard)
            new_soft = min(new_soft, new_hard)
        resource.setrlimit(resource.RLIMIT_CPU, (new_soft, new_hard))


def _to_numpy(predictions):
    import numpy as np

    if hasattr(predictions, "detach"):
        predictions = predictions.detach().cpu().double().numpy()
    return np.asarray(predictions, dtype=np.float64)


def _prewarm(torch) -> None:
    """Take torch's lazy imports now (the first optimiser step pulls in dynamo and sympy: ~1.5 s).

    In a warm worker this happens before the job exists, so the candidate's wall budget is spent on
    training rather than on imports; in a cold start it only moves the cost from solve() to start-up.
    """
    net = torch.nn.Linear(1, 1)
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.zeros(2, 1)).pow(2).sum().backward()
    optimiser.step()


def _gpu_usage() -> dict | None:
    """Peak GPU memory as torch saw it; ``None`` when CUDA was never initialised (a CPU run)."""
    torch = sys.modules.get("torch")
    try:
        if torch is None or not torch.cuda.is_initialized():
            return None
        torch.cuda.synchronize()
        mb = 1024.0 * 1024.0
        return {"initialised": True, "name": torch.cuda.get_device_name(0),
                "max_memory_allocated_mb": torch.cuda.max_memory_allocated() / mb,
                "max_memory_reserved_mb": torch.cuda.max_memory_reserved() / mb}
    except Exception:  # noqa: BLE001 - a broken CUDA context must not hide the candidate's result
        return None


def _steps(task: object) -> int:
    """Optimiser steps the candidate counted with ``task.tick()``; when it never did, the last step it
    logged (the templates and most hand-written loops log their step). Reported, like all usage, by the
    candidate's own process: informational, never part of the score."""
    counts = []
    for name in ("steps_taken", "_last_logged_step"):  # candidate code can overwrite either
        try:
            counts.append(int(getattr(task, name, 0) or 0))
        except Exception:  # noqa: BLE001 - a forged attribute must not cost the candidate its result
            counts.append(0)
    return max(counts)


def _usage(task: object = None) -> dict:
    used = resource.getrusage(resource.RUSAGE_SELF)
    message = {"type": "usage", "cpu_seconds": used.ru_utime + used.ru_stime, "max_rss_mb": used.ru_maxrss / 1024.0,
               "steps": _steps(task)}
    gpu = _gpu_usage()
    if gpu is not None:
        message["gpu"] = gpu
    return message


def main() -> int:
    channel = Channel(int(os.environ["SCIML_CONTROL_FD"]))
    # Heavy imports first, so a warm worker has paid for them before the job arrives. A candidate whose
    # source never names torch (SCIML_LIGHT) does not pay for it at all; if it imports torch in some
    # roundabout way, the import simply happens later.
    import numpy  # noqa: F401

    torch = None
    if os.environ.get("SCIML_LIGHT") != "1":
        import torch

        _prewarm(torch)
    guards.preload()

    from .task import read_task_bundle

    if os.environ.get("SCIML_WARM") == "1":
        channel.send({"type": "warm"})
        line = sys.stdin.readline()
        if not line:
            return 0  # the pool shut down before handing us a job
        job = json.loads(line)
    else:
        job = json.loads(os.environ.get("SCIML_JOB", "{}"))
    _apply_job_limits(job)

    threads = max(1, int(job.get("cpu_threads", 1)))
    if torch is not None:
        torch.set_num_threads(threads)
    sys.dont_write_bytecode = True

    task = read_task_bundle(TASK_DIR, channel.log_sink, SCRATCH_DIR)
    candidate_path = TASK_DIR / "candidate.py"
    source = candidate_path.read_text()

    writable = [Path(p) for p in os.environ.get("SCIML_WRITABLE", str(SCRATCH_DIR)).split(":") if p]
    protections = guards.lock_down(channel=channel, writable=writable)
    channel.send({"type": "protections", "active": protections})

    try:
        # The wall budget starts before the module's top level runs: code there is candidate code like
        # solve(), and must not be free compute. "started" is sent before any candidate code exists in
        # the process, so the runner's clock cannot be delayed by the candidate.
        task._started = time.monotonic()
        channel.send({"type": "started"})
        namespace: dict = {"__name__": "candidate", "__file__": str(candidate_path)}
        code = compile(source, str(candidate_path), "exec")
        exec(code, namespace)  # noqa: S102 - this is the sandbox's whole purpose
        channel.send({"type": "imported", "import_seconds": task.elapsed()})
        solve = namespace.get("solve")
        if not callable(solve):
            channel.send({"type": "error", "error_type": "ContractError",
                          "message": "the candidate module defines no callable solve(task)"})
            return 3
        predictions = solve(task)
        array = _to_numpy(predictions)
        tmp = SCRATCH_DIR / (PREDICTIONS_NAME + ".tmp")
        with open(tmp, "wb") as handle:
            numpy.save(handle, array, allow_pickle=False)
        os.replace(tmp, SCRATCH_DIR / PREDICTIONS_NAME)
        channel.send(_usage(task))
        channel.send({"type": "done", "shape": list(array.shape), "solve_seconds": task.elapsed()})
        return 0
    except guards.Violation as exc:  # raised by a guard, reported already; keep the exit code distinct
        channel.send({"type": "violation", "what": str(exc)})
        return guards.VIOLATION_EXIT
    except BaseException as exc:  # noqa: BLE001 - report every failure of candidate code
        tb = traceback.format_exc(limit=30)
        channel.send(_usage(task))
        channel.send({"type": "error", "error_type": type(exc).__name__, "message": str(exc)[:2000],
                      "traceback": tb[-8000:]})
        return 4


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
