"""``antiderivative``: learn the operator u -> int_0^x u from GRF samples (the DeepONet benchmark)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from problems.base import GeneratedProblem, ProblemData, ProblemSpec
from problems.builtin._common import DATA_BUDGET
from problems.solvers.grf import RBFField

NAME = "antiderivative"


class AntiderivativeProblem(GeneratedProblem):
    version: ClassVar[str] = "1"
    params: ClassVar[dict[str, Any]] = {
        "length_scale": 0.2,
        "n_sensors": 100,  # sensors = linspace(0, 1, 100)
        "n_points": 100,  # output locations y = linspace(0, 1, 100)
        "n_train": 1000,
        "n_test": 1000,
        "grf_centres": 40,
        "grf_rel_tol": 1e-10,
        "seed": 20210318,
    }

    def __init__(self) -> None:
        p = self.params
        m, n_y = p["n_sensors"], p["n_points"]
        description = f"""# Antiderivative operator (DeepONet benchmark)

Learn the operator G that maps a function u on [0, 1] to its antiderivative

    G(u)(y) = s(y) = integral_0^y u(x) dx,    i.e.  ds/dy = u(y),  s(0) = 0,

from examples. The input functions are samples of a zero-mean Gaussian random field with the RBF covariance
k(x, x') = exp(-(x - x')^2 / (2 l^2)), l = {p["length_scale"]:g} (unit variance), observed at {m} fixed sensors.

## Data

- `task.train['sensors']` ({m},): sensor locations `linspace(0, 1, {m})`.
- `task.train['u']` ({p["n_train"]}, {m}): {p["n_train"]} training functions at the sensors.
- `task.train['y']` ({n_y}, 1): output locations `linspace(0, 1, {n_y})`.
- `task.train['s']` ({p["n_train"]}, {n_y}): their antiderivatives at `y`.
- `task.query_inputs['u']` ({p["n_test"]}, {m}): {p["n_test"]} held-out functions (same distribution).
- `task.query_inputs['y']` ({n_y}, 1): the output locations for the held-out functions (same as `train['y']`).

The candidate returns s for every held-out function at every query location, shape `({p["n_test"]}, {n_y})`.

## Score

Relative L2 error over all held-out (function, location) pairs. The fields are finite Gaussian sums (a
Karhunen–Loève-truncated GRF whose covariance matches the kernel to ~2e-11), so the antiderivatives are
exact error-function sums: the targets are accurate to ~1e-12.

## Known difficulty

The operator is linear, so the main challenges are data efficiency and generalisation across the input
distribution; note that the sensors only sample u, so accuracy is bounded by how well u is determined
between sensors (very well, for this smooth field).

## Literature

- DeepONet: relative L2 errors of order 5e-3 on this task (Lu, Jin, Pang,
  Zhang, Karniadakis, "Learning nonlinear operators via DeepONet based on the universal approximation theorem
  of operators", Nat. Mach. Intell. 3, 2021).
"""
        self.spec = ProblemSpec(
            name=NAME,
            kind="operator",
            description=description,
            metric="rel_l2",
            budget=DATA_BUDGET,
            pde=None,
            literature={"DeepONet": "rel. L2 of order 5e-3 (Lu et al., Nat. Mach. Intell. 2021)"},
        )

    def field(self) -> RBFField:
        p = self.params
        return RBFField(length_scale=p["length_scale"], n_centres=p["grf_centres"], rel_tol=p["grf_rel_tol"])

    def generate(self) -> ProblemData:
        p = self.params
        field = self.field()
        sensors = np.linspace(0.0, 1.0, p["n_sensors"])
        y = np.linspace(0.0, 1.0, p["n_points"])
        u_basis, s_basis = field.basis(sensors), field.integral_basis(y)
        rng = np.random.default_rng(p["seed"])
        weights_train = field.sample_weights(p["n_train"], rng)
        weights_test = field.sample_weights(p["n_test"], rng)
        return ProblemData(
            train={
                "sensors": sensors,
                "u": weights_train @ u_basis.T,
                "y": y[:, None],
                "s": weights_train @ s_basis.T,
            },
            query_inputs={"u": weights_test @ u_basis.T, "y": y[:, None]},
            targets=weights_test @ s_basis.T,
        )
