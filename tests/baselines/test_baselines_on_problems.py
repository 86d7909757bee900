"""Each baseline on its real built-in problem at the default budget (slow: 30-60 s per case).

The bounds are loose on purpose: they catch a broken baseline (wrong shapes, a loss wired to the wrong
arrays, a diverging optimiser), not a few percent of drift from machine speed, which changes how many
optimiser steps fit in the budget.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.baselines.helpers import Recorder, load_baseline, relative_l2, task_from_problem

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("problem", "bound"),
    [
        ("discontinuous_fit1d", 0.5),  # measured ~0.05
        ("antiderivative", 0.2),  # measured ~0.006
        ("burgers1d", 0.8),  # measured 0.3-0.45 in 60 s on one shared core; the one PDE vanilla PINNs fit
    ],
)
def test_baseline_error_at_default_budget(problem: str, bound: float) -> None:
    sink = Recorder()
    task, targets = task_from_problem(problem, sink=sink)
    module = load_baseline(task.kind)
    started = time.monotonic()
    prediction = np.asarray(module.solve(task))
    elapsed = time.monotonic() - started
    assert elapsed <= task.budget.wall_seconds + 1.0
    assert prediction.shape == targets.shape and np.all(np.isfinite(prediction))
    assert relative_l2(prediction, targets) < bound
    assert len(sink.records) >= 2


@pytest.mark.parametrize("problem", ["convection1d", "helmholtz2d", "allen_cahn1d"])
def test_pinn_runs_on_full_size_problem(problem: str) -> None:
    """The PDEs vanilla PINNs are known to fail on: only check that the full-size data (e.g. Allen-Cahn's
    10^5 query points) go through within a short budget and give finite predictions."""
    sink = Recorder()
    task, targets = task_from_problem(problem, sink=sink, wall_seconds=8.0)
    module = load_baseline(task.kind)
    started = time.monotonic()
    prediction = np.asarray(module.solve(task))
    assert time.monotonic() - started <= 8.0 + 1.0
    assert prediction.shape == targets.shape and np.all(np.isfinite(prediction))
    assert sink.records[-1]["step"] > 1
