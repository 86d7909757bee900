"""The candidate-facing PDE classes: residuals on closed forms, samplers, helpers, serialisation."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sandbox.runtime.pde import PDES, AllenCahn1D, Burgers1D, Convection1D, Helmholtz2D, build_pde, gradient

PDE_FILE = Path(__file__).resolve().parents[2] / "sandbox" / "runtime" / "pde.py"


def _points(pde, n: int, dtype=torch.float64, seed: int = 0) -> torch.Tensor:
    return torch.as_tensor(pde.sample_interior(n, seed), dtype=dtype).requires_grad_(True)


def test_gradient_helper_matches_hand_derivatives():
    x = torch.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=torch.float64, requires_grad=True)
    u = (x[:, 0:1] ** 2) * x[:, 1:2]
    grad = gradient(u, x)
    expected = torch.stack([2 * x[:, 0] * x[:, 1], x[:, 0] ** 2], dim=1)
    assert torch.allclose(grad, expected)
    # u independent of x: zeros, not an exception
    assert torch.equal(gradient(torch.ones(2, 1), x), torch.zeros_like(x))


def test_convection_residual_vanishes_on_exact_solution_only():
    pde = Convection1D(beta=30.0)
    x = _points(pde, 500)
    exact = torch.sin(x[:, 0:1] - 30.0 * x[:, 1:2])
    assert pde.residual(x, exact).abs().max().item() < 1e-12
    wrong = torch.sin(x[:, 0:1] - 20.0 * x[:, 1:2])
    # residual of the wrong speed is (30 - 20) cos(...): order 10
    assert pde.residual(x, wrong).abs().max().item() > 5.0


def test_burgers_residual_on_steady_viscous_shock():
    nu = 0.05
    pde = Burgers1D(nu=nu)
    x = _points(pde, 500)
    shock = -torch.tanh(x[:, 0:1] / (2 * nu))  # u u_x = nu u_xx exactly, and u_t = 0
    assert pde.residual(x, shock).abs().max().item() < 1e-10
    assert pde.residual(x, -torch.tanh(x[:, 0:1] / nu)).abs().max().item() > 1.0


def test_helmholtz_residual_on_manufactured_solution_is_rounding_level():
    pde = Helmholtz2D()
    x = _points(pde, 2000)
    u = torch.sin(math.pi * x[:, 0:1]) * torch.sin(4 * math.pi * x[:, 1:2])
    residual = pde.residual(x, u)
    assert residual.shape == (2000, 1)
    assert residual.abs().max().item() < 1e-12 * 200  # terms are of size (4 pi)^2 ~ 160
    assert pde.residual(x, 1.01 * u).abs().max().item() > 0.5


def test_allen_cahn_residual_on_stationary_kink():
    d, rho = 0.01, 1.0
    pde = AllenCahn1D(diffusion=d, reaction=rho)
    x = _points(pde, 500)
    kink = torch.tanh(x[:, 0:1] * math.sqrt(rho / (2 * d)))  # d u_xx + rho (u - u^3) = 0
    assert pde.residual(x, kink).abs().max().item() < 1e-12
    assert pde.residual(x, torch.tanh(x[:, 0:1] * 3.0)).abs().max().item() > 0.1


@pytest.mark.parametrize("name", sorted(PDES))
def test_residual_works_in_float32_with_a_network_and_backpropagates(name):
    pde = build_pde({"name": name})
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(pde.dim, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    x = _points(pde, 64, dtype=torch.float32)
    residual = pde.residual(x, net(x))
    assert residual.shape == (64, 1) and residual.dtype == torch.float32
    residual.pow(2).mean().backward()
    first = net[0].weight.grad  # (the output bias may get no gradient: the residual can ignore constants)
    assert first is not None and torch.isfinite(first).all() and first.abs().sum() > 0


def test_residual_rejects_inputs_without_grad_and_wrong_shapes():
    pde = Convection1D()
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="requires_grad"):
        pde.residual(x, x[:, :1])
    x3 = torch.zeros(4, 3, requires_grad=True)
    with pytest.raises(ValueError, match="shape"):
        pde.residual(x3, x3[:, :1])


@pytest.mark.parametrize("name", sorted(PDES))
def test_samplers_stay_in_bounds_and_are_reproducible(name):
    pde = build_pde({"name": name})
    low, high = pde.bounds[:, 0], pde.bounds[:, 1]
    for sampler in (pde.sample_interior, pde.sample_boundary, pde.sample_initial):
        points = sampler(300, np.random.default_rng(1))
        assert points.dtype == np.float64 and points.ndim == 2 and points.shape[1] == pde.dim
        assert np.all(points >= low) and np.all(points <= high)
        np.testing.assert_array_equal(points, sampler(300, np.random.default_rng(1)))
    interior = pde.sample_interior(300, 2)
    assert interior.shape == (300, pde.dim)


def test_boundary_and_initial_samplers_put_points_where_the_conditions_live():
    burgers = Burgers1D()
    boundary = burgers.sample_boundary(400, 0)
    assert boundary.shape == (400, 2) and set(np.unique(boundary[:, 0])) == {-1.0, 1.0}
    assert np.all(burgers.boundary_values(boundary) == 0)
    initial = burgers.sample_initial(100, 0)
    assert np.all(initial[:, 1] == 0.0)
    np.testing.assert_allclose(burgers.initial_values(initial)[:, 0], -np.sin(np.pi * initial[:, 0]))

    helmholtz = Helmholtz2D()
    edge = helmholtz.sample_boundary(1000, 0)
    on_edge = np.isclose(np.abs(edge), 1.0).any(axis=1)
    assert on_edge.all()
    counts = [np.sum(np.isclose(np.abs(edge[:, j]), 1.0)) for j in range(2)]
    assert min(counts) > 400  # both pairs of edges are used, in proportion to their length
    assert helmholtz.sample_initial(10, 0).shape == (0, 2)

    # periodic problems have no Dirichlet boundary
    convection = Convection1D()
    assert convection.sample_boundary(10, 0).shape == (0, 2)
    with pytest.raises(ValueError, match="no Dirichlet"):
        convection.boundary_values(np.zeros((3, 2)))


def test_initial_values_agree_between_numpy_and_torch():
    for pde in (Convection1D(), Burgers1D(), AllenCahn1D()):
        points = pde.sample_initial(50, 0)
        numpy_values = pde.initial_values(points)
        torch_values = pde.initial_values(torch.as_tensor(points))
        assert numpy_values.shape == (50, 1) and isinstance(torch_values, torch.Tensor)
        np.testing.assert_allclose(torch_values.numpy(), numpy_values, rtol=0, atol=1e-15)
    ac = AllenCahn1D()
    np.testing.assert_allclose(ac.initial_values(np.array([[0.5, 0.0]])), [[0.25 * math.cos(math.pi / 2)]])
    with pytest.raises(ValueError, match="steady"):
        Helmholtz2D().initial_values(np.zeros((1, 2)))


def test_boundary_distance_vanishes_on_the_boundary_and_is_positive_inside():
    for pde in (Burgers1D(), Helmholtz2D()):
        assert np.abs(pde.boundary_distance(pde.sample_boundary(200, 0))).max() < 1e-15
        inside = pde.boundary_distance(pde.sample_interior(200, 0))
        assert inside.shape == (200, 1) and np.all(inside > 0)
    with pytest.raises(ValueError):
        Convection1D().boundary_distance(np.zeros((1, 2)))


@pytest.mark.parametrize("pde", [Convection1D(), AllenCahn1D()])
def test_periodic_embedding_is_periodic(pde):
    points = pde.sample_interior(100, 0)
    shifted = points.copy()
    shifted[:, 0] += pde.period("x")
    a = pde.periodic_embedding(torch.as_tensor(points), harmonics=3)
    b = pde.periodic_embedding(torch.as_tensor(shifted), harmonics=3)
    assert a.shape == (100, 2 * 3 + 1)
    assert torch.allclose(a, b, atol=1e-12)
    assert np.allclose(pde.periodic_embedding(points, 3), a.numpy())
    # the time column is kept, last
    assert torch.equal(a[:, -1], torch.as_tensor(points[:, 1]))


@pytest.mark.parametrize("name", sorted(PDES))
def test_spec_round_trip(name):
    pde = build_pde({"name": name})
    spec = pde.to_spec()
    assert json.loads(json.dumps(spec)) == spec
    rebuilt = build_pde(spec)
    assert type(rebuilt) is type(pde) and rebuilt.params == pde.params
    np.testing.assert_array_equal(rebuilt.bounds, pde.bounds)
    assert rebuilt.variables[-1] == (rebuilt.time_variable or rebuilt.variables[-1])
    assert name in pde.describe()


def test_build_pde_rejects_bad_specs():
    with pytest.raises(ValueError, match="unknown PDE"):
        build_pde({"name": "navier_stokes"})
    with pytest.raises(ValueError, match="unknown parameter"):
        build_pde({"name": "convection", "params": {"speed": 3}})
    with pytest.raises(TypeError, match="number"):
        build_pde({"name": "burgers", "params": {"nu": "small"}})
    with pytest.raises(ValueError, match="finite"):
        build_pde({"name": "burgers", "params": {"nu": float("nan")}})
    with pytest.raises(ValueError, match="integer"):
        build_pde({"name": "helmholtz", "params": {"a1": 1.5}})
    assert build_pde({"name": "convection", "params": {"beta": 5}}).params == {"beta": 5.0}


def test_pde_module_imports_only_stdlib_numpy_and_torch():
    """Inside the sandbox the module is loaded without the rest of the project."""
    tree = ast.parse(PDE_FILE.read_text())
    allowed = {"__future__", "math", "typing", "numpy", "torch"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative imports are fine
                continue
            roots = {(node.module or "").split(".")[0]}
        else:
            continue
        assert roots <= allowed, f"pde.py imports {roots - allowed}"
