"""Pieces shared by the built-in problems: budgets, query grids, PINN point sets, description boilerplate."""

from __future__ import annotations

import numpy as np

from problems.base import ProblemBudget
from sandbox.runtime.pde import PDE

PINN_BUDGET = ProblemBudget(wall_seconds=60.0, memory_mb=4096, device="cpu", cpu_threads=1)
DATA_BUDGET = ProblemBudget(wall_seconds=30.0, memory_mb=4096, device="cpu", cpu_threads=1)


def tensor_grid(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """All pairs ``(first[j], second[i])`` as ``(len(second) * len(first), 2)``, ``second`` the slow index.

    So ``values.reshape(len(second), len(first))[i, j]`` is the value at ``(first[j], second[i])``, e.g.
    ``u[t_i, x_j]`` for a space-time grid.
    """
    slow, fast = np.meshgrid(second, first, indexing="ij")
    return np.column_stack([fast.ravel(), slow.ravel()])


def pinn_training_set(
    pde: PDE, *, n_interior: int, n_boundary: int, n_initial: int, seed: int
) -> dict[str, np.ndarray]:
    """Collocation, boundary and initial points (with their data) drawn by the PDE's own samplers.

    Boundary/initial entries are omitted where the PDE has no such condition (periodic directions have no
    Dirichlet boundary; steady problems no initial condition); boundary points lie on Dirichlet faces only. Values are ``(n, 1)`` columns, so they line up
    with a network output of shape ``(n, 1)`` without accidental broadcasting.
    """
    rng = np.random.default_rng(seed)
    train = {"x_interior": pde.sample_interior(n_interior, rng)}
    boundary = pde.sample_boundary(n_boundary, rng, dirichlet_only=True)
    if len(boundary):
        train["x_boundary"] = boundary
        train["u_boundary"] = pde.boundary_values(boundary)
    initial = pde.sample_initial(n_initial, rng) if "initial" in pde.exact_constraints else np.empty((0, pde.dim))
    if len(initial):
        train["x_initial"] = initial
        train["u_initial"] = pde.initial_values(initial)
    return train


def pinn_data_section(train: dict[str, np.ndarray], n_query: int, grid_note: str) -> str:
    """Markdown listing the arrays a PINN candidate receives (sizes taken from the actual arrays)."""
    lines = [
        "## Data",
        "",
        "`task.train` (float64; columns in the order of `task.pde.variables`):",
        "",
        (
            f"- `x_interior` {tuple(train['x_interior'].shape)}: collocation points, uniform in the domain "
            "(more can be drawn with `task.pde.sample_interior(n, rng)`)."
        ),
    ]
    if "x_boundary" in train:
        lines.append(
            f"- `x_boundary` {tuple(train['x_boundary'].shape)} and `u_boundary` "
            f"{tuple(train['u_boundary'].shape)}: Dirichlet boundary points and values."
        )
    if "x_initial" in train:
        lines.append(
            f"- `x_initial` {tuple(train['x_initial'].shape)} and `u_initial` "
            f"{tuple(train['u_initial'].shape)}: points at t = 0 and the initial condition there."
        )
    lines += [
        "",
        (
            f"`task.query_inputs['x']` ({n_query}, 2): {grid_note} The candidate returns the solution at "
            f"these points, shape `({n_query},)`. No solution values are given anywhere: this is a forward "
            "problem (the equation and its conditions determine the solution)."
        ),
        "",
        (
            "`task.pde` provides the residual (torch autograd), bounds, samplers, the initial/boundary data as "
            "functions, and helpers for imposing periodicity, initial and boundary conditions exactly; see "
            "its docstrings."
        ),
    ]
    return "\n".join(lines)
