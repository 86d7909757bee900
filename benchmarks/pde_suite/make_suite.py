"""Write the PDE benchmark suite: seven PINN problems from the literature that are not built-ins (deterministic).

Run: ``python benchmarks/pde_suite/make_suite.py [out_dir]`` (default: this directory). Each problem becomes a
user-problem directory ``<out_dir>/<name>/`` with ``problem.yaml`` (the symbolic ``pde:`` spec, budget,
literature), ``description.md`` (what agents and candidates read) and ``data.npz`` holding only ``query_x`` and
the hidden ``targets`` (candidates sample their own collocation points from the spec).

The problems and how their references are computed (details and self-consistency figures in README.md):

* ``heat2d_multiscale`` (PINNacle Heat 2d-MS), ``poisson5d`` (PINNacle PNd), ``wave1d`` (PINNacle Wave 1d-C),
  ``klein_gordon1d`` (Wang, Teng & Perdikaris 2021): closed forms, written here and never in a description;
* ``reaction_diffusion1d`` (Krishnapriyan et al. 2021): Strang splitting, the logistic reaction solved exactly
  and the diffusion exactly in Fourier space, on a fine periodic grid;
* ``kdv1d`` (Raissi, Perdikaris & Karniadakis 2019): Fourier pseudo-spectral ETDRK4 (Cox & Matthews 2002, with
  the contour-integral coefficients of Kassam & Trefethen 2005) and 2/3-rule dealiasing;
* ``poisson2d_holes`` (mixed Dirichlet/Neumann Poisson problem on a square with three rectangular holes):
  bilinear finite elements on the grids h = 1/200 and 1/400, combined by Richardson extrapolation with the
  corner-singularity exponent 4/3.

Grid solutions are carried to the query points by exact Fourier interpolation (periodic problems) or are
taken at coinciding nodes (finite elements), so no interpolation error enters the targets. Nothing here is
random except the 5-D query points, drawn from a fixed seed; ``data.npz`` is written with fixed zip
timestamps, so regenerating gives byte-identical files.
"""

from __future__ import annotations

import io
import math
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from problems.solvers.etdrk4 import etdrk4_coefficients, etdrk4_step

SUITE_DIR = Path(__file__).resolve().parent
BUDGET = {"wall_seconds": 60, "memory_mb": 2048, "device": "cpu", "cpu_threads": 1}
PI = math.pi

# ------------------------------------------------------------------------------------------------------------
# Citations (full, as they appear in the descriptions and README)
# ------------------------------------------------------------------------------------------------------------
PINNACLE = (
    "Z. Hao, J. Yao, C. Su, H. Su, Z. Wang, F. Lu, Z. Xia, Y. Zhang, S. Liu, L. Lu, J. Zhu, \"PINNacle: A "
    "Comprehensive Benchmark of Physics-Informed Neural Networks for Solving PDEs\", NeurIPS 2024 Datasets and "
    "Benchmarks Track (arXiv:2306.08827)"
)
WANG_2021 = (
    "S. Wang, Y. Teng, P. Perdikaris, \"Understanding and mitigating gradient flow pathologies in "
    "physics-informed neural networks\", SIAM J. Sci. Comput. 43(5), A3055-A3081, 2021 (arXiv:2001.04536)"
)
KRISHNAPRIYAN_2021 = (
    "A. S. Krishnapriyan, A. Gholami, S. Zhe, R. M. Kirby, M. W. Mahoney, \"Characterizing possible failure "
    "modes in physics-informed neural networks\", NeurIPS 2021 (arXiv:2109.01050)"
)
RAISSI_2019 = (
    "M. Raissi, P. Perdikaris, G. E. Karniadakis, \"Physics-informed neural networks: A deep learning framework "
    "for solving forward and inverse problems involving nonlinear partial differential equations\", "
    "J. Comput. Phys. 378, 686-707, 2019"
)
KASSAM_TREFETHEN_2005 = (
    "A.-K. Kassam, L. N. Trefethen, \"Fourth-order time-stepping for stiff PDEs\", SIAM J. Sci. Comput. 26(4), "
    "1214-1233, 2005"
)

