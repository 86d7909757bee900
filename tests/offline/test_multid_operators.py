"""Operators and piecewise regression beyond 1-D (issue 12): the analysis facts on generated 2-D grid operator
data and multi-dimensional jump regression data, the moves they enable, and the rendered candidates run
through the real sandbox (isolated process, trusted scorer) on tiny problems, where they must beat the trivial
predictor (the training mean) and, for the split, the unsplit network.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from agents.offline import analysis as analysis_module
from agents.offline.analysis import analyze_data, find_axis_jumps, tensor_grid
from agents.offline.catalogue import build
from agents.offline.design import Design
from agents.offline.moves import MOVES_BY_ID, Evidence, fno_grid_dim
from agents.offline.render import render_candidate
from agents.offline.roles import root_design
from agents.offline.signals import CurveSummary
from tests.baselines.helpers import build_task
from tests.offline.test_render import load

WALL = 6.0  # seconds of training per sandbox run (start-up comes on top)


# ------------------------------------------------------------------------------------------------------------
# Generated problems
# ------------------------------------------------------------------------------------------------------------
class _Budget(BaseModel):
    wall_seconds: float = WALL
    memory_mb: int = 4096
    device: str = "cpu"
    cpu_threads: int = 1


class _Spec(BaseModel):
    name: str
    kind: str
    description: str = "A generated problem of the multi-dimensional tests."
    metric: str = "rel_l2"
    budget: _Budget = _Budget()
    pde: dict | None = None


@dataclass
class _Data:
    train: dict[str, np.ndarray]
    query_inputs: dict[str, np.ndarray]
    targets: np.ndarray

    @property
    def output_shape(self) -> tuple[int, ...]:
        return tuple(self.targets.shape)


@dataclass
class Problem:
    """Duck-types a registry problem for :class:`~sandbox.evaluate.Evaluator`: spec and ``load``."""

    spec: _Spec
    data: _Data = field(repr=False)

    def load(self, cache_dir: Any = None) -> _Data:
        return self.data

    def analysis(self):
        return analyze_data(self.spec.model_dump(), self.data.train, self.data.query_inputs)

    def trivial_score(self) -> float:
        """Relative L2 error of predicting the mean training output (per location for operators)."""
        if self.spec.kind == "operator":
            mean = np.asarray(self.data.train["s"]).mean(axis=0)
            train_y, query_y = self.data.train["y"], self.data.query_inputs["y"]
            if query_y.shape != train_y.shape or not np.allclose(query_y, train_y):
                mean = np.full(len(query_y), mean.mean())
            prediction = np.broadcast_to(mean, self.data.targets.shape)
        else:
            prediction = np.full(self.data.targets.shape, np.mean(self.data.train["y"]))
        return float(np.linalg.norm(prediction - self.data.targets) / np.linalg.norm(self.data.targets))


def grid_operator(
    n1: int = 16, n2: int = 12, n_train: int = 200, n_query: int = 20, query_at: str = "sensors", seed: int = 0
) -> Problem:
    """Input fields on a regular n1 x n2 grid of [0, 1] x [0, 2] (sensor rows shuffled), outputs of a nonlinear
    smoothing operator ``s = L u + 0.3 (L u)^2`` (L damps mode (a, b) by 1 / (1 + a^2 + b^2)); outputs at the
    sensors, or (``query_at="inside"``) the training outputs at the sensors and the queries at random points."""
    rng = np.random.default_rng(seed)
    g1, g2 = np.meshgrid(np.linspace(0, 1, n1), np.linspace(0, 2, n2), indexing="ij")
    sensors = np.stack([g1.ravel(), g2.ravel()], axis=1)[rng.permutation(n1 * n2)]

    def modes(points: np.ndarray) -> list[tuple[float, np.ndarray]]:
        return [
            (1.0 / (1 + (a + 1) ** 2 + b**2), np.sin((a + 1) * np.pi * points[:, 0]) * np.cos(b * np.pi * points[:, 1] / 2))
            for a in range(3)
            for b in range(3)
        ]

    def functions(n: int, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = rng.normal(size=(n, 9))
        u = sum(c[:, [k]] * phi[None] for k, (_, phi) in enumerate(modes(sensors)))
        smooth = sum(c[:, [k]] * damp * phi[None] for k, (damp, phi) in enumerate(modes(at)))
        return u, smooth + 0.3 * smooth**2

    u, s = functions(n_train, sensors)
    query_y = sensors if query_at == "sensors" else np.column_stack([rng.uniform(0, 1, 60), rng.uniform(0, 2, 60)])
    u_query, targets = functions(n_query, query_y)
    return Problem(
        _Spec(name="grid_operator_2d", kind="operator"),
        _Data({"u": u, "sensors": sensors, "y": sensors, "s": s}, {"u": u_query, "y": query_y}, targets),
    )


def trunk_operator(dim: int = 3, seed: int = 0) -> Problem:
    """u = a + b x on 20 sensors of [0, 1]; outputs at scattered points of [0, 1]^dim:
    s(y) = a cos(pi y_0) + b y_1 y_{dim-1} (a linear operator with a multi-dimensional output domain)."""
    rng = np.random.default_rng(seed)
    sensors = np.linspace(0, 1, 20)
    y = rng.uniform(0, 1, (48, dim))

    def functions(n: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = rng.normal(size=(n, 1)), rng.normal(size=(n, 1))
        return a + b * sensors, a * np.cos(np.pi * y[:, 0]) + b * y[:, 1] * y[:, -1]

    u, s = functions(120)
    u_query, targets = functions(15)
    return Problem(
        _Spec(name=f"trunk_operator_{dim}d", kind="operator"),
        _Data({"u": u, "sensors": sensors, "y": y, "s": s}, {"u": u_query, "y": y}, targets),
    )


def jump_regression(dim: int = 2, axis: int = 1, where: float = 0.2, n: int = 600, seed: int = 0) -> Problem:
    """y = sin(2 x_0) + 0.5 x_{last} + 1.5 [x_axis > where] on [-1, 1]^dim (uniform samples)."""
    rng = np.random.default_rng(seed)

    def target(x: np.ndarray) -> np.ndarray:
        return np.sin(2 * x[:, 0]) + 0.5 * x[:, -1] + np.where(x[:, axis] > where, 1.5, 0.0)

    x, x_query = rng.uniform(-1, 1, (n, dim)), rng.uniform(-1, 1, (400, dim))
    return Problem(
        _Spec(name=f"jump_regression_{dim}d", kind="regression"),
        _Data({"x": x, "y": target(x)}, {"x": x_query}, target(x_query)),
    )


def evidence(design: Design, facts: dict[str, Any]) -> Evidence:
    return Evidence(kind=design.kind, facts=facts, budget_seconds=WALL, parent=design, parent_score=None,
                    curve=CurveSummary())


# ------------------------------------------------------------------------------------------------------------
# Analysis facts
# ------------------------------------------------------------------------------------------------------------
def test_a_shuffled_2d_sensor_grid_is_recognised() -> None:
    facts = grid_operator().analysis().facts
    assert facts["grid_sampled"] and facts["sensor_grid_shape"] == [16, 12]
    assert facts["sensor_dim"] == 2 and facts["location_dim"] == 2
    assert facts["locations_on_sensor_grid"] and facts["query_locations_match_train"]
    assert 3 <= facts["sensor_modes_99"] <= 6  # the fields hold modes up to 3 (first axis) and 2 (second)
    assert fno_grid_dim(facts) == 2


def test_off_grid_queries_and_scattered_sensors() -> None:
    inside = grid_operator(query_at="inside").analysis().facts
    assert inside["grid_sampled"] and not inside["query_locations_match_train"]
    assert inside["query_locations_inside_sensors"]
    problem = grid_operator()
    rng = np.random.default_rng(1)
    scattered = problem.data.train["sensors"] + 0.01 * rng.normal(size=problem.data.train["sensors"].shape)
    facts = analyze_data(problem.spec.model_dump(), {**problem.data.train, "sensors": scattered},
                         problem.data.query_inputs).facts
    assert not facts["grid_sampled"] and facts["sensor_grid_shape"] is None and fno_grid_dim(facts) is None
    assert "scattered" in analyze_data(problem.spec.model_dump(), {**problem.data.train, "sensors": scattered},
                                       problem.data.query_inputs).report


def test_tensor_grid_layout() -> None:
    g1, g2 = np.meshgrid([0.0, 1.0, 2.0], [5.0, 7.0], indexing="ij")
    points = np.stack([g1.ravel(), g2.ravel()], axis=1)[[4, 0, 5, 2, 1, 3]]
    axes, order = tensor_grid(points)
    assert [list(a) for a in axes] == [[0.0, 1.0, 2.0], [5.0, 7.0]]
    assert np.array_equal(points[order], np.stack([g1.ravel(), g2.ravel()], axis=1))
    assert tensor_grid(points[:-1]) is None and tensor_grid(np.vstack([points, points[:1]])) is None


def test_one_dimensional_operator_facts_are_unchanged(analyses) -> None:
    facts = analyses["antiderivative"].facts
    assert facts["sensor_dim"] == 1 and facts["sensor_grid_shape"] == [facts["n_sensors"]]
    assert fno_grid_dim(facts) == 1


@pytest.mark.parametrize(("dim", "axis", "where"), [(2, 1, 0.2), (2, 0, -0.4), (3, 2, 0.5)])
def test_a_jump_plane_is_found_in_several_inputs(dim: int, axis: int, where: float) -> None:
    problem = jump_regression(dim=dim, axis=axis, where=where)
    analysis = problem.analysis()
    (jump,) = analysis.facts["jumps"]
    assert jump["axis"] == axis and abs(jump["location"] - where) < 0.03 and jump["size"] == pytest.approx(1.5, abs=0.3)
    x = problem.data.train["x"][:, axis]  # the plane lies between the samples on either side of the jump
    assert not np.any((x > min(where, jump["location"])) & (x < max(where, jump["location"])))
    assert f"x{axis} = " in analysis.report


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_jump_planes_in_smooth_oscillating_steep_or_oblique_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (800, 2))
    noise = 0.05 * rng.normal(size=len(x))
    for y in (
        np.sin(3 * x[:, 0]) * np.cos(2 * x[:, 1]),
        np.sin(12 * x[:, 0]) + noise,  # fast but resolved
        np.tanh(x[:, 1] / 0.2) + noise,  # steep but resolved
        (x[:, 0] + x[:, 1] > 0).astype(float),  # a jump, but across no axis-aligned plane
    ):
        assert find_axis_jumps(x, y) == []


def test_jump_planes_on_two_axes_and_robustness() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (800, 2))
    y = (x[:, 0] > -0.2) + 2.0 * (x[:, 1] < 0.5) + 0.1 * rng.normal(size=len(x))
    found = sorted((j["axis"], round(j["location"], 1)) for j in find_axis_jumps(x, y))
    assert found == [(0, -0.2), (1, 0.5)]
    for bad in (np.full((50, 2), np.nan), 1e300 * rng.uniform(-1, 1, (50, 2)), np.zeros((3, 2))):
        assert isinstance(find_axis_jumps(bad, bad[:, 0] > 0), list)


def test_the_candidate_detects_jump_planes_as_the_analyst_does() -> None:
    """The rendered candidate carries a copy of the detector (it may import nothing from the project)."""
    design = Design.model_validate({"kind": "regression", "regression": {"split_at_jumps": True}})
    source = render_candidate(design)
    tree = ast.parse(source)
    copied = {node.name: ast.get_source_segment(source, node) for node in tree.body if isinstance(node, ast.FunctionDef)}
    for name in ("neighbour_pairs", "weighted_median", "place_plane", "find_axis_jumps"):
        assert copied[name] == inspect.getsource(getattr(analysis_module, name)).rstrip(), name
    module = load(source)
    problem = jump_regression(dim=3, axis=2, where=0.5)
    x, y = problem.data.train["x"], problem.data.train["y"][:, None]
    assert module.pieces(x, y) == [(2, pytest.approx(problem.analysis().facts["jumps"][0]["location"]))]


# ------------------------------------------------------------------------------------------------------------
# Moves and rendering
# ------------------------------------------------------------------------------------------------------------
def test_the_fno_move_goes_2d_on_a_2d_grid() -> None:
    facts = grid_operator().analysis().facts
    root = root_design("operator")
    move = MOVES_BY_ID["fno"]
    assert move.applies(root, evidence(root, facts))
    design = move.apply(root, evidence(root, facts))
    op = design.operator
    assert op.model == "fno" and op.fno_dim == 2 and 4 <= op.fno_modes <= 6 and "2D FNO" in design.describe()
    source = render_candidate(design)
    assert "torch.fft.rfft2" in source and "class FNO2d" in source and "class FNO1d" not in source
    more = MOVES_BY_ID["fno_modes"].apply(design, evidence(design, facts))
    assert more.operator.fno_modes == op.fno_modes + 4  # per axis: smaller steps than in 1-D


def test_the_fno_move_is_unchanged_in_1d(analyses) -> None:
    facts = analyses["antiderivative"].facts
    root = root_design("operator", analyses["antiderivative"])
    design = MOVES_BY_ID["fno"].apply(root, evidence(root, facts))
    modes = int(min(32, max(12, facts["sensor_modes_99"] + 4)))
    assert (design.operator.fno_dim, design.operator.fno_modes, design.operator.fno_width) == (1, modes, 32)
    assert "fno_dim" not in design.canonical()["operator"]  # keys of 1-D designs stay what they were
    source = render_candidate(design)
    assert "class FNO1d" in source and "rfft2" not in source and "def multilinear" not in source


def test_no_fno_on_scattered_2d_sensors() -> None:
    problem = trunk_operator(dim=2)  # 1-D sensors, 2-D output locations
    facts = problem.analysis().facts
    root = root_design("operator")
    assert not MOVES_BY_ID["fno"].applies(root, evidence(root, facts))
    assert MOVES_BY_ID["trunk_features"].applies(root, evidence(root, facts))


def test_the_split_move_carries_the_axes() -> None:
    analysis = jump_regression(dim=3, axis=2, where=0.5).analysis()
    root = root_design("regression", analysis)
    assert MOVES_BY_ID["split_at_jumps"].applies(root, evidence(root, analysis.facts))
    design = build("regression", analysis, ("split_at_jumps",))
    assert design.regression.split_axes == [2] and design.regression.split_points[0] == pytest.approx(0.5, abs=0.03)
    assert "x2 = 0.5" in design.describe()
    with pytest.raises(ValueError):
        design.evolve(regression={"split_points": [0.1, 0.2]})  # two points, one axis


def test_the_split_move_is_unchanged_in_1d(analyses) -> None:
    design = build("regression", analyses["discontinuous_fit1d"], ("split_at_jumps",))
    assert design.regression.split_axes == [] and "split_axes" not in design.canonical()["regression"]


def test_multilinear_interpolation_in_the_candidate_is_exact_for_bilinear_functions() -> None:
    design = Design.model_validate({"kind": "operator", "operator": {"model": "fno", "fno_dim": 2}})
    module = load(render_candidate(design))
    g1, g2 = np.meshgrid(np.linspace(0, 1, 5), np.linspace(-1, 1, 4), indexing="ij")
    nodes = np.stack([g1.ravel(), g2.ravel()], axis=1)
    axes, order = module.tensor_grid(nodes[::-1])
    points = np.random.default_rng(0).uniform([0, -1], [1, 1], (30, 2))
    index, weight = module.multilinear(axes, points)

    def f(p: np.ndarray) -> np.ndarray:
        return 1 + 2 * p[:, 0] - p[:, 1] + 3 * p[:, 0] * p[:, 1]

    assert np.allclose((f(nodes[::-1])[order][index] * weight).sum(axis=1), f(points))


def test_random_features_move_2d_grid_outputs_to_off_grid_queries() -> None:
    """The least-squares operator predicts at the training locations and interpolates to the queries."""
    problem = grid_operator(query_at="inside", n_train=150)
    design = Design.model_validate({"kind": "operator", "operator": {"model": "random_features", "rf_features": 300, "ridge": 1e-6}})
    data = problem.data
    task = build_task("operator", data.train, data.query_inputs, data.output_shape, seed=0, wall=5.0)
    out = np.asarray(load(render_candidate(design)).solve(task))
    error = np.linalg.norm(out - data.targets) / np.linalg.norm(data.targets)
    assert error < 0.2 < problem.trivial_score()


def test_deeponet_trunk_takes_3d_query_points_with_harmonics_per_axis() -> None:
    design = Design.model_validate({"kind": "operator", "operator": {"trunk_features": 3}})
    module = load(render_candidate(design))
    import torch

    model = module.DeepONet(20, np.zeros(3), np.ones(3))
    features = model.trunk_inputs(torch.rand(7, 3))
    assert features.shape == (7, 3 + 2 * 3 * 3)
    assert model(torch.rand(4, 20), torch.rand(7, 3)).shape == (4, 7)


# ------------------------------------------------------------------------------------------------------------
# Through the real sandbox
# ------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def evaluator(tmp_path_factory):
    from sandbox.evaluate import Evaluator

    root = tmp_path_factory.mktemp("multid-sandbox")
    with Evaluator(root / "runs", root / "cache", secret_dirs=[root]) as ev:
        yield ev


def sandboxed(evaluator, design: Design, problem: Problem) -> float:
    result = evaluator.evaluate(render_candidate(design), problem, seed=0)
    assert result.status == "succeeded", (result.failure, result.reason, result.stderr[-2000:])
    assert result.score is not None and np.isfinite(result.score)
    return float(result.score)


@pytest.mark.parametrize("query_at", ["sensors", "inside"])
def test_2d_fno_in_the_sandbox_beats_the_mean(evaluator, query_at: str) -> None:
    problem = grid_operator(query_at=query_at)
    design = build("operator", problem.analysis(), ("fno",), budget_seconds=WALL)
    assert design.operator.model == "fno" and design.operator.fno_dim == 2
    score = sandboxed(evaluator, design, problem)
    assert score < 0.3 * problem.trivial_score(), (score, problem.trivial_score())


@pytest.mark.parametrize("dim", [2, 3])
def test_deeponet_with_a_multid_trunk_in_the_sandbox_beats_the_mean(evaluator, dim: int) -> None:
    problem = trunk_operator(dim=dim)
    design = build("operator", problem.analysis(), ("trunk_features", "smooth_activation"), budget_seconds=WALL)
    assert design.operator.model == "deeponet" and design.operator.trunk_features > 0
    score = sandboxed(evaluator, design, problem)
    assert score < 0.3 * problem.trivial_score(), (score, problem.trivial_score())


def test_split_regression_in_the_sandbox_beats_the_mean_and_the_single_network(evaluator) -> None:
    problem = jump_regression(dim=2, axis=1, where=0.2)
    analysis = problem.analysis()
    split = build("regression", analysis, ("split_at_jumps",), budget_seconds=WALL)
    assert split.regression.split_axes == [1]
    split_score = sandboxed(evaluator, split, problem)
    root_score = sandboxed(evaluator, root_design("regression", analysis), problem)
    assert split_score < 0.1 * problem.trivial_score() and split_score < root_score, (split_score, root_score)


def test_the_cost_model_charges_a_2d_fno_for_its_squared_modes() -> None:
    """A 2-D FNO keeps modes x modes coefficients per corner: on the same grid it costs more per step than
    a 1-D one with the same modes, and more modes cost it more than they cost the 1-D model."""
    from agents.offline.signals import data_step_seconds

    facts = {"n_functions": 1000, "n_locations": 1024, "n_sensors": 1024}
    one = root_design("operator").evolve(operator={"model": "fno", "fno_dim": 1, "fno_modes": 12})
    two = one.evolve(operator={"fno_dim": 2})
    assert data_step_seconds(two, facts) > data_step_seconds(one, facts)
    more_two = data_step_seconds(two.evolve(operator={"fno_modes": 24}), facts) / data_step_seconds(two, facts)
    more_one = data_step_seconds(one.evolve(operator={"fno_modes": 24}), facts) / data_step_seconds(one, facts)
    assert more_two > more_one > 1.0
