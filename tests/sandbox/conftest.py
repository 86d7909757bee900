"""A tiny regression problem defined in the test itself, so sandbox tests do not depend on the suite."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from sandbox.evaluate import Evaluator


class TinyBudget(BaseModel):
    wall_seconds: float = 5.0
    memory_mb: int = 2048
    device: str = "cpu"
    cpu_threads: int = 1


class TinySpec(BaseModel):
    name: str = "tiny"
    kind: str = "regression"
    description: str = "Fit y = 2x on [0, 1]."
    metric: str = "rel_l2"
    budget: TinyBudget = TinyBudget()
    pde: dict | None = None


@dataclass
class TinyData:
    train: dict[str, np.ndarray]
    query_inputs: dict[str, np.ndarray]
    targets: np.ndarray


@dataclass
class TinyProblem:
    spec: TinySpec = field(default_factory=TinySpec)
    targets_file: Path | None = None

    def load(self, cache_dir: Path | None = None) -> TinyData:
        x = np.linspace(0.0, 1.0, 64)[:, None]
        y = 2.0 * x[:, 0] + 0.5
        if cache_dir is not None:
            # Like the real suite, the hidden targets also exist on disk in the cache directory.
            cache_dir.mkdir(parents=True, exist_ok=True)
            self.targets_file = cache_dir / "tiny_targets.npy"
            np.save(self.targets_file, y)
        return TinyData(train={"x": x[::4], "y": y[::4]}, query_inputs={"x": x}, targets=y)


@pytest.fixture(scope="module")
def evaluator(tmp_path_factory) -> Any:
    """Warm workers (torch pre-imported, one job each): the hostile tests also exercise the warm path."""
    root = tmp_path_factory.mktemp("sandbox")
    with Evaluator(root / "runs", root / "cache", secret_dirs=[root], warm_workers=2) as ev:
        ev.runner._pool.wait_ready(1, timeout=120)
        yield ev


@pytest.fixture(scope="module")
def cold_evaluator(tmp_path_factory) -> Any:
    root = tmp_path_factory.mktemp("sandbox-cold")
    with Evaluator(root / "runs", root / "cache", secret_dirs=[root]) as ev:
        yield ev


@pytest.fixture()
def tiny() -> TinyProblem:
    return TinyProblem()
