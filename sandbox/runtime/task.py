"""The `Task` object: everything a candidate's `solve(task)` may see.

This module is imported inside the sandbox, so it depends only on the standard library, numpy and (lazily)
torch, and uses relative imports: the jail mounts this folder as its own top-level package, without the rest
of the project (reference solvers, hidden targets and the database stay outside).

A candidate is one Python module with::

    def solve(task) -> predictions

returning an array-like (numpy array, torch tensor, nested lists) of shape ``task.output_shape`` with the
predictions at ``task.query_inputs``. The hidden targets never enter the candidate's process.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

LogSink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Budget:
    """Resources granted to one evaluation; the runner enforces them, the candidate may plan with them.

    ``max_steps`` set means a *step budget*: the candidate trains for that many optimiser steps (loss and
    gradient evaluations, counted with :meth:`Task.tick`), whatever the machine's speed, so the same code
    and seed give the same score on a busy and on an idle machine. ``wall_seconds`` then stays the hard
    cap the runner enforces, so a candidate that ignores the step budget still ends.
    """

    wall_seconds: float = 60.0
    memory_mb: int = 4096
    device: str = "cpu"
    cpu_threads: int = 1
    max_steps: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "wall_seconds": self.wall_seconds,
            "memory_mb": self.memory_mb,
            "device": self.device,
            "cpu_threads": self.cpu_threads,
            "max_steps": self.max_steps,
        }

    @property
    def unit(self) -> str:
        """``"steps"`` under a step budget, ``"seconds"`` under a wall-clock budget."""
        return "steps" if self.max_steps else "seconds"


@dataclass
class Task:
    """What a candidate receives.

    Attributes:
        name: problem name, e.g. ``"convection1d"``.
        kind: ``"pinn"``, ``"operator"`` or ``"regression"``.
        description: the problem's markdown description (the same text the agents read).
        train: training arrays by name. PINN problems carry collocation/boundary/initial points
            (``x_interior``, ``x_boundary``, ``u_boundary``, ``x_initial``, ``u_initial``); regression
            problems ``x`` and ``y``; operator problems ``u`` (input functions at ``sensors``), ``y``
            (query locations) and ``s`` (outputs, shape ``(len(u), len(y))``).
        query_inputs: inputs at which predictions are required, by name (``x`` for PINN and regression
            problems; ``u`` and ``y`` for operator problems). Never the targets.
        output_shape: the shape the returned predictions must have.
        pde: for PINN problems, a :class:`~.pde.PDE` with a torch residual operator, the domain bounds,
            samplers and the constraints that can be imposed exactly; ``None`` otherwise.
        budget: the :class:`Budget` the runner enforces.
        seed: the seed this evaluation must use; ``solve`` is expected to be deterministic given it.
        device: torch device string to train on (``"cpu"`` unless a GPU was granted).
        scratch_dir: a private, writable directory (checkpoints, plots); nothing else is writable.
        metric: name of the metric the trusted scorer will apply (``"rel_l2"`` or ``"mse"``).
    """

    name: str
    kind: str
    description: str
    train: dict[str, np.ndarray]
    query_inputs: dict[str, np.ndarray]
    output_shape: tuple[int, ...]
    budget: Budget
    seed: int = 0
    device: str = "cpu"
    scratch_dir: Path = field(default_factory=lambda: Path("."))
    metric: str = "rel_l2"
    pde: Any = None
    _sink: LogSink | None = field(default=None, repr=False)
    _started: float = field(default_factory=time.monotonic, repr=False)
    steps_taken: int = 0
    _last_logged_step: int = field(default=0, repr=False)

    def log(self, step: int, **metrics: float) -> None:
        """Report training progress; the records stream live to the dashboard as training curves.

        Only finite numbers are kept. These values are informational: the score comes from the trusted
        scorer alone, so logging a small "error" here changes nothing.
        """
        clean: dict[str, float] = {}
        for key, value in metrics.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if math.isfinite(number):
                clean[str(key)[:64]] = number
        record = {"step": int(step), "t": round(time.monotonic() - self._started, 4), **clean}
        self._last_logged_step = max(self._last_logged_step, int(step))
        if self._sink is not None:
            self._sink(record)

    def elapsed(self) -> float:
        """Seconds since the wall budget started: just before the candidate module was imported, so the
        module's top level counts too."""
        return time.monotonic() - self._started

    def time_left(self, margin: float = 0.0) -> float:
        """Seconds left of the wall budget, minus ``margin``; plan training loops with it."""
        return self.budget.wall_seconds - self.elapsed() - margin

    # -- the budget in its own unit -------------------------------------------------------------------------
    # Training loops written against spent()/left() run unchanged under a wall-clock and a step budget: the
    # same loop trains for N seconds in one case and for exactly N steps in the other.
    def tick(self, steps: int = 1) -> int:
        """Count ``steps`` optimiser steps (loss + gradient evaluations; an L-BFGS closure call is one);
        returns the count so far. The count is reported with the result; under a step budget it is also
        the clock that :meth:`spent` and :meth:`left` read."""
        self.steps_taken += max(0, int(steps))
        return self.steps_taken

    def spent(self) -> float:
        """Budget used so far, in the budget's unit: steps counted under a step budget, else seconds."""
        if self.budget.max_steps:
            return float(self.steps_taken)
        return self.elapsed()

    def left(self, margin: float = 0.0) -> float:
        """Budget left, in the budget's unit. ``margin`` (seconds kept for prediction) applies to a
        wall-clock budget only: under a step budget the wall cap is generous and the count is exact."""
        if self.budget.max_steps:
            return float(self.budget.max_steps - self.steps_taken)
        return self.time_left(margin)

    def seed_everything(self) -> None:
        """Seed Python, numpy and torch from ``task.seed`` (a convenience; candidates may seed themselves)."""
        import random

        random.seed(self.seed)
        np.random.seed(self.seed % (2**32))
        try:
            import torch

            torch.manual_seed(self.seed)
        except ImportError:  # pragma: no cover - torch is always present in the sandbox
            pass


def write_task_bundle(
    directory: Path,
    *,
    meta: Mapping[str, Any],
    train: Mapping[str, np.ndarray],
    query_inputs: Mapping[str, np.ndarray],
) -> None:
    """Write what a candidate may see (never the targets) as ``task.json`` + two ``.npz`` files."""
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(directory / "train.npz", **{k: np.asarray(v) for k, v in train.items()})
    np.savez(directory / "query.npz", **{k: np.asarray(v) for k, v in query_inputs.items()})
    (directory / "task.json").write_text(json.dumps(dict(meta), indent=1))


def read_task_bundle(directory: Path, sink: LogSink | None, scratch_dir: Path) -> Task:
    """Rebuild the :class:`Task` inside the sandbox from the bundle written by the runner."""
    meta = json.loads((directory / "task.json").read_text())
    with np.load(directory / "train.npz", allow_pickle=False) as f:
        train = {k: f[k] for k in f.files}
    with np.load(directory / "query.npz", allow_pickle=False) as f:
        query = {k: f[k] for k in f.files}
    pde = None
    if meta.get("pde"):
        from .pde import build_pde

        pde = build_pde(meta["pde"])
    return Task(
        name=meta["name"],
        kind=meta["kind"],
        description=meta.get("description", ""),
        train=train,
        query_inputs=query,
        output_shape=tuple(meta["output_shape"]),
        budget=Budget(**meta["budget"]),
        seed=int(meta.get("seed", 0)),
        device=meta.get("device", "cpu"),
        scratch_dir=scratch_dir,
        metric=meta.get("metric", "rel_l2"),
        pde=pde,
        _sink=sink,
    )
