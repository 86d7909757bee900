"""Rendered candidates compile, run in-process on tiny tasks within their budget, and return the right shape."""

from __future__ import annotations

import ast
import importlib.util
import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.offline.design import Design
from agents.offline.render import render_candidate
from tests import pde_specs
from tests.baselines.helpers import Recorder, build_task, make_pinn_task

_counter = itertools.count()

PINN_DESIGNS: dict[str, dict[str, Any]] = {
    "vanilla": {},
    "exact_transport": {
        "network": {
            "width": 16,
            "depth": 2,
            "periodic_harmonics": 1,
            "fourier_features": 4,
            "fourier_sigma": 3.0,
            "fourier_on": "time",
        },
        "pinn": {"exact_periodic": True, "exact_initial": True, "n_collocation": 128},
        "optim": {"lbfgs_fraction": 0.5, "float64_finish": True},
    },
    "modified_marching_causal": {
        "network": {"architecture": "modified_mlp", "width": 16, "depth": 2, "periodic_harmonics": 2},
        "pinn": {
            "exact_periodic": True,
            "exact_initial": True,
            "exact_dirichlet": True,
            "time_windows": 3,
            "causal_eps": 1.0,
            "causal_chunks": 8,
            "n_collocation": 128,
        },
        "optim": {"lbfgs_fraction": 0.6},
    },
    "resnet_rad_annealing": {
        "network": {"architecture": "resnet", "width": 16, "depth": 4, "activation": "sin"},
        "pinn": {
            "sampling": "rad",
            "resample_every": 5,
            "weighting": "lr_annealing",
            "annealing_every": 3,
            "n_collocation": 128,
        },
        "optim": {"schedule": "cosine", "grad_clip": 1.0},
    },
    "moe_self_adaptive": {
        "network": {
            "architecture": "moe",
            "n_experts": 2,
            "width": 12,
            "depth": 2,
            "activation": "adaptive_tanh",
            "fourier_features": 8,
            "fourier_sigma": 2.0,
        },
        "pinn": {"weighting": "self_adaptive", "n_collocation": 128},
        "optim": {"schedule": "exponential", "float64_finish": True},
    },
    "anisotropic_fourier": {
        "network": {"width": 12, "depth": 2, "fourier_features": 8, "fourier_axis_sigma": [6.0, 0.5]},
        "pinn": {"n_collocation": 64},
    },
    "gelu_resample_scaled": {
        "network": {"activation": "gelu", "width": 16, "depth": 2, "output_scale": 2.0},
        "pinn": {"resample_every": 3, "n_collocation": 64, "exact_initial": True},
        "optim": {"lbfgs_fraction": 0.3, "lbfgs_resample": False},
    },
}
PINN_SPECS = {
    "convection": pde_specs.CONVECTION,
    "burgers": pde_specs.BURGERS,
    "helmholtz": pde_specs.HELMHOLTZ,
    "heat_neumann": pde_specs.HEAT,
    "wave": pde_specs.WAVE,
    "lshape": pde_specs.LSHAPE,
}
OPERATOR_DESIGNS: dict[str, dict[str, Any]] = {
    "deeponet": {"network": {"width": 16, "depth": 2, "activation": "relu"}, "operator": {"latent": 8}},
    "deeponet_features_lbfgs": {
        "network": {"architecture": "modified_mlp", "width": 16, "depth": 2},
        "operator": {"latent": 8, "trunk_features": 2, "output_bias": False, "input_norm": "per_sensor"},
        "optim": {"lbfgs_fraction": 0.5, "float64_finish": True, "weight_decay": 1e-4},
    },
    "fno": {
        "operator": {"model": "fno", "fno_modes": 4, "fno_width": 8, "fno_layers": 2, "input_norm": "none"},
        "optim": {"batch_size": 8, "schedule": "cosine"},
    },
    "linear_branch": {
        "network": {"width": 16, "depth": 2},
        "operator": {"latent": 8, "linear_branch": True},
        "optim": {"lbfgs_fraction": 0.3},
    },
    "least_squares": {"operator": {"model": "random_features"}},
    "random_features": {
        "operator": {"model": "random_features", "rf_features": 50, "ridge": 1e-6, "input_norm": "per_sensor"}
    },
}
REGRESSION_DESIGNS: dict[str, dict[str, Any]] = {
    "mlp": {"network": {"width": 16, "depth": 2, "activation": "relu"}},
    "split_fourier_lbfgs": {
        "network": {"width": 16, "depth": 2, "fourier_features": 8, "fourier_sigma": 2.0},
        "regression": {"split_at_jumps": True},
        "optim": {"lbfgs_fraction": 0.5, "weight_decay": 1e-4},
    },
    "split_known_ensemble_float64": {
        "network": {"width": 8, "depth": 2, "activation": "sin"},
        "regression": {
            "split_at_jumps": True,
            "split_points": [0.3],
            "ensemble": 2,
            "standardise_outputs": False,
        },
        "optim": {"lbfgs_fraction": 0.4, "float64_finish": True},
    },
    "moe": {
        "network": {"architecture": "moe", "n_experts": 2, "width": 8, "depth": 2},
        "optim": {"schedule": "exponential"},
    },
    "gaussian_process": {"regression": {"model": "gaussian_process"}},
    "gaussian_process_split_matern_subset": {
        "regression": {"model": "gaussian_process", "split_at_jumps": True, "gp_kernel": "matern52",
                       "gp_points": 50},
    },
}


