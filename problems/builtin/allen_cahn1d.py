"""``allen_cahn1d``: the periodic Allen–Cahn benchmark (Raissi et al. 2019; Wang, Sankaran & Perdikaris 2022)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from problems.base import GeneratedProblem, ProblemData, ProblemSpec
from problems.builtin._common import PINN_BUDGET, pinn_data_section, pinn_training_set, tensor_grid
from problems.solvers.allen_cahn import solve_allen_cahn
from sandbox.runtime.pde import build_pde

NAME = "allen_cahn1d"


def reference(
    params: dict[str, Any], n_fine: int | None = None, dt: float | None = None
) -> tuple[np.ndarray, ...]:
    """``(x, t, u)`` with ``u[i, j] = u(x_j, t_i)`` on the output grid; ``n_fine``/``dt`` override the solver's."""
    t = np.linspace(0.0, 1.0, params["nt"])
    n_fine = params["n_fine"] if n_fine is None else n_fine
    x, u = solve_allen_cahn(
        diffusion=params["diffusion"],
        reaction=params["reaction"],
        n_fine=n_fine,
        dt=params["dt"] if dt is None else dt,
        t_out=t,
        stride=n_fine // params["nx"],
    )
    return x, t, u


class AllenCahn1DProblem(GeneratedProblem):
    version: ClassVar[str] = "2"
    params: ClassVar[dict[str, Any]] = {
        "diffusion": 1e-4,
        "reaction": 5.0,
        "nx": 512,  # x = -1 + 2 j / 512 and t = linspace(0, 1, 201): the grid of the widely used AC.mat
        "nt": 201,
        "n_fine": 4096,  # solver grid (8x the output grid, to resolve the interfaces)
        "dt": 1e-3,
        "n_interior": 5000,
        "n_initial": 512,
        "seed": 20220316,
    }

    def __init__(self) -> None:
        p = self.params
        self.pde = build_pde(
            {
                "variables": {"x": [-1, 1], "t": [0, 1]},
                "parameters": {"d": p["diffusion"], "rho": p["reaction"]},
                "equation": "u_t - d*u_xx + rho*(u**3 - u)",
                "conditions": [{"where": "t == 0", "value": "x**2*cos(pi*x)"}, {"periodic": "x"}],
            }
        )
        train = self._train()
        n_query = p["nx"] * p["nt"]
        description = f"""# 1D Allen–Cahn equation

Find u(x, t) solving the reaction–diffusion equation

    u_t - d * u_xx + rho * (u^3 - u) = 0,    d = {p["diffusion"]:g},  rho = {p["reaction"]:g},
    x in [-1, 1] (periodic: u(-1, t) = u(1, t), u_x(-1, t) = u_x(1, t)),  t in [0, 1],
    u(x, 0) = x^2 cos(pi x).

The reaction drives u towards the stable phases -1 and +1; the small diffusion leaves sharp interfaces
between them (width ~ sqrt(d / rho) ~ 5e-3) that move slowly.

{pinn_data_section(train, n_query, f"a regular grid of {p['nx']} x-values (`-1 + 2 j / {p['nx']}`, j = 0..{p['nx'] - 1}) times {p['nt']} t-values (`linspace(0, 1, {p['nt']})`), flattened with t as the slow index: `predictions.reshape({p['nt']}, {p['nx']})[i, j]` is u(x_j, t_i).")}

## Score

Relative L2 error over the query grid. The reference is a Fourier pseudo-spectral / ETDRK4 integration
({p["n_fine"]} modes, dt = {p["dt"]:g}, initial Fourier coefficients taken without aliasing because the
periodic extension of the initial condition has a kink at x = +-1); it changes by less than 1e-9 when the
grid and time step are refined (8192 modes, dt = 5e-4).

## Known difficulty

Plain PINNs usually converge to a wrong, smooth solution: they fit the PDE at late times before the early
dynamics are resolved, violating temporal causality, and the sharp interfaces need many collocation points.
Exact periodicity and initial conditions, causal weighting of the residual in time, time-marching and
adaptive sampling are the known remedies.

## Literature

- Plain PINN: relative L2 error ~0.5; causal training and related modified PINNs reach about 1e-3 to 1e-4
  (Wang, Sankaran, Perdikaris, "Respecting causality is all you need for training physics-informed neural
  networks", arXiv:2203.07404, 2022).
"""
        self.spec = ProblemSpec(
            name=NAME,
            kind="pinn",
            description=description,
            metric="rel_l2",
            budget=PINN_BUDGET,
            pde=self.pde.to_spec(),
            literature={
                "plain PINN": "rel. L2 ~0.5 (Wang, Sankaran, Perdikaris 2022)",
                "causal / modified PINNs": "rel. L2 ~1e-3 to 1e-4 (Wang, Sankaran, Perdikaris 2022)",
            },
        )

    def _train(self) -> dict[str, np.ndarray]:
        p = self.params
        return pinn_training_set(
            self.pde, n_interior=p["n_interior"], n_boundary=0, n_initial=p["n_initial"], seed=p["seed"]
        )

    def generate(self) -> ProblemData:
        x, t, u = reference(self.params)
        return ProblemData(train=self._train(), query_inputs={"x": tensor_grid(x, t)}, targets=u.ravel())
