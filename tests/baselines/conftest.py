"""Fixtures for the baseline tests: factories of tiny synthetic tasks, one per problem kind."""

from __future__ import annotations

import numpy as np
import pytest

from sandbox.runtime.task import Task
from tests.baselines.helpers import Recorder, TaskFactory, build_task, make_pinn_task
from tests.pde_specs import CONVECTION


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: runs a baseline on a real problem at its default budget")


@pytest.fixture
def regression_task() -> TaskFactory:
    def make(seed: int = 0, wall: float = 2.0, sink: Recorder | None = None) -> Task:
        rng = np.random.default_rng(1)
        x = rng.uniform(-1, 1, (64, 1))
        query = np.linspace(-1, 1, 33)[:, None]
        return build_task(
            "regression", {"x": x, "y": np.sin(3 * x[:, 0])}, {"x": query}, (33,), seed=seed, wall=wall, sink=sink
        )

    return make


@pytest.fixture
def operator_task() -> TaskFactory:
    def make(seed: int = 0, wall: float = 2.0, sink: Recorder | None = None) -> Task:
        rng = np.random.default_rng(2)
        sensors = np.linspace(0, 1, 20)
        y = np.linspace(0, 1, 15)[:, None]

        def functions(n: int) -> tuple[np.ndarray, np.ndarray]:
            a, b = rng.normal(size=(n, 1)), rng.normal(size=(n, 1))
            u = a + b * sensors  # antiderivative of a + b x is a y + b y^2 / 2
            s = a * y[:, 0] + b * y[:, 0] ** 2 / 2
            return u, s

        u, s = functions(40)
        u_query, _ = functions(7)
        return build_task(
            "operator",
            {"sensors": sensors, "u": u, "y": y, "s": s},
            {"u": u_query, "y": y},
            (7, 15),
            seed=seed,
            wall=wall,
            sink=sink,
        )

    return make


@pytest.fixture
def pinn_task() -> TaskFactory:
    """Slow convection (beta = 1): periodic in x, with an initial condition and no Dirichlet boundary."""

    def make(seed: int = 0, wall: float = 2.0, sink: Recorder | None = None) -> Task:
        return make_pinn_task(CONVECTION, seed=seed, wall=wall, sink=sink)

    return make