def load(source: str) -> Any:
    path = Path(f"/tmp/offline_candidate_{next(_counter)}_{time.monotonic_ns()}.py")
    path.write_text(source)
    try:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        path.unlink(missing_ok=True)


def regression_task(wall: float, sink: Recorder | None = None):
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(-1, 1, (80, 1)), axis=0)
    y = np.where(x[:, 0] > 0.3, 1.0, 0.0) + np.sin(3 * x[:, 0])
    query = np.linspace(-1, 1, 41)[:, None]
    return build_task("regression", {"x": x, "y": y}, {"x": query}, (41,), seed=0, wall=wall, sink=sink)


def operator_task(wall: float, sink: Recorder | None = None):
    rng = np.random.default_rng(2)
    sensors = np.linspace(0, 1, 16)
    y = np.linspace(0, 1, 12)[:, None]

    def functions(n: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = rng.normal(size=(n, 1)), rng.normal(size=(n, 1))
        return a + b * sensors, a * y[:, 0] + b * y[:, 0] ** 2 / 2

    u, s = functions(40)
    u_query, _ = functions(5)
    return build_task(
        "operator",
        {"sensors": sensors, "u": u, "y": y, "s": s},
        {"u": u_query, "y": y},
        (5, 12),
        seed=0,
        wall=wall,
        sink=sink,
    )


def run(design: Design, task) -> np.ndarray:
    module = load(render_candidate(design))
    started = time.monotonic()
    out = np.asarray(module.solve(task))
    elapsed = time.monotonic() - started
    assert elapsed < task.budget.wall_seconds + 1.0, f"overran its budget: {elapsed:.2f} s"
    return out


def check_source(design: Design) -> str:
    source = render_candidate(design)
    tree = ast.parse(source)
    assert "#?" not in source  # no template marker left behind
    assigned = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "DESIGN" for t in node.targets)
    ]
    assert assigned and ast.literal_eval(assigned[0].value) == design.canonical()
    assert any(isinstance(node, ast.FunctionDef) and node.name == "solve" for node in tree.body)
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert imported <= {
        "__future__",
        "copy",
        "math",
        "time",
        "typing",
        "numpy",
        "torch",
        "annotations",
        "Any",
        "nn",
    }
    return source


@pytest.mark.parametrize("name", sorted(PINN_DESIGNS))
def test_pinn_designs_run_on_every_pde_kind(name: str) -> None:
    design = Design.model_validate({"kind": "pinn", **PINN_DESIGNS[name]})
    check_source(design)
    for spec_name, spec in PINN_SPECS.items():
        if design.pinn.exact_periodic and spec_name != "convection":
            continue  # the embedding is a no-op without periodic variables; covered once is enough
        sink = Recorder()
        task = make_pinn_task(spec, wall=1.5, sink=sink, n_interior=64, n_edge=16, n_query=30)
        out = run(design, task)
        assert out.shape == (30,) and np.all(np.isfinite(out)), (name, spec_name)
        assert sink.records and all("loss" in r for r in sink.records)


