"""Helpers for the baseline tests: a fresh-module loader, a log recorder and tiny synthetic tasks."""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any, Callable

import numpy as np

from baselines import baseline_path
from sandbox.runtime.pde import build_pde
from sandbox.runtime.task import Budget, Task

_counter = 0


def load_baseline(kind: str) -> ModuleType:
    """Import the baseline file as a brand-new module, as the sandbox does, so CONFIG edits never leak."""
    global _counter
    _counter += 1
    spec = importlib.util.spec_from_file_location(f"_baseline_{kind}_{_counter}", baseline_path(kind))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Recorder:
    """A log sink that keeps every record."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def __call__(self, record: dict[str, Any]) -> None:
        self.records.append(record)


TaskFactory = Callable[..., Task]


def build_task(
    kind: str,
    train: dict[str, np.ndarray],
    query: dict[str, np.ndarray],
    shape: tuple[int, ...],
    *,
    seed: int,
    wall: float,
    pde: Any = None,
    sink: Recorder | None = None,
) -> Task:
    """A Task with a small budget on one CPU thread, as the runner would build it inside the sandbox."""
    return Task(
        name=f"toy_{kind}",
        kind=kind,
        description="",
        train=train,
        query_inputs=query,
        output_shape=shape,
        budget=Budget(wall_seconds=wall, cpu_threads=1),
        seed=seed,
        pde=pde,
        _sink=sink,
    )


def make_pinn_task(
    spec: dict[str, Any],
    *,
    seed: int = 0,
    wall: float = 2.0,
    sink: Recorder | None = None,
    n_interior: int = 128,
    n_edge: int = 32,
    n_query: int = 50,
) -> Task:
    """A small PINN task for the PDE ``spec`` with points drawn by the PDE's own samplers."""
    pde = build_pde(spec)
    rng = np.random.default_rng(3)
    train = {"x_interior": pde.sample_interior(n_interior, rng)}
    x_b = pde.sample_boundary(n_edge, rng, dirichlet_only=True)
    if len(x_b):
        train.update(x_boundary=x_b, u_boundary=pde.boundary_values(x_b))
    x_0 = pde.sample_initial(n_edge, rng)
    if len(x_0):
        train.update(x_initial=x_0, u_initial=pde.initial_values(x_0))
    query = pde.sample_interior(n_query, rng)
    return build_task("pinn", train, {"x": query}, (n_query,), seed=seed, wall=wall, pde=pde, sink=sink)


def task_from_problem(
    name: str, *, seed: int = 0, sink: Recorder | None = None, wall_seconds: float | None = None
) -> tuple[Task, np.ndarray]:
    """The Task the runner would hand a candidate for built-in problem ``name`` (default budget, one CPU
    thread unless overridden) and the hidden targets, for in-process scoring."""
    from problems.registry import get_problem

    problem = get_problem(name)
    data = problem.load()
    spec = problem.spec
    budget = spec.budget.model_dump()
    if wall_seconds is not None:
        budget["wall_seconds"] = wall_seconds
    task = Task(
        name=spec.name,
        kind=spec.kind,
        description=spec.description,
        train=data.train,
        query_inputs=data.query_inputs,
        output_shape=data.output_shape,
        budget=Budget(**budget),
        seed=seed,
        device=budget["device"],
        metric=spec.metric,
        pde=problem.build_pde(),
        _sink=sink,
    )
    return task, data.targets


def relative_l2(prediction: np.ndarray, targets: np.ndarray) -> float:
    """||prediction - targets|| / ||targets|| over all entries."""
    prediction = np.asarray(prediction, dtype=np.float64).reshape(targets.shape)
    return float(np.linalg.norm(prediction - targets) / np.linalg.norm(targets))
