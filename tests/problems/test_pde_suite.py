"""The PDE benchmark suite (``benchmarks/pde_suite``): every problem loads and compiles, its hidden reference
solves the PDE (closed forms through the compiled residual, numerical references against independent solvers
and finite-difference residuals on the query grid), descriptions do not give the solution away, and the
generator is deterministic."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.pde_suite import make_suite as suite
from problems.registry import BUILTINS, get_problem
from problems.user import read_npz_checked
from sandbox.runtime.pde import build_pde

SUITE = Path(suite.__file__).resolve().parent
NAMES = list(suite.PROBLEMS)
CLOSED = [name for name, p in suite.PROBLEMS.items() if p.closed_form is not None]


def _load(name: str):
    problem = get_problem(SUITE / name)
    return problem, problem.load()


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# --- (a) loading ---------------------------------------------------------------------------------------------
def test_suite_has_the_expected_problems_and_no_builtin():
    assert len(NAMES) >= 6
    assert not set(NAMES) & set(BUILTINS)
    assert sorted(p.name for p in SUITE.iterdir() if (p / "problem.yaml").is_file()) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_problem_loads_and_its_spec_builds(name):
    problem, data = _load(name)
    assert problem.name == name and problem.spec.kind == "pinn" and problem.spec.metric == "rel_l2"
    assert problem.spec.budget.device == "cpu" and problem.spec.literature
    pde = problem.build_pde()
    assert pde.to_spec() == build_pde(problem.spec.pde).to_spec() == build_pde(suite.PROBLEMS[name].pde).to_spec()
    query = data.query_inputs["x"]
    assert data.train == {}  # candidates sample their own points from the spec
    assert query.shape == (len(data.targets), pde.dim) and 2_000 <= len(query) <= 25_000
    assert pde.contains(query).all() and np.isfinite(data.targets).all()
    assert (SUITE / name / "data.npz").stat().st_size < 3 * 1024 * 1024
    assert f"({len(query)}, {pde.dim})" in problem.spec.description and f"({len(query)},)" in problem.spec.description


# --- (b) closed forms: the compiled residual and conditions vanish, the targets are the closed form -----------
@pytest.mark.parametrize("name", CLOSED)
def test_closed_form_solves_the_compiled_pde(name):
    problem, data = _load(name)
    pde = problem.build_pde()
    exact = suite.PROBLEMS[name].closed_form

    def u(x: torch.Tensor) -> torch.Tensor:
        return exact(x, torch).reshape(-1, 1)

    x = torch.as_tensor(pde.sample_interior(2000, 0), dtype=torch.float64).requires_grad_(True)
    residual = pde.residual(x, u(x)).abs().max().item()
    assert residual < 1e-9, residual
    wrong = pde.residual(x, u(x) * 1.01 + 0.01 * x[:, -1:] ** 2).abs().max().item()
    assert wrong > 1e-3, wrong  # the check has teeth
    for condition in pde.conditions:
        xb = torch.as_tensor(condition.sample(400, 1), dtype=torch.float64).requires_grad_(True)
        assert condition.holds_on(xb.detach().numpy()).all()
        assert condition.residual(xb, u(xb)).abs().max().item() < 1e-10, condition.describe()

    query = data.query_inputs["x"]
    np.testing.assert_allclose(data.targets, exact(query, np), rtol=0, atol=1e-12)


# --- (b) numerical references --------------------------------------------------------------------------------
def _trig_eval(grid_values: np.ndarray, x0: float, length: float, xq: np.ndarray) -> np.ndarray:
    """Trigonometric interpolation from rfft coefficients (an implementation separate from the generator's)."""
    n = grid_values.shape[-1]
    coeff = np.fft.rfft(grid_values, axis=-1) / n
    theta = 2 * np.pi * (xq - x0) / length
    m = np.arange(coeff.shape[-1])
    weights = np.where((m == 0) | ((n % 2 == 0) & (m == n // 2)), 1.0, 2.0)
    if n % 2 == 0:
        weights[-1] = 0.0
    basis = np.exp(1j * np.outer(m, theta))
    return np.real((coeff * weights) @ basis)


def _if_rk4(rhs_hat, linear: np.ndarray, v: np.ndarray, dt: float, steps: int) -> np.ndarray:
    """Integrating-factor RK4 for ``v' = linear v + rhs_hat(v)`` in Fourier space (linear part exact)."""
    half, full = np.exp(linear * dt / 2), np.exp(linear * dt)
    for _ in range(steps):
        k1 = rhs_hat(v)
        k2 = rhs_hat(half * (v + dt / 2 * k1))
        k3 = rhs_hat(half * v + dt / 2 * k2)
        k4 = rhs_hat(full * v + dt * half * k3)
        v = full * v + dt / 6 * (full * k1 + 2 * half * (k2 + k3) + k4)
    return v


def _space_time(name: str):
    problem, data = _load(name)
    query = data.query_inputs["x"]
    x_axis, t_axis = np.unique(query[:, 0]), np.unique(query[:, 1])
    u = data.targets.reshape(len(t_axis), len(x_axis))
    np.testing.assert_array_equal(query.reshape(len(t_axis), len(x_axis), 2)[0, :, 0], x_axis)
    return problem, x_axis, t_axis, u


def test_reaction_diffusion_reference_matches_an_independent_solver():
    problem, x_axis, t_axis, u = _space_time("reaction_diffusion1d")
    nu, rho = problem.build_pde().params["nu"], problem.build_pde().params["rho"]
    n, dt = 256, 1e-3
    x = 2 * np.pi * np.arange(n) / n
    linear = -nu * np.fft.fftfreq(n, 1.0 / n) ** 2
    reaction = lambda v: np.fft.fft(rho * (w := np.real(np.fft.ifft(v))) * (1 - w))  # noqa: E731
    v = np.fft.fft(np.exp(-((x - np.pi) ** 2) / (2 * (np.pi / 4) ** 2)))
    rows, per_output = [np.real(np.fft.ifft(v))], round((t_axis[1] - t_axis[0]) / dt)
    for _ in t_axis[1:]:
        v = _if_rk4(reaction, linear, v, dt, per_output)
        rows.append(np.real(np.fft.ifft(v)))
    independent = _trig_eval(np.array(rows), 0.0, 2 * np.pi, x_axis)
    assert np.abs(independent[1:] - u[1:]).max() < 3e-6
    np.testing.assert_allclose(u[0], np.exp(-((x_axis - np.pi) ** 2) / (2 * (np.pi / 4) ** 2)), atol=1e-14)


def _fourth_order_differences(u: np.ndarray, dx: float, dt: float) -> dict[str, np.ndarray]:
    """Fourth-order central differences on a (t, x) grid, x periodic; rows 2..-2 (time needs two neighbours)."""
    shift = lambda s: np.roll(u, -s, 1)  # noqa: E731 - the value at x_{j+s}
    rows = slice(2, -2)
    return {
        "u": u[rows],
        "u_t": (-u[4:] + 8 * u[3:-1] - 8 * u[1:-3] + u[:-4]) / (12 * dt),
        "u_x": ((-shift(2) + 8 * shift(1) - 8 * shift(-1) + shift(-2)) / (12 * dx))[rows],
        "u_xx": ((-shift(2) + 16 * shift(1) - 30 * u + 16 * shift(-1) - shift(-2)) / (12 * dx**2))[rows],
        "u_xxx": ((-shift(3) + 8 * shift(2) - 13 * shift(1) + 13 * shift(-1) - 8 * shift(-2) + shift(-3)) / (8 * dx**3))[rows],
    }


def test_reaction_diffusion_reference_has_a_small_finite_difference_residual():
    problem, x_axis, t_axis, u = _space_time("reaction_diffusion1d")
    pde = problem.build_pde()
    np.testing.assert_allclose(u[:, -1], u[:, 0], atol=1e-12)  # the last column repeats x = 0
    d = _fourth_order_differences(u[:, :-1], x_axis[1] - x_axis[0], t_axis[1] - t_axis[0])

    def residual(nu: float, rho: float) -> float:
        return float(np.abs(d["u_t"] - nu * d["u_xx"] - rho * d["u"] * (1 - d["u"])).max())

    scale = np.abs(d["u_t"]).max()
    assert residual(pde.params["nu"], pde.params["rho"]) < 1e-3 * scale
    assert residual(pde.params["nu"], 0.9 * pde.params["rho"]) > 2e-2 * scale  # a wrong rho is detected
    assert residual(1.1 * pde.params["nu"], pde.params["rho"]) > 2e-2 * scale


def test_kdv_reference_matches_an_independent_solver():
    problem, x_axis, t_axis, u = _space_time("kdv1d")
    delta = problem.build_pde().params["delta"]
    n, dt = 256, 5e-4
    x = -1 + 2 * np.arange(n) / n
    modes = np.fft.fftfreq(n, 1.0 / n)
    k = np.pi * modes
    linear = 1j * delta * k**3
    keep = np.abs(modes) < n / 3
    advection = lambda v: -0.5j * k * keep * np.fft.fft(np.real(np.fft.ifft(v)) ** 2)  # noqa: E731
    v = np.fft.fft(np.cos(np.pi * x))
    rows, per_output = [np.real(np.fft.ifft(v))], round((t_axis[1] - t_axis[0]) / dt)
    for _ in t_axis[1:]:
        v = _if_rk4(advection, linear, v, dt, per_output)
        rows.append(np.real(np.fft.ifft(v)))
    independent = _trig_eval(np.array(rows), -1.0, 2.0, x_axis)
    assert _rel(independent, u) < 1e-7
    assert np.abs(u).max() > 2.0  # solitons taller than the initial amplitude have formed


def test_kdv_reference_has_a_small_finite_difference_residual():
    problem, x_axis, t_axis, u = _space_time("kdv1d")
    delta = problem.build_pde().params["delta"]
    np.testing.assert_allclose(u[:, -1], u[:, 0], atol=1e-12)
    d = _fourth_order_differences(u[:, :-1], x_axis[1] - x_axis[0], t_axis[1] - t_axis[0])

    def residual(dispersion: float, nonlinearity: float = 1.0) -> float:
        return float(np.abs(d["u_t"] + nonlinearity * d["u"] * d["u_x"] + dispersion * d["u_xxx"]).max())

    scale = np.abs(d["u_t"]).max()
    assert residual(delta) < 0.02 * scale
    assert residual(1.2 * delta) > 0.5 * scale and residual(delta, 1.1) > 0.1 * scale


def _holes_grid():
    problem, data = _load("poisson2d_holes")
    n = suite.HOLES_QUERY
    full = suite.holes_query_full()
    kept = ~suite.in_hole(full)
    np.testing.assert_array_equal(data.query_inputs["x"], full[kept])
    grid = np.full(n * n, np.nan)
    grid[kept] = data.targets
    return problem, grid.reshape(n, n), 1.0 / (n - 1)  # [iy, ix]


def test_poisson_holes_reference_converges_under_refinement():
    _, grid, _ = _holes_grid()
    coarse = suite.poisson_holes_on_query((100, 200))
    inside = np.isfinite(grid)
    assert _rel(coarse[inside], grid[inside]) < 1e-4
    assert _rel(suite.poisson_holes_on_query((100,))[inside], grid[inside]) < 5e-3


def test_poisson_holes_reference_satisfies_the_pde_and_conditions_by_finite_differences():
    problem, u, h = _holes_grid()
    n = len(u)
    axis = np.linspace(0, 1, n)
    # Dirichlet on the outer square
    assert np.abs(np.concatenate([u[0], u[-1], u[:, 0], u[:, -1]])).max() < 1e-14
    # the 5-point residual at interior nodes off the hole faces, away from the corners (hole corners are
    # singular; the outer corners carry a mild r^2 log r term)
    corners = np.array([(x, y) for xs, ys in suite.HOLES + (((0, 1), (0, 1)),) for x in xs for y in ys])
    lap = np.full_like(u, np.nan)
    lap[1:-1, 1:-1] = (u[1:-1, 2:] + u[1:-1, :-2] + u[2:, 1:-1] + u[:-2, 1:-1] - 4 * u[1:-1, 1:-1]) / h**2
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    on_face = np.zeros_like(u, dtype=bool)
    for (x0, x1), (y0, y1) in suite.HOLES:
        box = (xx >= x0 - 1e-12) & (xx <= x1 + 1e-12) & (yy >= y0 - 1e-12) & (yy <= y1 + 1e-12)
        on_face |= box
    far = np.min(np.hypot(xx[..., None] - corners[:, 0], yy[..., None] - corners[:, 1]), axis=-1) > 0.07
    interior = np.isfinite(lap) & ~on_face & far
    assert interior.sum() > 5000
    residual = np.abs(-lap[interior] - 1.0)
    assert residual.max() < 0.015 and residual.mean() < 1.5e-3
    assert np.abs(-1.02 * lap[interior] - 1.0).mean() > 1e-2  # a 2% error would be detected
    # zero normal derivative on the hole faces: second-order one-sided differences into the domain
    normal_derivatives = []
    for (x0, x1), (y0, y1) in suite.HOLES:
        i0, i1, j0, j1 = (round(v / h) for v in (y0, y1, x0, x1))
        inner_y, inner_x = slice(i0 + 2, i1 - 1), slice(j0 + 2, j1 - 1)  # skip nodes next to corners
        normal_derivatives += [
            (-3 * u[inner_y, j0] + 4 * u[inner_y, j0 - 1] - u[inner_y, j0 - 2]) / (2 * h),
            (-3 * u[inner_y, j1] + 4 * u[inner_y, j1 + 1] - u[inner_y, j1 + 2]) / (2 * h),
            (-3 * u[i0, inner_x] + 4 * u[i0 - 1, inner_x] - u[i0 - 2, inner_x]) / (2 * h),
            (-3 * u[i1, inner_x] + 4 * u[i1 + 1, inner_x] - u[i1 + 2, inner_x]) / (2 * h),
        ]
    gradient_scale = np.nanmax(np.abs(np.diff(u, axis=1))) / h
    assert np.abs(np.concatenate(normal_derivatives)).max() < 0.03 * gradient_scale


# --- (c) descriptions do not give the solution away ----------------------------------------------------------
def _normalise(text: str) -> str:
    return re.sub(r"[\s*^]", "", text.lower())


@pytest.mark.parametrize("name", NAMES)
def test_description_does_not_leak_the_solution(name):
    problem, _ = _load(name)
    text = _normalise(problem.spec.description)
    for secret in suite.PROBLEMS[name].secrets:
        assert _normalise(secret) not in text, secret
    for phrase in ("exactsolution", "analyticalsolution", "analyticsolution", "closedform", "closed-form"):
        assert phrase not in text, phrase
    assert "make_suite" not in text and "targets" not in text


def test_secrets_are_real_formula_fragments():
    """The leak check looks for strings that do describe each closed form (so it is not vacuous)."""
    points = np.random.default_rng(0).uniform(0.1, 0.9, (50, 5))
    heat = points[:, :3] * [1, 1, 5]
    rate = float(re.search(r"exp\(-([0-9.]+)", suite.PROBLEMS["heat2d_multiscale"].secrets[0]).group(1))
    np.testing.assert_allclose(
        suite.heat2d_multiscale_solution(heat),
        np.sin(20 * math.pi * heat[:, 0]) * np.sin(math.pi * heat[:, 1]) * np.exp(-rate * heat[:, 2]),
    )
    x, t = points[:, 0], points[:, 1]
    np.testing.assert_allclose(suite.klein_gordon1d_solution(points[:, :2]), x * np.cos(5 * math.pi * t) + (x * t) ** 3)
    np.testing.assert_allclose(
        suite.wave1d_solution(points[:, :2]),
        np.sin(math.pi * x) * np.cos(2 * math.pi * t) + 0.5 * np.sin(4 * math.pi * x) * np.cos(8 * math.pi * t),
    )
    np.testing.assert_allclose(suite.poisson5d_solution(points), np.sin(math.pi * points / 2).sum(1))


# --- (d) determinism -----------------------------------------------------------------------------------------
def test_generator_is_deterministic_and_matches_the_committed_files(tmp_path):
    """Two runs give byte-identical files; the committed files match up to the last bits that FFTs and libm
    may round differently on another CPU (so the check holds on any machine, not only the one that wrote them)."""
    first, second = tmp_path / "a", tmp_path / "b"
    suite.make_all(first)
    suite.make_all(second)
    for name in NAMES:
        for file in ("problem.yaml", "description.md", "data.npz"):
            assert (first / name / file).read_bytes() == (second / name / file).read_bytes(), f"{name}/{file}"
        for file in ("problem.yaml", "description.md"):
            assert (first / name / file).read_bytes() == (SUITE / name / file).read_bytes(), f"{name}/{file}"
        a, b = read_npz_checked(first / name / "data.npz"), read_npz_checked(SUITE / name / "data.npz")
        assert a.keys() == b.keys() == {"query_x", "targets"}
        np.testing.assert_array_equal(a["query_x"], b["query_x"])
        np.testing.assert_allclose(a["targets"], b["targets"], rtol=0, atol=1e-12 * np.abs(b["targets"]).max())
        assert get_problem(first / name).fingerprint() == get_problem(second / name).fingerprint()
