"""``convection1d``: linear advection at high speed, the PINN failure mode of Krishnapriyan et al. (2021)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from problems.base import GeneratedProblem, ProblemData, ProblemSpec
from problems.builtin._common import PINN_BUDGET, pinn_data_section, pinn_training_set, tensor_grid
from sandbox.runtime.pde import build_pde

NAME = "convection1d"


def exact_solution(points: np.ndarray, beta: float) -> np.ndarray:
    """``sin(x - beta t)``: the initial profile carried along the characteristics ``x - beta t = const``.

    ``sin`` is 2 pi periodic, so this also satisfies the periodic condition on ``[0, 2 pi]``.
    """
    return np.sin(points[:, 0] - beta * points[:, 1])


class Convection1DProblem(GeneratedProblem):
    version: ClassVar[str] = "2"
    params: ClassVar[dict[str, Any]] = {
        "beta": 30.0,
        "nx": 256,  # x = linspace(0, 2 pi, 256, endpoint=False), the grid of Krishnapriyan et al.
        "nt": 100,  # t = linspace(0, 1, 100)
        "n_interior": 2000,
        "n_initial": 256,
        "seed": 20210901,
    }

    def __init__(self) -> None:
        p = self.params
        self.pde = build_pde(
            {
                "variables": {"x": [0, "2*pi"], "t": [0, 1]},
                "parameters": {"beta": p["beta"]},
                "equation": "u_t + beta*u_x",
                "conditions": [{"where": "t == 0", "value": "sin(x)"}, {"periodic": "x"}],
            }
        )
        self.x_grid = np.linspace(0.0, 2 * np.pi, p["nx"], endpoint=False)
        self.t_grid = np.linspace(0.0, 1.0, p["nt"])
        train = self._train()
        n_query = p["nx"] * p["nt"]
        description = f"""# 1D convection at high speed (beta = {p["beta"]:g})

Find u(x, t) solving the linear advection equation

    u_t + beta * u_x = 0,    beta = {p["beta"]:g},
    x in [0, 2 pi] (periodic: u(0, t) = u(2 pi, t)),  t in [0, 1],
    u(x, 0) = sin(x).

beta = {p["beta"]:g} is well inside the regime where plain PINNs fail (see Known difficulty).

{pinn_data_section(train, n_query, f"a regular grid of {p['nx']} x-values (`linspace(0, 2 pi, {p['nx']}, endpoint=False)`) times {p['nt']} t-values (`linspace(0, 1, {p['nt']})`), flattened with t as the slow index: `predictions.reshape({p['nt']}, {p['nx']})[i, j]` is u(x_j, t_i).")}

## Score

Relative L2 error ||u_pred - u_ref|| / ||u_ref|| over the query grid, against a reference the candidate
never sees (accurate to rounding).

## Known difficulty

For beta >~ 20 a plain PINN (soft initial and periodic penalties, uniform collocation, tanh MLP) typically
converges to a near-constant or smeared solution with a relative error of order 1: the residual loss
landscape becomes ill-conditioned as beta grows. Remedies reported in the literature include curriculum
regularisation (train at small beta, then increase it), sequence-to-sequence (time-marching) training,
causal weighting of the residual in time, exact periodic embeddings and exact initial conditions.

## Literature

- Vanilla PINN: relative L2 error ~0.9 at beta = 30; curriculum regularisation ~2e-2
  (Krishnapriyan, Gholami, Zhe, Kirby, Mahoney, "Characterizing possible failure modes in physics-informed
  neural networks", NeurIPS 2021).
"""
        self.spec = ProblemSpec(
            name=NAME,
            kind="pinn",
            description=description,
            metric="rel_l2",
            budget=PINN_BUDGET,
            pde=self.pde.to_spec(),
            literature={
                "vanilla PINN": "rel. L2 ~0.9 at beta=30 (Krishnapriyan et al., NeurIPS 2021)",
                "curriculum regularisation": "rel. L2 ~2e-2 at beta=30 (Krishnapriyan et al., NeurIPS 2021)",
            },
        )

    def _train(self) -> dict[str, np.ndarray]:
        p = self.params
        return pinn_training_set(
            self.pde, n_interior=p["n_interior"], n_boundary=0, n_initial=p["n_initial"], seed=p["seed"]
        )

    def generate(self) -> ProblemData:
        query = tensor_grid(self.x_grid, self.t_grid)
        return ProblemData(
            train=self._train(),
            query_inputs={"x": query},
            targets=exact_solution(query, self.params["beta"]),
        )