def test_exact_constraints_hold_in_the_rendered_candidate() -> None:
    design = Design.model_validate({"kind": "pinn", **PINN_DESIGNS["exact_transport"]})
    module = load(render_candidate(design))
    import torch

    from sandbox.runtime.pde import build_pde

    pde = build_pde(PINN_SPECS["convection"])
    model = module.Solution(pde)
    x0 = torch.as_tensor(pde.sample_initial(20, 0), dtype=torch.float32)
    assert torch.allclose(model(x0), pde.initial_values(x0), atol=1e-6)
    left = torch.as_tensor(pde.sample_interior(20, 1), dtype=torch.float32)
    right = left.clone()
    left[:, 0], right[:, 0] = float(pde.bounds[0, 0]), float(pde.bounds[0, 1])
    assert torch.allclose(model(left), model(right), atol=1e-5)


@pytest.mark.parametrize("spec_name", ["heat_neumann", "wave", "lshape", "burgers"])
def test_exact_conditions_of_user_pdes_hold_in_the_rendered_candidate(spec_name: str) -> None:
    """Whatever the untrained network outputs, the imposed initial/Dirichlet data hold on their faces."""
    import torch

    from sandbox.runtime.pde import build_pde

    design = Design.model_validate(
        {"kind": "pinn", "network": {"width": 8, "depth": 2}, "pinn": {"exact_initial": True, "exact_dirichlet": True}}
    )
    pde = build_pde(PINN_SPECS[spec_name])
    model = load(render_candidate(design)).Solution(pde)
    imposed = {pde.conditions[i].kind if not pde.conditions[i].is_dirichlet else "dirichlet" for i in model.imposed}
    assert imposed, spec_name
    if "initial" in imposed:
        x0 = torch.as_tensor(pde.sample_initial(20, 0), dtype=torch.float32)
        assert torch.allclose(model(x0), pde.initial_values(x0), atol=1e-5)
    if "dirichlet" in imposed:
        xb = torch.as_tensor(pde.sample_boundary(40, 0, dirichlet_only=True), dtype=torch.float32)
        assert torch.allclose(model(xb), pde.boundary_values(xb), atol=1e-5)


@pytest.mark.parametrize("name", sorted(OPERATOR_DESIGNS))
def test_operator_designs_run(name: str) -> None:
    design = Design.model_validate({"kind": "operator", **OPERATOR_DESIGNS[name]})
    check_source(design)
    sink = Recorder()
    out = run(design, operator_task(wall=2.0, sink=sink))
    assert out.shape == (5, 12) and np.all(np.isfinite(out))
    assert sink.records


@pytest.mark.parametrize("name", sorted(REGRESSION_DESIGNS))
def test_regression_designs_run(name: str) -> None:
    design = Design.model_validate({"kind": "regression", **REGRESSION_DESIGNS[name]})
    check_source(design)
    sink = Recorder()
    out = run(design, regression_task(wall=2.0, sink=sink))
    assert out.shape == (41,) and np.all(np.isfinite(out))
    assert sink.records


def test_least_squares_operator_is_exact_for_a_linear_operator() -> None:
    design = Design.model_validate({"kind": "operator", **OPERATOR_DESIGNS["least_squares"]})
    source = render_candidate(design)
    assert "class MLP" not in source and "torch.optim" not in source  # no network, no training loop
    task = operator_task(wall=2.0)
    out = run(design, task)
    u = task.query_inputs["u"]  # u = a + b x on [0, 1], so its antiderivative is a y + b y^2 / 2
    a, b = u[:, :1], u[:, -1:] - u[:, :1]
    y = np.linspace(0, 1, 12)
    expected = a * y + b * y**2 / 2
    assert np.allclose(out, expected, atol=1e-6)


def test_piecewise_fit_keeps_the_jump() -> None:
    """With the split, the prediction jumps at the discontinuity instead of smearing it."""
    design = Design.model_validate({"kind": "regression", **REGRESSION_DESIGNS["split_fourier_lbfgs"]})
    out = run(design, regression_task(wall=2.5))
    query = np.linspace(-1, 1, 41)
    left, right = out[(query > 0.2) & (query < 0.3)], out[(query > 0.31) & (query < 0.4)]
    assert right.min() - left.max() > 0.6


