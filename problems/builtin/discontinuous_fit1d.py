"""``discontinuous_fit1d``: regression of a function with a jump and two frequency scales from noisy samples."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from problems.base import GeneratedProblem, ProblemData, ProblemSpec
from problems.builtin._common import DATA_BUDGET

NAME = "discontinuous_fit1d"


def target_function(x: np.ndarray, jump_at: float = 0.0) -> np.ndarray:
    """Low-frequency wave left of ``jump_at``; offset, tilt and a 5-periods-per-unit wave right of it.

    Left limit at the jump ``0.2``, right value ``1.0``: a jump of 0.8, larger than either oscillation.
    """
    x = np.asarray(x, dtype=np.float64)
    left = 0.5 * np.sin(np.pi * x) + 0.2
    right = 1.0 + 0.3 * np.sin(10 * np.pi * (x - jump_at)) + 0.5 * (x - jump_at)
    return np.where(x < jump_at, left, right)


class DiscontinuousFit1DProblem(GeneratedProblem):
    version: ClassVar[str] = "1"
    params: ClassVar[dict[str, Any]] = {
        "jump_at": 0.0,
        "n_train": 96,
        "noise_std": 0.02,
        "n_query": 1001,
        "seed": 20231105,
    }

    def __init__(self) -> None:
        p = self.params
        description = f"""# 1D regression of a discontinuous, multi-scale function

Learn y = f(x) on x in [-1, 1] from {p["n_train"]} noisy samples. f is piecewise smooth: a slowly varying
wave on one side of a single jump discontinuity inside the interval, and an offset, tilted, much faster
oscillation (about five periods per unit length) on the other side. Where the jump is, and the exact form
of f, must be inferred from the data.

## Data

- `task.train['x']` ({p["n_train"]}, 1): inputs, drawn uniformly at random in [-1, 1] (sorted).
- `task.train['y']` ({p["n_train"]},): f(x) plus independent Gaussian noise with standard deviation
  {p["noise_std"]:g}.
- `task.query_inputs['x']` ({p["n_query"]}, 1): the regular grid `linspace(-1, 1, {p["n_query"]})`.

The candidate returns predictions of the noiseless f at the query points, shape `({p["n_query"]},)`.

## Score

Relative L2 error against the noiseless f on the query grid.

## Known difficulty

Smooth regressors (plain MLPs, Gaussian processes with a stationary kernel) smear the jump and, through the
spectral bias of neural networks, underfit the fast oscillation; with only ~{p["n_train"] // 2} samples per
side the oscillation is resolved with a few points per period, so overfitting the noise is the opposite
risk. Approaches that locate the jump and fit each side separately, Fourier features, or mixtures of experts
tend to do better. Note that points near the jump carry the largest errors.
"""
        self.spec = ProblemSpec(
            name=NAME,
            kind="regression",
            description=description,
            metric="rel_l2",
            budget=DATA_BUDGET,
            pde=None,
            literature={},
        )

    def generate(self) -> ProblemData:
        p = self.params
        rng = np.random.default_rng(p["seed"])
        x = np.sort(rng.uniform(-1.0, 1.0, p["n_train"]))
        y = target_function(x, p["jump_at"]) + p["noise_std"] * rng.standard_normal(p["n_train"])
        query = np.linspace(-1.0, 1.0, p["n_query"])
        return ProblemData(
            train={"x": x[:, None], "y": y},
            query_inputs={"x": query[:, None]},
            targets=target_function(query, p["jump_at"]),
        )
