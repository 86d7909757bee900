"""Each built-in's reference checked against a property that does not rely on how it was computed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.integrate import simpson

from problems.builtin.allen_cahn1d import AllenCahn1DProblem, reference
from problems.builtin.antiderivative import AntiderivativeProblem
from problems.builtin.burgers1d import Burgers1DProblem
from problems.builtin.convection1d import Convection1DProblem
from problems.builtin.discontinuous_fit1d import DiscontinuousFit1DProblem, target_function
from problems.builtin.helmholtz2d import Helmholtz2DProblem
from problems.solvers.burgers import burgers_cole_hopf, burgers_trapezoid
from problems.solvers.grf import RBFField


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("problem-cache")


# ------------------------------------------------------------------------------------------------ convection
def test_convection_targets_satisfy_the_pde_through_the_pde_class(cache):
    problem = Convection1DProblem()
    data = problem.load(cache)
    pde = problem.build_pde()
    beta = pde.params["beta"]
    x = torch.as_tensor(data.query_inputs["x"], dtype=torch.float64).requires_grad_(True)
    u = torch.sin(x[:, 0:1] - beta * x[:, 1:2])  # the closed form as a torch function
    assert pde.residual(x, u).abs().max().item() < 1e-11
    np.testing.assert_allclose(data.targets, u.detach().numpy()[:, 0], rtol=0, atol=1e-13)
    grid = data.targets.reshape(100, 256)
    np.testing.assert_allclose(grid[0], np.sin(data.query_inputs["x"][:256, 0]), atol=1e-15)  # u(x, 0)
    # periodic: the (excluded) point x = 2 pi would repeat x = 0
    t = data.query_inputs["x"][::256, 1]
    np.testing.assert_allclose(np.sin(2 * np.pi - beta * t), grid[:, 0], atol=1e-12)


# --------------------------------------------------------------------------------------------------- burgers
def test_burgers_quadrature_orders_and_trapezoid_agree(cache):
    problem = Burgers1DProblem()
    data = problem.load(cache)
    nu = problem.params["nu"]
    x, t = data.query_inputs["x"][:, 0], data.query_inputs["x"][:, 1]
    low_order = burgers_cole_hopf(x, t, nu, order=100)
    assert np.abs(low_order - data.targets).max() < 1e-12
    # an independent rule on the points with the steepest layer (late times, near x = 0)
    near = (np.abs(x) < 0.1) & (t > 0.3)
    trapezoid = burgers_trapezoid(x[near], t[near], nu, spacing=0.03, half_width=15.0)
    assert np.abs(trapezoid - data.targets[near]).max() < 1e-12
    # conditions
    grid = data.targets.reshape(100, 256)
    np.testing.assert_allclose(grid[0], -np.sin(np.pi * data.query_inputs["x"][:256, 0]), atol=1e-15)
    assert np.abs(grid[:, [0, -1]]).max() < 1e-12


def _burgers_fd_residual(x: np.ndarray, t: float, nu: float, h: float) -> tuple[float, float]:
    """Max |u_t + u u_x - nu u_xx| by 4th-order central differences, and the size of u u_x."""
    stencil = np.arange(-2, 3)[:, None]
    u_x_line = burgers_cole_hopf(x[None, :] + h * stencil, t, nu)
    u_t_line = burgers_cole_hopf(np.broadcast_to(x, (5, len(x))), t + h * stencil, nu)
    u = u_x_line[2]
    u_x = (u_x_line[0] - 8 * u_x_line[1] + 8 * u_x_line[3] - u_x_line[4]) / (12 * h)
    u_xx = (-u_x_line[0] + 16 * u_x_line[1] - 30 * u_x_line[2] + 16 * u_x_line[3] - u_x_line[4]) / (12 * h**2)
    u_t = (u_t_line[0] - 8 * u_t_line[1] + 8 * u_t_line[3] - u_t_line[4]) / (12 * h)
    return float(np.abs(u_t + u * u_x - nu * u_xx).max()), float(np.abs(u * u_x).max())


@pytest.mark.parametrize("t", [0.35, 0.6, 0.95])
def test_burgers_reference_satisfies_the_pde_by_finite_differences(t):
    nu = Burgers1DProblem.params["nu"]
    x = np.concatenate([np.linspace(-0.95, 0.95, 96), np.linspace(-0.02, 0.02, 81)])  # dense across the layer
    coarse, _ = _burgers_fd_residual(x, t, nu, 5e-4)
    fine, scale = _burgers_fd_residual(x, t, nu, 2.5e-4)
    assert scale > 10  # the terms are large at the layer...
    assert fine < 1e-5 * scale  # ...and cancel to finite-difference accuracy
    assert coarse / fine > 10  # with the 4th-order convergence of the stencil (16x per halving)


# ------------------------------------------------------------------------------------------------- helmholtz
def test_helmholtz_manufactured_solution_has_rounding_level_residual(cache):
    problem = Helmholtz2DProblem()
    data = problem.load(cache)
    pde = problem.build_pde()
    x = torch.as_tensor(data.query_inputs["x"], dtype=torch.float64).requires_grad_(True)
    u = torch.sin(math.pi * x[:, 0:1]) * torch.sin(4 * math.pi * x[:, 1:2])
    assert pde.residual(x, u).abs().max().item() < 1e-12 * 200
    np.testing.assert_allclose(data.targets, u.detach().numpy()[:, 0], rtol=0, atol=1e-15)
    on_boundary = np.isclose(np.abs(data.query_inputs["x"]), 1.0).any(axis=1)
    assert on_boundary.sum() == 4 * 100 and np.abs(data.targets[on_boundary]).max() < 1e-14


# ------------------------------------------------------------------------------------------------ allen-cahn
def test_allen_cahn_reference_is_converged_and_matches_the_initial_condition(cache):
    problem = AllenCahn1DProblem()
    data = problem.load(cache)
    p = problem.params
    grid = data.targets.reshape(p["nt"], p["nx"])
    # a coarser grid and 2.5x larger time step agree with the production reference
    _, _, coarse = reference(p, n_fine=2048, dt=2.5e-3)
    assert np.abs(coarse - grid).max() < 1e-6
    x = data.query_inputs["x"][: p["nx"], 0]
    np.testing.assert_allclose(grid[0], x**2 * np.cos(np.pi * x), atol=1e-15)
    # the initial condition is even and the equation is reflection-symmetric: u(-x, t) = u(x, t)
    mirrored = grid[:, (-np.arange(p["nx"])) % p["nx"]]
    assert np.abs(mirrored - grid).max() < 1e-10
    # phases: bounded by the stable states, and both phases present at t = 1
    assert np.abs(grid).max() < 1 + 1e-6
    assert grid[-1].max() > 0.99 and grid[-1].min() < -0.99


@pytest.mark.slow
def test_allen_cahn_reference_against_a_much_finer_solve():
    p = AllenCahn1DProblem.params
    _, _, production = reference(p)
    _, _, fine = reference(p, n_fine=8192, dt=5e-4)
    assert np.abs(production - fine).max() < 1e-8


# -------------------------------------------------------------------------------------------- discontinuous
def test_discontinuous_fit_has_a_jump_and_the_documented_noise(cache):
    problem = DiscontinuousFit1DProblem()
    data = problem.load(cache)
    p = problem.params
    x = data.query_inputs["x"][:, 0]
    steps = np.abs(np.diff(data.targets))
    jump = int(np.argmax(steps))
    assert steps[jump] > 0.5 and x[jump] < p["jump_at"] <= x[jump + 1]
    assert np.delete(steps, jump).max() < 0.05  # elsewhere the function is continuous on this grid
    residual = data.train["y"] - target_function(data.train["x"][:, 0], p["jump_at"])
    assert 0.75 * p["noise_std"] < residual.std() < 1.25 * p["noise_std"]
    assert abs(residual.mean()) < 3 * p["noise_std"] / math.sqrt(p["n_train"])
    assert (data.train["x"][:, 0] < p["jump_at"]).sum() > 20 and (
        data.train["x"][:, 0] > p["jump_at"]
    ).sum() > 20


# ------------------------------------------------------------------------------------------- antiderivative
def test_grf_antiderivative_is_exact_against_quadrature():
    field = RBFField()
    assert field.covariance_error(np.linspace(0, 1, 101)) < 1e-9
    nodes, weights = np.polynomial.legendre.leggauss(64)
    y = np.linspace(0.0, 1.0, 37)
    quadrature = np.stack([(b / 2 * weights) @ field.basis(b / 2 * (nodes + 1)) for b in y])
    assert np.abs(field.integral_basis(y) - quadrature).max() < 1e-10


def test_grf_integral_of_a_single_gaussian_is_its_erf_closed_form():
    field = RBFField(length_scale=0.2)
    # the antiderivative of the kernel centred at 0.3, integrated from 0, via the basis machinery
    centre, y = 0.3, np.linspace(0, 1, 11)
    gaussian = field.kernel(np.array([centre]), field.centres)[0]
    coefficients = np.linalg.lstsq(field.basis(field.centres), gaussian, rcond=None)[0]
    closed = (
        0.2
        * math.sqrt(math.pi / 2)
        * np.array(
            [
                math.erf((b - centre) / (math.sqrt(2) * 0.2)) + math.erf(centre / (math.sqrt(2) * 0.2))
                for b in y
            ]
        )
    )
    assert np.abs(field.integral_basis(y) @ coefficients - closed).max() < 1e-6


def test_antiderivative_targets_are_consistent_with_the_sensor_values(cache):
    problem = AntiderivativeProblem()
    data = problem.load(cache)
    u, s, y = data.train["u"], data.train["s"], data.train["y"][:, 0]
    np.testing.assert_array_equal(data.train["sensors"], y)  # here the outputs sit at the sensors
    assert np.abs(s[:, 0]).max() == 0.0  # s(0) = 0
    # derivative of s by 4th-order differences (interior) matches u at the sensors
    h = y[1] - y[0]
    ds = (s[:, :-4] - 8 * s[:, 1:-3] + 8 * s[:, 3:-1] - s[:, 4:]) / (12 * h)
    assert np.abs(ds - u[:, 2:-2]).max() < 2e-3 * np.abs(u).max()
    # s(1) by Simpson's rule on the sensor values
    integral = simpson(u, x=y, axis=1)
    assert np.abs(integral - s[:, -1]).max() < 1e-4
    # same story for the held-out functions and the hidden targets
    integral_test = simpson(data.query_inputs["u"], x=y, axis=1)
    assert np.abs(integral_test - data.targets[:, -1]).max() < 1e-4
    # unit-variance field
    assert 0.85 < u.var() < 1.15