def test_candidates_are_deterministic_given_the_seed() -> None:
    design = Design(kind="regression", network={"width": 8, "depth": 2}, optim={"max_steps": 60})
    first = run(design, regression_task(wall=5.0))
    second = run(design, regression_task(wall=5.0))
    assert np.array_equal(first, second)


def test_rendered_code_is_tailored_to_the_design() -> None:
    plain = render_candidate(Design(kind="pinn"))
    rich = render_candidate(
        Design.model_validate({"kind": "pinn", **PINN_DESIGNS["modified_marching_causal"]})
    )
    assert "class ModifiedMLP" not in plain and "class ModifiedMLP" in rich
    assert "def causal_weights" not in plain and "def causal_weights" in rich
    assert "def lbfgs" not in plain and "def lbfgs" in rich
    assert "pde.constrain(" not in plain and "pde.constrain(" in rich
    assert "DESIGN = {" in plain and plain.splitlines()[0].startswith('"""')


def test_gaussian_process_fits_a_noisy_function_without_a_network() -> None:
    """Exact GP regression: no network, no Adam; the marginal likelihood finds the length scale and the noise,
    so 60 noisy samples of a smooth function give a posterior mean close to the noiseless function."""
    design = Design.model_validate({"kind": "regression", **REGRESSION_DESIGNS["gaussian_process"]})
    source = check_source(design)
    assert "class MLP" not in source and "Adam" not in source and "Gaussian-process regression" in source
    rng = np.random.default_rng(5)
    x = np.sort(rng.uniform(-1, 1, (60, 1)), axis=0)
    truth = lambda z: np.sin(4 * z) + 0.5 * z  # noqa: E731
    y = truth(x[:, 0]) + 0.05 * rng.standard_normal(60)
    query = np.linspace(-0.95, 0.95, 101)[:, None]
    sink = Recorder()
    task = build_task("regression", {"x": x, "y": y}, {"x": query}, (101,), seed=0, wall=10.0, sink=sink)
    out = run(design, task)
    error = np.linalg.norm(out - truth(query[:, 0])) / np.linalg.norm(truth(query[:, 0]))
    assert error < 0.03, error  # the noise alone is ~0.07 of the signal: the fit averages it out
    noise = [r["noise"] for r in sink.records if "noise" in r]
    assert noise and min(abs(n * np.var(y) - 0.05**2) for n in noise) < 0.05**2  # the noise level, estimated


def test_split_fits_blend_linearly_across_the_gap_around_a_jump() -> None:
    """Where the jump may be anywhere between the two samples that straddle it, the pieces' predictions are
    blended linearly across that gap (hard assignment outside it); cells of two split axes multiply."""
    design = Design.model_validate({"kind": "regression", **REGRESSION_DESIGNS["split_fourier_lbfgs"]})
    module = load(render_candidate(design))
    train = np.array([[-1.0], [-0.5], [0.1], [0.3], [0.8]])
    query = np.array([[-0.7], [0.1], [0.15], [0.2], [0.25], [0.3], [0.9]])
    w = module.piece_weights(query, train, [(0, 0.2)])
    assert np.allclose(w, [[1, 0], [1, 0], [0.75, 0.25], [0.5, 0.5], [0.25, 0.75], [0, 1], [0, 1]])
    grid = np.array([[a, b] for a in (0.0, 0.5, 1.0) for b in (0.0, 0.5, 1.0)])
    w2 = module.piece_weights(np.array([[0.25, 0.75], [0.5, 0.5], [0.0, 1.0]]), grid, [(0, 0.4), (1, 0.6)])
    assert np.allclose(w2[0], 0.25)  # half-way across both gaps: every cell counts alike
    assert np.allclose(w2[1], [0, 0, 1, 0])  # at the edges of the gaps: x0 above its cut, x1 below its cut
    assert np.allclose(w2[2], [0, 1, 0, 0])  # cells in C order over the split axes, as piece_index numbers them