# ------------------------------------------------------------------------------------------------------------
# Problem parameters
# ------------------------------------------------------------------------------------------------------------
HEAT_GRID = (161, 11, 11)  # x, y, t points (x fastest)
POISSON5D_POINTS, POISSON5D_SEED = 10_000, 20240605
SPACE_TIME_GRID = (201, 101)  # x, t points of the 1D time-dependent problems (x fastest)
RD_NU, RD_RHO = 3.0, 5.0
RD_SOLVER = {"n": 1024, "dt": 1e-4}
KDV_DELTA = 0.0025
KDV_SOLVER = {"n": 256, "dt": 2.5e-4}
HOLES = (((0.15, 0.35), (0.55, 0.85)), ((0.5, 0.8), (0.15, 0.35)), ((0.55, 0.75), (0.55, 0.75)))
HOLES_QUERY = 101  # nodes per side of the query grid on [0, 1]^2
HOLES_LEVELS = (200, 400)  # finite-element grids combined by Richardson extrapolation
CORNER_EXPONENT = 4.0 / 3.0  # error ~ h^(4/3) from the 270-degree corners of the holes

# ------------------------------------------------------------------------------------------------------------
# Closed forms (numpy or torch: ``lib`` is the module; ``points`` columns in the spec's variable order)
# ------------------------------------------------------------------------------------------------------------


def heat2d_multiscale_solution(points: Any, lib: Any = np) -> Any:
    x, y, t = points[:, 0], points[:, 1], points[:, 2]
    rate = (20 * PI) ** 2 / (500 * PI) ** 2 + PI**2 / PI**2
    return lib.sin(20 * PI * x) * lib.sin(PI * y) * lib.exp(-rate * t)


def poisson5d_solution(points: Any, lib: Any = np) -> Any:
    return lib.sin(PI * points / 2).sum(1)


def wave1d_solution(points: Any, lib: Any = np) -> Any:
    x, t = points[:, 0], points[:, 1]
    return lib.sin(PI * x) * lib.cos(2 * PI * t) + 0.5 * lib.sin(4 * PI * x) * lib.cos(8 * PI * t)


def klein_gordon1d_solution(points: Any, lib: Any = np) -> Any:
    x, t = points[:, 0], points[:, 1]
    return x * lib.cos(5 * PI * t) + (x * t) ** 3


