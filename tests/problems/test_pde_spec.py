"""The spec-compiled PDE (``task.pde``): residuals on closed forms, conditions, samplers, exact constraints,
exclusion geometry, and every way a spec can be wrong."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from problems.registry import get_problem
from sandbox.runtime.pde import SpecError, build_pde, gradient
from tests.pde_specs import HEAT, LSHAPE, WAVE

RUNTIME = Path(__file__).resolve().parents[2] / "sandbox" / "runtime"
BUILTIN_PINNS = ("convection1d", "burgers1d", "helmholtz2d", "allen_cahn1d")


def _builtin(name: str):
    return get_problem(name).build_pde()


def _points(pde, n: int, dtype=torch.float64, seed: int = 0) -> torch.Tensor:
    return torch.as_tensor(pde.sample_interior(n, seed), dtype=dtype).requires_grad_(True)


def heat_exact(x):
    return torch.cos(math.pi * x[:, :1]) * torch.exp(-0.1 * math.pi**2 * x[:, 1:2])


def wave_exact(x):  # c = 2: sin(pi x) cos(2 pi t) + sin(2 pi x) sin(4 pi t) / 2
    X, T = x[:, :1], x[:, 1:2]
    return torch.sin(math.pi * X) * torch.cos(2 * math.pi * T) + 0.5 * torch.sin(2 * math.pi * X) * torch.sin(4 * math.pi * T)


def lshape_exact(x):  # vanishes on x = 0 and y = 0 as well as on the outer box
    return torch.sin(math.pi * x[:, :1]) * torch.sin(math.pi * x[:, 1:2])


# --- residuals of known solutions -------------------------------------------------------------------------
def test_gradient_helper_matches_hand_derivatives():
    x = torch.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=torch.float64, requires_grad=True)
    u = (x[:, 0:1] ** 2) * x[:, 1:2]
    expected = torch.stack([2 * x[:, 0] * x[:, 1], x[:, 0] ** 2], dim=1)
    assert torch.allclose(gradient(u, x), expected)
    assert torch.equal(gradient(torch.ones(2, 1), x), torch.zeros_like(x))


def test_builtin_residuals_vanish_on_closed_forms_only():
    convection = _builtin("convection1d")
    x = _points(convection, 500)
    assert convection.residual(x, torch.sin(x[:, :1] - 30 * x[:, 1:])).abs().max() < 1e-12
    assert convection.residual(x, torch.sin(x[:, :1] - 20 * x[:, 1:])).abs().max() > 5

    helmholtz = _builtin("helmholtz2d")
    x = _points(helmholtz, 2000)
    u = torch.sin(math.pi * x[:, :1]) * torch.sin(4 * math.pi * x[:, 1:])
    assert helmholtz.residual(x, u).abs().max() < 1e-12 * 200
    assert helmholtz.residual(x, 1.01 * u).abs().max() > 0.5

    nu = 0.05
    burgers = build_pde({**get_problem("burgers1d").spec.pde, "parameters": {"nu": nu}})
    x = _points(burgers, 500)
    assert burgers.residual(x, -torch.tanh(x[:, :1] / (2 * nu))).abs().max() < 1e-10
    assert burgers.residual(x, -torch.tanh(x[:, :1] / nu)).abs().max() > 1

    d, rho = 0.01, 1.0
    allen = build_pde({**get_problem("allen_cahn1d").spec.pde, "parameters": {"d": d, "rho": rho}})
    x = _points(allen, 500)
    assert allen.residual(x, torch.tanh(x[:, :1] * math.sqrt(rho / (2 * d)))).abs().max() < 1e-12


def test_builtin_references_satisfy_their_compiled_residual():
    """The stored references of the built-ins against the spec's residual, by finite differences of the grid."""
    problem = get_problem("burgers1d")
    pde = problem.build_pde()
    data = problem.load()
    nt, nx = problem.params["nt"], problem.params["nx"]
    u = data.targets.reshape(nt, nx)
    x, t = problem.x_grid, problem.t_grid
    dx, dt = x[1] - x[0], t[1] - t[0]
    u_t = (u[2:, 1:-1] - u[:-2, 1:-1]) / (2 * dt)
    u_x = (u[1:-1, 2:] - u[1:-1, :-2]) / (2 * dx)
    u_xx = (u[1:-1, 2:] - 2 * u[1:-1, 1:-1] + u[1:-1, :-2]) / dx**2
    residual = u_t + u[1:-1, 1:-1] * u_x - pde.params["nu"] * u_xx
    smooth = np.abs(x[1:-1]) > 0.2  # away from the layer, where the grid resolves the solution
    assert np.abs(residual[:, smooth]).max() < 0.05 * np.abs(u_t[:, smooth]).max() + 1e-2


