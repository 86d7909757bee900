"""``helmholtz2d``: a manufactured Helmholtz problem, the gradient-imbalance case of Wang, Teng & Perdikaris."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from problems.base import GeneratedProblem, ProblemData, ProblemSpec
from problems.builtin._common import PINN_BUDGET, pinn_data_section, pinn_training_set, tensor_grid
from sandbox.runtime.pde import build_pde

NAME = "helmholtz2d"


def manufactured_solution(points: np.ndarray, a1: float, a2: float) -> np.ndarray:
    """``sin(a1 pi x) sin(a2 pi y)``; the source ``q`` in the spec's equation is built from it."""
    return np.sin(a1 * np.pi * points[:, 0]) * np.sin(a2 * np.pi * points[:, 1])


class Helmholtz2DProblem(GeneratedProblem):
    version: ClassVar[str] = "2"
    params: ClassVar[dict[str, Any]] = {
        "a1": 1.0,
        "a2": 4.0,
        "k": 1.0,
        "n_grid": 101,  # x = y = linspace(-1, 1, 101)
        "n_interior": 4000,
        "n_boundary": 400,
        "seed": 20200113,
    }

    def __init__(self) -> None:
        p = self.params
        self.pde = build_pde(
            {
                "variables": {"x": [-1, 1], "y": [-1, 1]},
                "parameters": {"a1": p["a1"], "a2": p["a2"], "k": p["k"]},
                "equation": "u_xx + u_yy + k**2*u - (k**2 - (a1*pi)**2 - (a2*pi)**2)*sin(a1*pi*x)*sin(a2*pi*y)",
                "conditions": [{"where": "boundary", "value": "0"}],
            }
        )
        self.grid = np.linspace(-1.0, 1.0, p["n_grid"])
        train = self._train()
        n = p["n_grid"]
        description = f"""# 2D Helmholtz equation (a1 = {p["a1"]:g}, a2 = {p["a2"]:g}, k = {p["k"]:g})

Find u(x, y) solving

    u_xx + u_yy + k^2 u = q(x, y),    (x, y) in [-1, 1]^2,    u = 0 on the boundary,
    q(x, y) = (k^2 - (a1 pi)^2 - (a2 pi)^2) sin(a1 pi x) sin(a2 pi y),

with k = {p["k"]:g}; `task.pde.residual` includes q. The source oscillates four times faster in y
than in x.

{pinn_data_section(train, n * n, f"a regular {n} x {n} grid (`linspace(-1, 1, {n})` in x and in y, boundary included), flattened with y as the slow index: `predictions.reshape({n}, {n})[i, j]` is u(x_j, y_i).")}

## Score

Relative L2 error over the query grid, against a reference the candidate never sees (accurate to
rounding).

## Known difficulty

The residual term (second derivatives of an oscillatory field, magnitude ~ (4 pi)^2) dominates the
boundary term in a PINN loss, so the back-propagated gradients are badly unbalanced and the boundary
condition is learnt poorly. Adaptive loss weights (e.g. learning-rate annealing from gradient statistics),
modified architectures and exact boundary conditions (`u = task.pde.boundary_distance(x) * net(x)`) are
known remedies.

## Literature

- Plain PINN: relative L2 error ~1.8e-1; with learning-rate annealing (and the improved fully connected
  architecture) down to ~3.7e-3 (Wang, Teng, Perdikaris, "Understanding and mitigating gradient flow
  pathologies in physics-informed neural networks", SIAM J. Sci. Comput. 43, 2021).
"""
        self.spec = ProblemSpec(
            name=NAME,
            kind="pinn",
            description=description,
            metric="rel_l2",
            budget=PINN_BUDGET,
            pde=self.pde.to_spec(),
            literature={
                "plain PINN": "rel. L2 ~1.8e-1 (Wang, Teng, Perdikaris, SIAM J. Sci. Comput. 2021)",
                "learning-rate annealing": "rel. L2 ~3.7e-3 (Wang, Teng, Perdikaris, SIAM J. Sci. Comput. 2021)",
            },
        )

    def _train(self) -> dict[str, np.ndarray]:
        p = self.params
        return pinn_training_set(
            self.pde, n_interior=p["n_interior"], n_boundary=p["n_boundary"], n_initial=0, seed=p["seed"]
        )

    def generate(self) -> ProblemData:
        query = tensor_grid(self.grid, self.grid)
        targets = manufactured_solution(query, self.params["a1"], self.params["a2"])
        return ProblemData(train=self._train(), query_inputs={"x": query}, targets=targets)