# ------------------------------------------------------------------------------------------------------------
# Numerical references
# ------------------------------------------------------------------------------------------------------------
def fourier_interpolate(values: np.ndarray, x0: float, length: float, xq: np.ndarray) -> np.ndarray:
    """Evaluate the trigonometric interpolant of the periodic grid data ``values`` (rows: snapshots) at ``xq``.

    ``values[..., j]`` is the value at ``x0 + length * j / n``; the Nyquist mode is dropped (it carries no
    information for a resolved solution). Exact for band-limited data, so no interpolation error is added.
    """
    values = np.atleast_2d(values)
    n = values.shape[-1]
    coefficients = np.fft.fft(values, axis=-1) / n
    modes = np.fft.fftfreq(n, 1.0 / n)
    if n % 2 == 0:
        coefficients[..., n // 2] = 0.0
    phase = np.exp(2j * np.pi * np.outer(modes, (np.asarray(xq) - x0) / length))
    return np.real(coefficients @ phase)


def _output_steps(t_out: np.ndarray, dt: float) -> np.ndarray:
    steps = np.rint(np.asarray(t_out) / dt).astype(np.int64)
    if np.any(np.abs(steps * dt - t_out) > 1e-9):
        raise ValueError("every output time must be a multiple of dt")
    return steps


def solve_reaction_diffusion(
    n: int, dt: float, t_out: np.ndarray, nu: float = RD_NU, rho: float = RD_RHO
) -> tuple[np.ndarray, np.ndarray]:
    """``u_t = nu u_xx + rho u (1 - u)`` on the periodic [0, 2 pi): ``(x, u)`` with ``u[i, j] = u(x_j, t_out[i])``.

    Strang splitting: half a reaction step (the logistic ODE solved exactly), a full diffusion step (exact in
    Fourier space), half a reaction step. Second order in ``dt``; spectral in space.
    """
    x = 2 * PI * np.arange(n) / n
    decay = np.exp(-nu * np.fft.fftfreq(n, 1.0 / n) ** 2 * dt)
    growth = math.exp(rho * dt / 2)
    u = rd_initial(x)
    out, step = [], 0
    for target in _output_steps(t_out, dt):
        while step < target:
            u = u * growth / (1 - u + u * growth)
            u = np.real(np.fft.ifft(decay * np.fft.fft(u)))
            u = u * growth / (1 - u + u * growth)
            step += 1
        out.append(u.copy())
    return x, np.array(out)


def solve_kdv(n: int, dt: float, t_out: np.ndarray, delta: float = KDV_DELTA) -> tuple[np.ndarray, np.ndarray]:
    """``u_t + u u_x + delta u_xxx = 0`` on the periodic [-1, 1), ``u(x, 0) = cos(pi x)``: ``(x, u)``.

    Fourier pseudo-spectral in space (2/3-rule dealiasing of ``(u^2)_x / 2``), ETDRK4 in time with the
    dispersion ``-delta u_xxx`` treated exactly.
    """
    x = -1 + 2 * np.arange(n) / n
    modes = np.fft.fftfreq(n, 1.0 / n)
    k = PI * modes
    linear = 1j * delta * k**3  # Fourier symbol of -delta d^3/dx^3
    gain = -0.5j * k * (np.abs(modes) < n / 3)
    coefficients = etdrk4_coefficients(linear, dt)

    def nonlinear(v: np.ndarray) -> np.ndarray:
        return gain * np.fft.fft(np.real(np.fft.ifft(v)) ** 2)

    v = np.fft.fft(np.cos(PI * x))
    out, step = [], 0
    for target in _output_steps(t_out, dt):
        while step < target:
            v = etdrk4_step(v, nonlinear, coefficients)
            step += 1
        out.append(np.real(np.fft.ifft(v)))
    return x, np.array(out)


def solve_poisson_holes(n: int) -> np.ndarray:
    """Bilinear finite elements for ``-(u_xx + u_yy) = 1`` on [0, 1]^2 minus ``HOLES``, ``h = 1 / n``.

    ``u = 0`` on the outer square, ``u_n = 0`` (natural) on the faces of the holes. Returns the nodal values
    ``(n + 1, n + 1)`` indexed ``[iy, ix]``; nodes strictly inside a hole are 0 (not part of the domain).
    """
    import scipy.sparse as sparse
    import scipy.sparse.linalg as sparse_linalg

    h = 1.0 / n
    centres = (np.arange(n) + 0.5) * h
    cx, cy = np.meshgrid(centres, centres, indexing="xy")
    solid = np.ones((n, n), dtype=bool)
    for (x0, x1), (y0, y1) in HOLES:
        solid &= ~((cx > x0) & (cx < x1) & (cy > y0) & (cy < y1))
    iy, ix = np.nonzero(solid)
    width = n + 1
    corners = np.stack([iy * width + ix, iy * width + ix + 1, (iy + 1) * width + ix + 1, (iy + 1) * width + ix], 1)
    element = np.array([[4, -1, -2, -1], [-1, 4, -1, -2], [-2, -1, 4, -1], [-1, -2, -1, 4]]) / 6.0
    size = width * width
    rows = np.repeat(corners, 4, axis=1).ravel()
    cols = np.tile(corners, (1, 4)).ravel()
    stiffness = sparse.csr_matrix((np.tile(element.ravel(), len(corners)), (rows, cols)), shape=(size, size))
    load = np.bincount(corners.ravel(), minlength=size) * h * h / 4
    used = np.zeros(size, dtype=bool)
    used[corners.ravel()] = True
    jj, ii = np.meshgrid(np.arange(width), np.arange(width), indexing="xy")
    outer = ((ii == 0) | (ii == n) | (jj == 0) | (jj == n)).ravel()
    free = np.flatnonzero(used & ~outer)
    u = np.zeros(size)
    u[free] = sparse_linalg.spsolve(
        stiffness[free][:, free].tocsc(), load[free], permc_spec="MMD_AT_PLUS_A"
    )
    return u.reshape(width, width)


def poisson_holes_on_query(levels: tuple[int, ...] = HOLES_LEVELS) -> np.ndarray:
    """The finite-element solutions on the query grid, ``[iy, ix]``; two levels are Richardson-extrapolated."""
    step = lambda n: n // (HOLES_QUERY - 1)  # noqa: E731 - query nodes are every step-th FE node
    grids = [solve_poisson_holes(n)[:: step(n), :: step(n)] for n in levels]
    if len(grids) == 1:
        return grids[0]
    coarse, fine = grids
    ratio = levels[1] / levels[0]
    return fine + (fine - coarse) / (ratio**CORNER_EXPONENT - 1)


# ------------------------------------------------------------------------------------------------------------
# Query sets
# ------------------------------------------------------------------------------------------------------------
def space_time_grid(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``(len(t) * len(x), 2)`` columns (x, t), t the slow index: ``values.reshape(len(t), len(x))[i, j]``."""
    tt, xx = np.meshgrid(t, x, indexing="ij")
    return np.column_stack([xx.ravel(), tt.ravel()])


def heat_query() -> np.ndarray:
    nx, ny, nt = HEAT_GRID
    tt, yy, xx = np.meshgrid(np.linspace(0, 5, nt), np.linspace(0, 1, ny), np.linspace(0, 1, nx), indexing="ij")
    return np.column_stack([xx.ravel(), yy.ravel(), tt.ravel()])


def poisson5d_query() -> np.ndarray:
    return np.random.default_rng(POISSON5D_SEED).uniform(0.0, 1.0, (POISSON5D_POINTS, 5))


def unit_space_time_query() -> np.ndarray:
    nx, nt = SPACE_TIME_GRID
    return space_time_grid(np.linspace(0, 1, nx), np.linspace(0, 1, nt))


def rd_axes() -> tuple[np.ndarray, np.ndarray]:
    nx, nt = SPACE_TIME_GRID
    return np.linspace(0, 2 * PI, nx), np.linspace(0, 1, nt)


def kdv_axes() -> tuple[np.ndarray, np.ndarray]:
    nx, nt = SPACE_TIME_GRID
    return np.linspace(-1, 1, nx), np.linspace(0, 1, nt)


def holes_query_full() -> np.ndarray:
    """All nodes of the query grid on [0, 1]^2, ``(HOLES_QUERY**2, 2)`` columns (x, y), y the slow index."""
    axis = np.linspace(0, 1, HOLES_QUERY)
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    return np.column_stack([xx.ravel(), yy.ravel()])


def in_hole(points: np.ndarray) -> np.ndarray:
    """Points strictly inside one of the holes (those are not part of the domain)."""
    inside = np.zeros(len(points), dtype=bool)
    for (x0, x1), (y0, y1) in HOLES:
        inside |= (
            (points[:, 0] > x0 + 1e-12) & (points[:, 0] < x1 - 1e-12) & (points[:, 1] > y0 + 1e-12) & (points[:, 1] < y1 - 1e-12)
        )
    return inside


# ------------------------------------------------------------------------------------------------------------
# PDE specs (the ``pde:`` block of each problem.yaml)
# ------------------------------------------------------------------------------------------------------------
HEAT_SPEC = {
    "variables": {"x": [0, 1], "y": [0, 1], "t": [0, 5]},
    "equation": "u_t = u_xx/(500*pi)**2 + u_yy/pi**2",
    "conditions": [
        {"where": "t == 0", "value": "sin(20*pi*x)*sin(pi*y)"},
        {"where": "boundary", "value": "0"},
    ],
}
_SINES = [f"sin(pi*x{i}/2)" for i in range(1, 6)]
POISSON5D_SPEC = {
    "variables": {f"x{i}": [0, 1] for i in range(1, 6)},
    "equation": "-(" + " + ".join(f"u_x{i}x{i}" for i in range(1, 6)) + ") = pi**2/4*(" + " + ".join(_SINES) + ")",
    "conditions": [
        {
            "where": f"x{i} == {side}",
            "value": " + ".join((["1"] if side else []) + [s for j, s in enumerate(_SINES, 1) if j != i]),
        }
        for i in range(1, 6)
        for side in (0, 1)
    ],
}
WAVE_SPEC = {
    "variables": {"x": [0, 1], "t": [0, 1]},
    "parameters": {"c": 2},
    "equation": "u_tt = c**2*u_xx",
    "conditions": [
        {"where": "t == 0", "value": "sin(pi*x) + sin(4*pi*x)/2"},
        {"where": "t == 0", "derivative": "u_t", "value": "0"},
        {"where": "boundary", "value": "0"},
    ],
}
KLEIN_GORDON_FORCING = (
    "-25*pi**2*x*cos(5*pi*t) + 6*x**3*t - 6*x*t**3 + x**3*cos(5*pi*t)**3 + 3*x**5*t**3*cos(5*pi*t)**2"
    " + 3*x**7*t**6*cos(5*pi*t) + x**9*t**9"
)
KLEIN_GORDON_SPEC = {
    "variables": {"x": [0, 1], "t": [0, 1]},
    "equation": f"u_tt - u_xx + u**3 = {KLEIN_GORDON_FORCING}",
    "conditions": [
        {"where": "t == 0", "value": "x"},
        {"where": "t == 0", "derivative": "u_t", "value": "0"},
        {"where": "x == 0", "value": "0"},
        {"where": "x == 1", "value": "cos(5*pi*t) + t**3"},
    ],
}
RD_SPEC = {
    "variables": {"x": [0, "2*pi"], "t": [0, 1]},
    "parameters": {"nu": RD_NU, "rho": RD_RHO},
    "equation": "u_t - nu*u_xx - rho*u*(1 - u)",
    "conditions": [{"where": "t == 0", "value": "exp(-(x - pi)**2/(2*(pi/4)**2))"}, {"periodic": "x"}],
}
KDV_SPEC = {
    "variables": {"x": [-1, 1], "t": [0, 1]},
    "parameters": {"delta": KDV_DELTA},
    "equation": "u_t + u*u_x + delta*u_xxx",
    "conditions": [{"where": "t == 0", "value": "cos(pi*x)"}, {"periodic": "x"}],
}
_HOLE_PLANES = {
    "x": sorted({v for (xs, _ys) in HOLES for v in xs}),
    "y": sorted({v for (_xs, ys) in HOLES for v in ys}),
}
HOLES_SPEC = {
    "variables": {"x": [0, 1], "y": [0, 1]},
    "equation": "-(u_xx + u_yy) = 1",
    "conditions": [{"where": f"{v} == {side}", "value": "0"} for v in ("x", "y") for side in (0, 1)]
    + [{"where": f"{v} == {plane:g}", "derivative": "u_n", "value": "0"} for v in ("x", "y") for plane in _HOLE_PLANES[v]],
    "geometry": {"exclude": [{"x": list(xs), "y": list(ys)} for xs, ys in HOLES]},
}


# ------------------------------------------------------------------------------------------------------------
# References at the query points
# ------------------------------------------------------------------------------------------------------------
def rd_reference(n: int = RD_SOLVER["n"], dt: float = RD_SOLVER["dt"]) -> np.ndarray:
    """``u[i, j] = u(x_j, t_i)`` on the query axes of ``reaction_diffusion1d``."""
    x_axis, t_axis = rd_axes()
    _, u = solve_reaction_diffusion(n, dt, t_axis)
    values = fourier_interpolate(u, 0.0, 2 * PI, x_axis)
    # The periodic extension of the Gaussian has a tiny slope jump (~3e-3) at x = 0, so its trigonometric
    # interpolant rings at the 1e-7 level; at t = 0 the initial condition itself is the reference.
    values[0] = rd_initial(x_axis)
    return values


def rd_initial(x: np.ndarray) -> np.ndarray:
    return np.exp(-((x - PI) ** 2) / (2 * (PI / 4) ** 2))


def kdv_reference(n: int = KDV_SOLVER["n"], dt: float = KDV_SOLVER["dt"]) -> np.ndarray:
    """``u[i, j] = u(x_j, t_i)`` on the query axes of ``kdv1d``."""
    x_axis, t_axis = kdv_axes()
    _, u = solve_kdv(n, dt, t_axis)
    return fourier_interpolate(u, -1.0, 2.0, x_axis)


def holes_query() -> np.ndarray:
    full = holes_query_full()
    return full[~in_hole(full)]


def holes_reference(levels: tuple[int, ...] = HOLES_LEVELS) -> np.ndarray:
    full = holes_query_full()
    return poisson_holes_on_query(levels).ravel()[~in_hole(full)]


# ------------------------------------------------------------------------------------------------------------
# Descriptions
# ------------------------------------------------------------------------------------------------------------
def _data_section(n: int, d: int, layout: str) -> str:
    return f"""## Data

- No training arrays: sample collocation, boundary and initial points from the spec (`task.pde`).
- `task.query_inputs['x']` ({n}, {d}): {layout}

Predict u at the query points, shape `({n},)`. Score: relative L2 error `||pred - u|| / ||u||` over the query
points, against a reference the candidate never sees.
"""


def _heat_description(n: int) -> str:
    nx, ny, nt = HEAT_GRID
    return f"""# Multi-scale 2D heat equation (PINNacle Heat 2d-MS)

Find u(x, y, t) on the unit square x, y in [0, 1] for t in [0, 5] with

    u_t = u_xx / (500 pi)^2 + u_yy / pi^2,
    u(x, y, 0) = sin(20 pi x) sin(pi y),
    u = 0 on the four sides x = 0, x = 1, y = 0, y = 1.

The two diffusivities differ by a factor of 250,000 and the initial state has ten periods across x but only
half a period across y, so the solution has very different scales in the two directions and in time; this
is the multi-scale heat case of PINNacle. A network has to represent the fine x-oscillation over the whole
time interval.

""" + _data_section(
        n,
        3,
        f"columns (x, y, t) on a {nx} x {ny} x {nt} grid: x = linspace(0, 1, {nx}), y = linspace(0, 1, {ny}), "
        f"t = linspace(0, 5, {nt}); x is the fastest index and t the slowest, so `pred.reshape({nt}, {ny}, {nx})[k, j, i]` "
        "is u(x_i, y_j, t_k).",
    ) + f"""
## Published results

- PINNacle, Table 3 (mean L2RE over repeated runs), case Heat 2d-MS: figure not confirmed here (secondary
  sources disagree on the best variant and its error); see the paper.

Reference: {PINNACLE}.
"""


def _poisson5d_description(n: int) -> str:
    return f"""# 5-D Poisson equation (PINNacle PNd)

Find u(x1, ..., x5) on the unit hypercube [0, 1]^5 with

    -(u_x1x1 + u_x2x2 + u_x3x3 + u_x4x4 + u_x5x5) = (pi^2 / 4) (sin(pi x1 / 2) + ... + sin(pi x5 / 2)),

and Dirichlet data on all ten faces: on the face x_i = c (c = 0 or 1) the value is
sin(pi c / 2) + the sum over j != i of sin(pi x_j / 2) (one condition per face in `task.pde.conditions`).

The difficulty is the dimension: collocation points are sparse in five dimensions, most of the volume lies
near the boundary, and the boundary consists of ten 4-D faces that all carry data.

""" + _data_section(
        n,
        5,
        f"columns (x1, ..., x5), {n} points drawn uniformly at random in [0, 1]^5 (fixed seed); no grid structure.",
    ) + f"""
## Published results

- PINNacle, Table 3, case PNd (high-dimensional Poisson): figure not confirmed here; see the paper.

Reference: {PINNACLE}.
"""


def _wave_description(n: int) -> str:
    nx, nt = SPACE_TIME_GRID
    return f"""# 1D wave equation (PINNacle Wave 1d-C)

Find u(x, t) on x in [0, 1], t in [0, 1] with

    u_tt = c^2 u_xx,   c = 2,
    u(x, 0) = sin(pi x) + sin(4 pi x) / 2,   u_t(x, 0) = 0,
    u(0, t) = u(1, t) = 0.

Second order in time (both the displacement and the velocity are given at t = 0) with two standing modes of
very different frequency superposed; the high mode completes several oscillations over the interval.

""" + _data_section(
        n,
        2,
        f"columns (x, t) on a {nx} x {nt} grid, x = linspace(0, 1, {nx}), t = linspace(0, 1, {nt}), t the slow "
        f"index: `pred.reshape({nt}, {nx})[i, j]` is u(x_j, t_i).",
    ) + f"""
## Published results

- PINNacle, Table 3 (mean L2RE over repeated runs), case Wave 1d-C: figure not confirmed here (secondary
  sources give 9.2E-2 to 9.8E-2 for the best variant); see the paper.

Reference: {PINNACLE}.
"""


def _klein_gordon_description(n: int) -> str:
    nx, nt = SPACE_TIME_GRID
    forcing = KLEIN_GORDON_FORCING.replace("**", "^").replace("*", " ")
    return f"""# Nonlinear Klein-Gordon equation (Wang, Teng & Perdikaris 2021)

Find u(x, t) on x in [0, 1], t in [0, 1] with

    u_tt - u_xx + u^3 = f(x, t),
    f(x, t) = {forcing},
    u(x, 0) = x,   u_t(x, 0) = 0,
    u(0, t) = 0,   u(1, t) = cos(5 pi t) + t^3.

The forcing f is the manufactured source of the paper's Klein-Gordon example (written out in the spec's
`equation`). The equation is nonlinear (cubic) and second order in time, and the forcing is large (of order
25 pi^2) compared with the initial and boundary data: the resulting imbalance between the gradients of the
residual and data loss terms is what the paper analyses.

""" + _data_section(
        n,
        2,
        f"columns (x, t) on a {nx} x {nt} grid, x = linspace(0, 1, {nx}), t = linspace(0, 1, {nt}), t the slow "
        f"index: `pred.reshape({nt}, {nx})[i, j]` is u(x_j, t_i).",
    ) + f"""
## Published results

- Wang, Teng & Perdikaris (2021), Klein-Gordon example: the paper compares a plain PINN with learning-rate
  annealing and the improved architecture; the figures are not confirmed here, see the paper.

Reference: {WANG_2021}.
"""


def _rd_description(n: int) -> str:
    nx, nt = SPACE_TIME_GRID
    return f"""# 1D reaction-diffusion equation (Krishnapriyan et al. 2021)

Find u(x, t) on x in [0, 2 pi] (periodic), t in [0, 1] with

    u_t = nu u_xx + rho u (1 - u),   nu = {RD_NU:g},  rho = {RD_RHO:g},
    u(x, 0) = exp(-(x - pi)^2 / (2 (pi / 4)^2)),
    u periodic in x with period 2 pi.

A Gaussian bump both spreads (diffusion) and grows towards the stable state u = 1 (logistic reaction). The
reaction-diffusion system is one of the failure modes studied by Krishnapriyan et al.: as the reaction
coefficient grows, plain PINN training fails to find the solution. The reference was computed numerically on
a fine grid and checked by refinement.

""" + _data_section(
        n,
        2,
        f"columns (x, t) on a {nx} x {nt} grid, x = linspace(0, 2 pi, {nx}) (both ends included; they are the "
        f"same point of the periodic domain), t = linspace(0, 1, {nt}), t the slow index: "
        f"`pred.reshape({nt}, {nx})[i, j]` is u(x_j, t_i).",
    ) + f"""
## Published results

- Krishnapriyan et al. (2021), reaction-diffusion system: the paper reports plain PINN against curriculum
  regularization and sequence-to-sequence training over ranges of nu and rho; a figure for exactly
  nu = {RD_NU:g}, rho = {RD_RHO:g} is not confirmed here.

Reference: {KRISHNAPRIYAN_2021}.
"""


def _kdv_description(n: int) -> str:
    nx, nt = SPACE_TIME_GRID
    return f"""# Korteweg-de Vries equation (Raissi, Perdikaris & Karniadakis 2019)

Find u(x, t) on x in [-1, 1] (periodic), t in [0, 1] with

    u_t + u u_x + delta u_xxx = 0,   delta = {KDV_DELTA:g},
    u(x, 0) = cos(pi x),
    u periodic in x with period 2.

Nonlinear and dispersive, with a third spatial derivative: the initial cosine steepens and breaks up into a
train of solitary waves travelling at different speeds, so the solution develops narrow moving peaks. The
reference was computed numerically (Fourier pseudo-spectral, fourth-order exponential time differencing)
and checked by refinement.

""" + _data_section(
        n,
        2,
        f"columns (x, t) on a {nx} x {nt} grid, x = linspace(-1, 1, {nx}) (both ends included; they are the "
        f"same point of the periodic domain), t = linspace(0, 1, {nt}), t the slow index: "
        f"`pred.reshape({nt}, {nx})[i, j]` is u(x_j, t_i).",
    ) + f"""
## Published results

- Raissi et al. (2019) use this equation and initial condition for data-driven discovery (identifying the
  coefficients 1 and {KDV_DELTA:g} from two snapshots with a discrete-time PINN); a forward-solve error is not
  reported for this setting.

Reference: {RAISSI_2019}. Time stepping of the reference: {KASSAM_TREFETHEN_2005}.
"""


def _holes_description(n: int) -> str:
    holes = "\n".join(
        f"    H{k} = ({x0:g}, {x1:g}) x ({y0:g}, {y1:g})" for k, ((x0, x1), (y0, y1)) in enumerate(HOLES, 1)
    )
    return f"""# Poisson equation on a square with three insulated rectangular holes

Find u(x, y) on the unit square [0, 1]^2 minus three open rectangles

{holes}

(in `task.pde.exclude` / the spec's `geometry.exclude`) with

    -(u_xx + u_yy) = 1,
    u = 0 on the outer sides x = 0, x = 1, y = 0, y = 1,
    u_n = 0 on every face of the holes (zero flux; u_n is the outward normal derivative).

Mixed Dirichlet / Neumann conditions on a non-rectangular domain: the Neumann data cannot be built into the
network with a distance factor, and each hole has four re-entrant corners where the gradient of u is
singular. The reference was computed with finite elements on two nested fine grids (extrapolated) and
checked by refinement.

""" + _data_section(
        n,
        2,
        f"columns (x, y): the nodes of the {HOLES_QUERY} x {HOLES_QUERY} grid x, y = linspace(0, 1, "
        f"{HOLES_QUERY}) that are not strictly inside a hole (nodes on hole faces are kept), in grid order with y "
        "the slow index.",
    ) + f"""
## Published results

- Not reported for this setting: this geometry and data are specific to this suite (in the spirit of the
  complex-geometry Poisson cases of PINNacle, which use circular holes and other data).

Related benchmark: {PINNACLE}.
"""


# ------------------------------------------------------------------------------------------------------------
# The suite
# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SuiteProblem:
    name: str
    pde: dict[str, Any]
    query: Callable[[], np.ndarray]
    targets: Callable[[np.ndarray], np.ndarray]
    description: Callable[[int], str]
    literature: dict[str, str]
    closed_form: Callable[..., Any] | None = None  # (points, lib) -> u, for closed-form references
    secrets: tuple[str, ...] = field(default_factory=tuple)  # formula fragments the description must not contain


def _closed(solution: Callable[..., Any]) -> Callable[[np.ndarray], np.ndarray]:
    return lambda query: solution(query, np)


PROBLEMS: dict[str, SuiteProblem] = {
    "heat2d_multiscale": SuiteProblem(
        name="heat2d_multiscale",
        pde=HEAT_SPEC,
        query=heat_query,
        targets=_closed(heat2d_multiscale_solution),
        description=_heat_description,
        literature={"PINN variants (Hao et al. 2024, PINNacle, Table 3, Heat 2d-MS)": "figure not confirmed here (see the paper)"},
        closed_form=heat2d_multiscale_solution,
        secrets=("exp(-1.0016", "1.0016", "sin(20*pi*x)*sin(pi*y)*exp(", "exp(-t"),
    ),
    "poisson5d": SuiteProblem(
        name="poisson5d",
        pde=POISSON5D_SPEC,
        query=poisson5d_query,
        targets=_closed(poisson5d_solution),
        description=_poisson5d_description,
        literature={"PINN variants (Hao et al. 2024, PINNacle, Table 3, PNd)": "figure not confirmed here (see the paper)"},
        closed_form=poisson5d_solution,
        secrets=("u=sin(pi*x1/2)", "u(x)=", "u=sum", "=sin(pi*x1/2)+sin(pi*x2/2)+sin(pi*x3/2)+sin(pi*x4/2)+sin(pi*x5/2)"),
    ),
    "wave1d": SuiteProblem(
        name="wave1d",
        pde=WAVE_SPEC,
        query=unit_space_time_query,
        targets=_closed(wave1d_solution),
        description=_wave_description,
        literature={"PINN variants (Hao et al. 2024, PINNacle, Table 3, Wave 1d-C)": "figure not confirmed here (see the paper)"},
        closed_form=wave1d_solution,
        secrets=("cos(2*pi*t)", "cos(8*pi*t)", "sin(pi*x)*cos(", "sin(4*pi*x)*cos("),
    ),
    "klein_gordon1d": SuiteProblem(
        name="klein_gordon1d",
        pde=KLEIN_GORDON_SPEC,
        query=unit_space_time_query,
        targets=_closed(klein_gordon1d_solution),
        description=_klein_gordon_description,
        literature={
            "PINN and learning-rate annealing (Wang, Teng & Perdikaris 2021, Klein-Gordon example)": (
                "figure not confirmed here (see the paper)"
            )
        },
        closed_form=klein_gordon1d_solution,
        secrets=("x*cos(5*pi*t)+(x*t)**3", "x*cos(5*pi*t)+x**3*t**3", "u=x*cos("),
    ),
    "reaction_diffusion1d": SuiteProblem(
        name="reaction_diffusion1d",
        pde=RD_SPEC,
        query=lambda: space_time_grid(*rd_axes()),
        targets=lambda query: rd_reference().ravel(),
        description=_rd_description,
        literature={
            "PINN (Krishnapriyan et al. 2021, reaction-diffusion)": (
                f"not confirmed for this setting (nu = {RD_NU:g}, rho = {RD_RHO:g})"
            )
        },
    ),
    "kdv1d": SuiteProblem(
        name="kdv1d",
        pde=KDV_SPEC,
        query=lambda: space_time_grid(*kdv_axes()),
        targets=lambda query: kdv_reference().ravel(),
        description=_kdv_description,
        literature={
            "PINN (Raissi, Perdikaris & Karniadakis 2019, KdV)": (
                "not reported for this setting (the paper identifies the coefficients from data)"
            )
        },
    ),
    "poisson2d_holes": SuiteProblem(
        name="poisson2d_holes",
        pde=HOLES_SPEC,
        query=holes_query,
        targets=lambda query: holes_reference(),
        description=_holes_description,
        literature={"PINN (no published study of this geometry)": "not reported for this setting"},
    ),
}


# ------------------------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------------------------
def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An ``.npz`` (deflated) with fixed member timestamps, so equal arrays give byte-identical files."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array, dtype=np.float64), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


def make(name: str, root: Path) -> Path:
    problem = PROBLEMS[name]
    query = problem.query()
    targets = np.asarray(problem.targets(query), dtype=np.float64)
    if targets.shape != (len(query),):
        raise RuntimeError(f"{name}: targets have shape {targets.shape}, expected ({len(query)},)")
    config = {
        "name": name,
        "kind": "pinn",
        "metric": "rel_l2",
        "budget": dict(BUDGET),
        "pde": problem.pde,
        "literature": problem.literature,
    }
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    header = "# PDE suite problem (generated by benchmarks/pde_suite/make_suite.py; do not edit by hand).\n"
    (directory / "problem.yaml").write_text(header + yaml.safe_dump(config, sort_keys=False, width=120))
    (directory / "description.md").write_text(problem.description(len(query)))
    write_npz(directory / "data.npz", {"query_x": query, "targets": targets})
    return directory


def make_all(root: Path = SUITE_DIR) -> list[Path]:
    return [make(name, Path(root)) for name in PROBLEMS]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else SUITE_DIR
    for path in make_all(target):
        print(path)
