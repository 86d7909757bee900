"""``burgers1d``: viscous Burgers with a steep internal layer, the benchmark of Raissi et al. (2019)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from problems.base import GeneratedProblem, ProblemData, ProblemSpec
from problems.builtin._common import PINN_BUDGET, pinn_data_section, pinn_training_set, tensor_grid
from problems.solvers.burgers import burgers_cole_hopf
from sandbox.runtime.pde import build_pde

NAME = "burgers1d"


class Burgers1DProblem(GeneratedProblem):
    version: ClassVar[str] = "2"
    params: ClassVar[dict[str, Any]] = {
        "nu": 0.01 / math.pi,
        "nx": 256,  # x = linspace(-1, 1, 256) and t = 0, 0.01, ..., 0.99: the grid of Raissi et al.'s data
        "nt": 100,
        "dt": 0.01,
        "hermite_order": 200,
        "n_interior": 10000,
        "n_boundary": 200,
        "n_initial": 256,
        "seed": 20190201,
    }

    def __init__(self) -> None:
        p = self.params
        self.pde = build_pde(
            {
                "variables": {"x": [-1, 1], "t": [0, 1]},
                "parameters": {"nu": p["nu"]},
                "equation": "u_t + u*u_x - nu*u_xx",
                "conditions": [
                    {"where": "t == 0", "value": "-sin(pi*x)"},
                    {"where": "x == -1", "value": "0"},
                    {"where": "x == 1", "value": "0"},
                ],
            }
        )
        self.x_grid = np.linspace(-1.0, 1.0, p["nx"])
        self.t_grid = p["dt"] * np.arange(p["nt"])
        train = self._train()
        n_query = p["nx"] * p["nt"]
        t_last = self.t_grid[-1]
        description = f"""# 1D viscous Burgers equation (nu = 0.01 / pi)

Find u(x, t) solving

    u_t + u * u_x - nu * u_xx = 0,    nu = 0.01 / pi,
    x in [-1, 1],  t in [0, 1],
    u(x, 0) = -sin(pi x),   u(-1, t) = u(1, t) = 0.

The two halves of the initial wave run into each other at x = 0, where a steep internal layer (a viscous
shock, width of order nu ~ 3e-3, slope up to ~150) forms around t = 1/pi ~ 0.32 and stays.

{pinn_data_section(train, n_query, f"a regular grid of {p['nx']} x-values (`linspace(-1, 1, {p['nx']})`) times {p['nt']} t-values (`0, 0.01, ..., {t_last:.2f}`), flattened with t as the slow index: `predictions.reshape({p['nt']}, {p['nx']})[i, j]` is u(x_j, t_i).")}

## Score

Relative L2 error over the query grid, against a reference the candidate never sees; two independent
evaluations of it agree to ~2e-15 and it satisfies the PDE to finite-difference accuracy.

## Known difficulty

Resolving the layer at x = 0 is what limits accuracy: uniformly sampled collocation points rarely fall inside
it, and the residual there is orders of magnitude larger than elsewhere. Residual-adaptive sampling, exact
boundary/initial conditions and longer L-BFGS refinement are common improvements.

## Literature

- PINN (9 layers x 20 tanh, L-BFGS, 100 initial/boundary points, 10,000 collocation points): relative L2
  error 6.7e-4 (Raissi, Perdikaris, Karniadakis, "Physics-informed neural networks", J. Comput. Phys. 378,
  2019).
"""
        self.spec = ProblemSpec(
            name=NAME,
            kind="pinn",
            description=description,
            metric="rel_l2",
            budget=PINN_BUDGET,
            pde=self.pde.to_spec(),
            literature={
                "PINN (Raissi et al. 2019)": "rel. L2 6.7e-4 (J. Comput. Phys. 378, 2019; L-BFGS, long training)",
            },
        )

    def _train(self) -> dict[str, np.ndarray]:
        p = self.params
        return pinn_training_set(
            self.pde,
            n_interior=p["n_interior"],
            n_boundary=p["n_boundary"],
            n_initial=p["n_initial"],
            seed=p["seed"],
        )

    def generate(self) -> ProblemData:
        query = tensor_grid(self.x_grid, self.t_grid)
        targets = burgers_cole_hopf(
            query[:, 0], query[:, 1], self.params["nu"], order=self.params["hermite_order"]
        )
        return ProblemData(train=self._train(), query_inputs={"x": query}, targets=targets)
