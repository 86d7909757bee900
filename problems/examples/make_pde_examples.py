"""Write the three example PDE problems under ``problems/examples/`` (deterministic).

Each is a directory a user could have written by hand: ``problem.yaml`` with the symbolic ``pde:`` spec,
``description.md`` and ``data.npz`` holding only ``query_x`` and the hidden ``targets`` (candidates sample
their own collocation points from the spec). They show the three things the built-ins do not:

* ``heat1d_neumann``: insulated ends (Neumann conditions, ``derivative: u_x`` and ``u_n``);
* ``wave1d_initial_velocity``: a second-order time derivative with an initial velocity (``derivative: u_t``);
* ``poisson_lshape``: a non-rectangular domain (``geometry: exclude``) with a re-entrant corner.

The references are closed forms (written here, never in the descriptions), so they are exact.

Run: ``python -m problems.examples.make_pde_examples [output_dir]``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

BUDGET = {"wall_seconds": 60, "memory_mb": 2048, "device": "cpu", "cpu_threads": 1}

HEAT = {
    "variables": {"x": [0, 1], "t": [0, 1]},
    "parameters": {"k": 0.1},
    "equation": "u_t = k*u_xx",
    "conditions": [
        {"where": "t == 0", "value": "cos(pi*x) + 0.5*cos(3*pi*x)"},
        {"where": "x == 0", "derivative": "u_x", "value": "0"},
        {"where": "x == 1", "derivative": "u_n", "value": "0"},
    ],
}
WAVE = {
    "variables": {"x": [0, 1], "t": [0, 1]},
    "parameters": {"c": 2},
    "equation": "u_tt = c**2*u_xx",
    "conditions": [
        {"where": "t == 0", "value": "sin(pi*x)"},
        {"where": "t == 0", "derivative": "u_t", "value": "2*pi*sin(2*pi*x)"},
        {"where": "boundary", "value": "0"},
    ],
}
LSHAPE = {
    "variables": {"x": [-1, 1], "y": [-1, 1]},
    "equation": "-(u_xx + u_yy) = 2*pi**2*sin(pi*x)*sin(pi*y)",
    "conditions": [{"where": "boundary", "value": "0"}],
    "geometry": {"exclude": [{"x": [0, 1], "y": [-1, 0]}]},
}


def heat_solution(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    k = HEAT["parameters"]["k"]
    return np.cos(np.pi * x) * np.exp(-k * np.pi**2 * t) + 0.5 * np.cos(3 * np.pi * x) * np.exp(-9 * k * np.pi**2 * t)


def wave_solution(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.sin(np.pi * x) * np.cos(2 * np.pi * t) + 0.5 * np.sin(2 * np.pi * x) * np.sin(4 * np.pi * t)


def lshape_solution(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.sin(np.pi * x) * np.sin(np.pi * y)


def _space_time_grid(nx: int, nt: int) -> np.ndarray:
    """(x, t) columns of an nx x nt grid on [0, 1]^2, t the slow index."""
    tt, xx = np.meshgrid(np.linspace(0, 1, nt), np.linspace(0, 1, nx), indexing="ij")
    return np.column_stack([xx.ravel(), tt.ravel()])


def _lshape_grid(n: int) -> np.ndarray:
    """Points of an n x n grid on [-1, 1]^2 outside the removed quadrant (x > 0, y < 0)."""
    yy, xx = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n), indexing="ij")
    points = np.column_stack([xx.ravel(), yy.ravel()])
    return points[~((points[:, 0] > 0) & (points[:, 1] < 0))]


def _data_section(query: str, shape: str) -> str:
    return f"""## Data

- No training arrays: sample collocation, boundary and initial points from the spec (`task.pde`).
- `task.query_inputs['x']`: {query}

Predict u at the query points, shape `{shape}`. Score: relative L2 error against a reference the candidate
never sees.
"""


EXAMPLES: dict[str, dict[str, Any]] = {
    "heat1d_neumann": {
        "pde": HEAT,
        "query": lambda: _space_time_grid(101, 51),
        "solution": lambda q: heat_solution(q[:, 0], q[:, 1]),
        "description": """# Heat equation with insulated ends (example user problem)

Find u(x, t) on x in [0, 1], t in [0, 1] with

    u_t = k u_xx,   k = 0.1,
    u(x, 0) = cos(pi x) + 0.5 cos(3 pi x),
    u_x(0, t) = 0,  u_x(1, t) = 0   (no heat flux through either end).

The Neumann conditions cannot be built into the network with a distance factor the way Dirichlet data can,
so they stay in the loss; the initial condition can be imposed exactly. The two cosine modes decay at rates
k pi^2 and 9 k pi^2, so the fine mode is gone by the end of the interval while the coarse one persists.

"""
        + _data_section("(5151, 2): columns (x, t) on a 101 x 51 grid, t the slow index.", "(5151,)"),
    },
    "wave1d_initial_velocity": {
        "pde": WAVE,
        "query": lambda: _space_time_grid(101, 51),
        "solution": lambda q: wave_solution(q[:, 0], q[:, 1]),
        "description": """# Vibrating string struck with an initial velocity (example user problem)

Find u(x, t) on x in [0, 1], t in [0, 1] with

    u_tt = c^2 u_xx,   c = 2,
    u(x, 0) = sin(pi x),   u_t(x, 0) = 2 pi sin(2 pi x),
    u(0, t) = u(1, t) = 0.

Second order in time: both the displacement and the velocity are prescribed at t = 0. Waves cross the
string twice over the interval, so the solution oscillates in time as well as in space.

"""
        + _data_section("(5151, 2): columns (x, t) on a 101 x 51 grid, t the slow index.", "(5151,)"),
    },
    "poisson_lshape": {
        "pde": LSHAPE,
        "query": lambda: _lshape_grid(81),
        "solution": lambda q: lshape_solution(q[:, 0], q[:, 1]),
        "description": """# Poisson equation on an L-shaped domain (example user problem)

Find u(x, y) on the L-shaped domain [-1, 1]^2 minus the quadrant (0, 1] x [-1, 0) with

    -(u_xx + u_yy) = 2 pi^2 sin(pi x) sin(pi y),
    u = 0 on the whole boundary, including the two edges x = 0 (y < 0) and y = 0 (x > 0)
    that meet at the re-entrant corner (0, 0).

The domain is written as its bounding box with one box excluded (`geometry.exclude`); samplers and the
boundary distance of the spec know about the cut-out.

"""
        + _data_section(
            "(4961, 2): columns (x, y), the points of an 81 x 81 grid on [-1, 1]^2 outside the removed "
            "quadrant (x > 0 and y < 0), y the slow index.",
            "(4961,)",
        ),
    },
}


def make(name: str, directory: Path) -> Path:
    example = EXAMPLES[name]
    query = example["query"]()
    config = {
        "name": name,
        "kind": "pinn",
        "metric": "rel_l2",
        "budget": BUDGET,
        "pde": example["pde"],
        "literature": {},
    }
    directory.mkdir(parents=True, exist_ok=True)
    header = f"# Example user-defined PDE problem (generated by problems/examples/make_pde_examples.py).\n"
    (directory / "problem.yaml").write_text(header + yaml.safe_dump(config, sort_keys=False))
    (directory / "description.md").write_text(example["description"])
    solution: Callable[[np.ndarray], np.ndarray] = example["solution"]
    np.savez(directory / "data.npz", query_x=query, targets=solution(query))
    return directory


def make_all(root: Path) -> list[Path]:
    return [make(name, root / name) for name in EXAMPLES]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    for path in make_all(target):
        print(path)