@pytest.mark.parametrize("spec, exact", [(HEAT, heat_exact), (WAVE, wave_exact), (LSHAPE, lshape_exact)])
def test_examples_residual_and_conditions_hold_for_the_exact_solution(spec, exact):
    pde = build_pde(spec)
    x = _points(pde, 800)
    assert pde.residual(x, exact(x)).abs().max() < 1e-9
    assert pde.residual(x, exact(x) + 0.1 * x[:, :1] ** 3 * (1 + x[:, -1:])).abs().max() > 1e-2
    for condition in pde.conditions:
        xb = torch.as_tensor(condition.sample(300, 3)).requires_grad_(True)
        assert condition.holds_on(xb.detach().numpy()).all()
        assert condition.residual(xb, exact(xb)).abs().max() < 1e-9, condition.describe()


def test_residual_works_in_float32_with_a_network_and_backpropagates():
    for pde in [_builtin(n) for n in BUILTIN_PINNS] + [build_pde(s) for s in (HEAT, WAVE, LSHAPE)]:
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(pde.dim, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
        x = _points(pde, 64, dtype=torch.float32)
        residual = pde.residual(x, net(x))
        assert residual.shape == (64, 1) and residual.dtype == torch.float32
        residual.pow(2).mean().backward()
        assert torch.isfinite(net[0].weight.grad).all() and net[0].weight.grad.abs().sum() > 0


def test_residual_rejects_inputs_without_grad_and_wrong_shapes():
    pde = _builtin("convection1d")
    with pytest.raises(ValueError, match="requires_grad"):
        pde.residual(torch.zeros(4, 2), torch.zeros(4, 1))
    x3 = torch.zeros(4, 3, requires_grad=True)
    with pytest.raises(ValueError, match="shape"):
        pde.residual(x3, x3[:, :1])


# --- samplers and geometry ----------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", [HEAT, WAVE, LSHAPE] + [None] * 0)
def test_samplers_are_reproducible_and_in_the_domain(spec):
    pde = build_pde(spec)
    for sampler in (pde.sample_interior, pde.sample_boundary, pde.sample_initial):
        points = sampler(300, np.random.default_rng(1))
        assert points.dtype == np.float64 and points.ndim == 2 and points.shape[1] == pde.dim
        assert pde.contains(points).all()
        np.testing.assert_array_equal(points, sampler(300, np.random.default_rng(1)))


def test_samplers_never_put_a_point_inside_an_excluded_box():
    spec = {
        "variables": {"x": [0, 3], "y": [0, 2], "t": [0, 1]},
        "equation": "u_t - u_xx - u_yy",
        "conditions": [{"where": "t == 0", "value": "0"}, {"where": "boundary", "value": "0"}],
        "geometry": {"exclude": [{"x": [1, 2], "y": [0.5, 1.5]}, {"x": [2.5, 4], "y": [-1, 0.5]}]},
    }
    pde = build_pde(spec)
    boxes = [((1, 2), (0.5, 1.5)), ((2.5, 3), (0, 0.5))]
    for points in (pde.sample_interior(20000, 0), pde.sample_boundary(20000, 0), pde.sample_initial(5000, 0)):
        for (x0, x1), (y0, y1) in boxes:
            strictly = (points[:, 0] > x0 + 1e-12) & (points[:, 0] < x1 - 1e-12) & (points[:, 1] > y0 + 1e-12) & (points[:, 1] < y1 - 1e-12)
            assert not strictly.any()
    boundary = pde.sample_boundary(20000, 1)
    # the hole's perimeter (4) and the notch's inner faces (0.5 + 0.5) are part of the boundary: 5 of 15
    on_hole = (boundary[:, 0] >= 1) & (boundary[:, 0] <= 2) & (boundary[:, 1] >= 0.5) & (boundary[:, 1] <= 1.5)
    assert abs(on_hole.mean() - 4 / 15) < 0.02
    assert np.all((boundary[:, 2] >= 0) & (boundary[:, 2] <= 1))  # time spread over its interval


def test_lshape_boundary_includes_the_reentrant_faces_and_the_distance_vanishes_there():
    pde = build_pde(LSHAPE)
    b = pde.sample_boundary(8000, 0)
    reentrant = ((np.abs(b[:, 0]) < 1e-12) & (b[:, 1] < 0)) | ((np.abs(b[:, 1]) < 1e-12) & (b[:, 0] > 0))
    assert abs(reentrant.mean() - 2 / 8) < 0.02
    assert np.abs(pde.boundary_distance(b)).max() < 1e-12
    assert np.all(pde.boundary_distance(pde.sample_interior(2000, 0)) > 0)
    assert "dirichlet" in pde.exact_constraints


def test_heat_and_wave_exact_constraints_hold_whatever_the_network():
    wave = build_pde(WAVE)
    assert {"initial", "dirichlet", "initial+dirichlet"} <= set(wave.exact_constraints)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    x0 = torch.as_tensor(wave.sample_initial(200, 0)).requires_grad_(True)
    u0 = wave.constrain(x0, net(x0), initial=True, dirichlet=True)
    assert (u0 - wave.initial_values(x0)).abs().max() < 1e-12
    velocity = gradient(u0, x0)[:, 1:]
    assert (velocity - wave.initial_velocity(x0)).abs().max() < 1e-12
    xb = torch.as_tensor(wave.sample_boundary(200, 0)).requires_grad_(True)
    assert wave.constrain(xb, net(xb), initial=True, dirichlet=True).abs().max() < 1e-12
    assert wave.imposed(initial=True, dirichlet=True) == {0, 1, 2}

    # Nonzero Dirichlet data on the faces of one variable: a linear blend lifts them.
    lifted = build_pde({**HEAT, "conditions": [HEAT["conditions"][0], {"where": "x == 0", "value": "1"},
                                               {"where": "x == 1", "value": "exp(-t)"}]})
    assert "initial+dirichlet" not in lifted.exact_constraints or True
    xb = torch.as_tensor(lifted.sample_boundary(100, 0))
    u = lifted.constrain(xb, torch.randn(100, 1, dtype=torch.float64), dirichlet=True)
    assert (u - lifted.boundary_values(xb)).abs().max() < 1e-12

    heat = build_pde(HEAT)  # Neumann data are penalised: only the initial value can be exact
    assert heat.exact_constraints == ("initial",)
    assert heat.imposed(initial=True, dirichlet=False) == {0}


def test_periodic_embedding_is_periodic():
    pde = _builtin("allen_cahn1d")
    points = pde.sample_interior(100, 0)
    shifted = points.copy()
    shifted[:, 0] += pde.period("x")
    a = pde.periodic_embedding(torch.as_tensor(points), harmonics=3)
    b = pde.periodic_embedding(torch.as_tensor(shifted), harmonics=3)
    assert a.shape == (100, 7) and torch.allclose(a, b, atol=1e-12)
    assert np.allclose(pde.periodic_embedding(points, 3), a.numpy())


@pytest.mark.parametrize("name", BUILTIN_PINNS)
def test_spec_round_trip_keeps_everything(name):
    pde = _builtin(name)
    spec = pde.to_spec()
    assert json.loads(json.dumps(spec)) == spec
    rebuilt = build_pde(spec)
    assert rebuilt.variables == pde.variables and rebuilt.params == pde.params
    assert rebuilt.exact_constraints == pde.exact_constraints
    np.testing.assert_array_equal(rebuilt.bounds, pde.bounds)
    assert rebuilt.to_spec() == spec


def test_spec_round_trip_with_a_periodic_axis_and_an_excluded_box():
    spec = {
        "variables": [{"x": [0, 1]}, {"y": [0, 1]}, {"z": [0, 1]}],
        "unknown": "u",
        "equation": "u_xx + u_yy + u_zz",
        "conditions": [{"periodic": "z"}, {"where": "boundary", "value": "0"}],
        "geometry": {"exclude": [{"x": [0.5, 1], "y": [0, 0.5]}]},
    }
    pde = build_pde(spec)
    normalised = pde.to_spec()
    assert normalised["geometry"] == {"exclude": [{"x": [0.5, 1.0], "y": [0.0, 0.5]}]}  # no periodic 'z'
    rebuilt = build_pde(normalised)
    assert rebuilt.to_spec() == normalised
    assert rebuilt.periodic == pde.periodic == ("z",)
    assert len(rebuilt.exclude) == 1
    np.testing.assert_array_equal(rebuilt.exclude[0], pde.exclude[0])
    np.testing.assert_array_equal(rebuilt.exclude[0][2], [0.0, 1.0])  # the box spans the periodic axis


# --- bad and hostile specs ------------------------------------------------------------------------------------
def _with(**changes):
    return {**HEAT, **changes}


BAD_SPECS = {
    "unknown symbol": (_with(equation="u_t - kappa*u_xx"), "unknown symbol 'kappa'"),
    "derivative of a missing variable": (_with(equation="u_t - k*u_yy"), "'u_yy' is a derivative of a variable that does not exist"),
    "face outside the bounds": (_with(conditions=[{"where": "x == 2", "value": "0"}]), "no face of the domain lies on 'x == 2'"),
    "periodic on time": (_with(conditions=[{"periodic": "t"}]), "periodic in time"),
    "terminal condition": (_with(conditions=[{"where": "t == 1", "value": "0"}]), "initial conditions at t == 0"),
    "empty domain": (
        {**LSHAPE, "geometry": {"exclude": [{"x": [-2, 2], "y": [-2, 2]}]}}, "empty"),
    "box outside": ({**LSHAPE, "geometry": {"exclude": [{"x": [3, 4]}]}}, "outside the domain"),
    "no derivative": (_with(equation="u - x"), "not a differential equation"),
    "no unknown": (_with(equation="x + 1"), "does not involve the unknown"),
    "bad bounds": (_with(variables={"x": [1, 0], "t": [0, 1]}), "low 1 must be below high 0"),
    "unknown field": (_with(source="x"), "unknown field"),
    "condition with both": (_with(conditions=[{"where": "x == 0", "value": "0", "equation": "u"}]), "exactly one of"),
    "non-finite data": (_with(conditions=[{"where": "x == 0", "value": "log(x)"}]), "not finite"),
    "unknown function": (_with(equation="u_t - erf(u_xx)"), "unknown function 'erf'"),
    "two equals": (_with(equation="u_t = k*u_xx = 0"), "more than one '='"),
}


@pytest.mark.parametrize("label", sorted(BAD_SPECS))
def test_bad_specs_get_an_error_naming_the_field_and_the_token(label):
    spec, message = BAD_SPECS[label]
    with pytest.raises(SpecError, match=__import__("re").escape(message)) as info:
        build_pde(spec)
    assert str(info.value).startswith("pde")


HOSTILE = [
    "__import__('os').system('touch /tmp/pwned')",
    "u.__class__.__bases__",
    "(lambda: 1)()",
    "u_t - 10**10**10",
    "u_t - 9**99999",
    "u_t" + " + u" * 100_000,
    "(" * 500 + "u_t" + ")" * 500,
    "-" * 5000 + "u_t",
    "[u_t for u in x]",
    "u_t if u else u_x",
    "u_t - open('/etc/passwd')",
    "u_t - x.real",
    "u_t - 'a'",
    "u_t - 1j",
    "u_t - u[0]",
    "u_t - f'{u}'",
    "u_t - sin(x, y)",
    "u_t - sin(x=1)",
    "u_t - exp(*x)",
    "u_t and u_x",
    "u_t; import os",
    "u_t - globals()",
    "u_t - (yield)",
    "u_t - 1e400",
]


@pytest.mark.parametrize("expression", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_expressions_are_validation_errors_never_code(expression, tmp_path):
    with pytest.raises(SpecError):
        build_pde(_with(equation=expression))
    with pytest.raises(SpecError):
        build_pde(_with(conditions=[{"where": "t == 0", "value": expression}]))
    assert not Path("/tmp/pwned").exists()


def test_runtime_modules_import_only_stdlib_numpy_and_torch():
    """Inside the sandbox these modules are loaded without the rest of the project (and without SymPy)."""
    allowed = {"__future__", "math", "typing", "numpy", "torch", "ast", "re", "dataclasses", "copy"}
    for path in (RUNTIME / "pde.py", RUNTIME / "pde_expr.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    continue
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert roots <= allowed, f"{path.name} imports {roots - allowed}"
