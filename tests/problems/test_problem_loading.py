"""Registry, the Task data contract of every built-in, determinism and the on-disk cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from problems import ProblemNotFound, ProblemSpec, builtin_names, get_problem, list_problems
from problems.base import CACHE_ENV, default_cache_dir
from problems.builtin.antiderivative import AntiderivativeProblem
from problems.builtin.discontinuous_fit1d import DiscontinuousFit1DProblem
from sandbox.runtime.task import read_task_bundle, write_task_bundle

EXPECTED = {
    "convection1d": "pinn",
    "burgers1d": "pinn",
    "helmholtz2d": "pinn",
    "allen_cahn1d": "pinn",
    "discontinuous_fit1d": "regression",
    "antiderivative": "operator",
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return {name: get_problem(name).load(cache) for name in EXPECTED}


def test_registry_lists_the_builtins_with_complete_specs():
    specs = {spec.name: spec for spec in list_problems()}
    assert {name: spec.kind for name, spec in specs.items()} == EXPECTED
    assert builtin_names() == list(EXPECTED)
    for spec in specs.values():
        assert isinstance(spec, ProblemSpec)
        assert spec.description.startswith("# ") and "## Data" in spec.description
        assert spec.metric == "rel_l2" and spec.budget.device == "cpu" and spec.budget.cpu_threads == 1
        assert (spec.pde is not None) == (spec.kind == "pinn")
        assert json.loads(spec.model_dump_json())["name"] == spec.name  # JSON-serialisable
    assert (
        specs["convection1d"].budget.wall_seconds == 60 and specs["antiderivative"].budget.wall_seconds == 30
    )


def test_unknown_problem_lists_the_builtins():
    with pytest.raises(ProblemNotFound) as info:
        get_problem("no_such_problem")
    assert "burgers1d" in str(info.value) and "antiderivative" in str(info.value)


@pytest.mark.parametrize("name", [n for n, kind in EXPECTED.items() if kind == "pinn"])
def test_pinn_data_follow_the_task_contract(name, loaded):
    data = loaded[name]
    pde = get_problem(name).build_pde()
    query = data.query_inputs["x"]
    assert set(data.query_inputs) == {"x"}
    assert query.ndim == 2 and query.shape[1] == pde.dim
    assert data.targets.shape == (len(query),) == data.output_shape
    low, high = pde.bounds[:, 0], pde.bounds[:, 1]
    assert np.all(query >= low) and np.all(query <= high)
    assert data.train["x_interior"].shape[1] == pde.dim
    for which in ("boundary", "initial"):
        if f"x_{which}" in data.train:
            assert data.train[f"u_{which}"].shape == (len(data.train[f"x_{which}"]), 1)
    assert ("x_initial" in data.train) == (pde.time_variable is not None)
    assert ("x_boundary" in data.train) == ("dirichlet" in pde.exact_constraints)
    np.testing.assert_allclose(
        data.train["u_initial" if "u_initial" in data.train else "u_boundary"],
        pde.initial_values(data.train["x_initial"])
        if "x_initial" in data.train
        else pde.boundary_values(data.train["x_boundary"]),
    )
    for array in [*data.train.values(), query, data.targets]:
        assert array.dtype == np.float64 and np.all(np.isfinite(array))


def test_regression_and_operator_data_follow_the_task_contract(loaded):
    reg = loaded["discontinuous_fit1d"]
    assert reg.train["x"].shape == (96, 1) and reg.train["y"].shape == (96,)
    assert reg.query_inputs["x"].shape == (1001, 1) and reg.targets.shape == (1001,)
    op = loaded["antiderivative"]
    n, m = op.train["u"].shape
    p = op.train["y"].shape[0]
    assert (
        op.train["sensors"].shape == (m,) and op.train["y"].shape == (p, 1) and op.train["s"].shape == (n, p)
    )
    assert op.query_inputs["u"].shape[1] == m and op.query_inputs["y"].shape == (p, 1)
    assert op.targets.shape == (len(op.query_inputs["u"]), p)
    # held-out functions are not training functions
    assert not np.isin(op.query_inputs["u"][:, 50], op.train["u"][:, 50]).any()


def test_load_is_deterministic_across_fresh_caches(tmp_path):
    for problem in (DiscontinuousFit1DProblem(), AntiderivativeProblem()):
        first = problem.load(tmp_path / "a")
        second = problem.load(tmp_path / "b")
        regenerated = problem.generate()
        for a, b, c in zip(
            first.to_npz_dict().items(), second.to_npz_dict().items(), regenerated.to_npz_dict().items()
        ):
            assert a[0] == b[0] == c[0]
            np.testing.assert_array_equal(a[1], b[1])
            np.testing.assert_array_equal(a[1], c[1])


def test_cache_is_used_and_rebuilt_when_corrupt(tmp_path, monkeypatch):
    problem = get_problem("convection1d")
    first = problem.load(tmp_path)
    path = problem.cache_path(tmp_path)
    assert path.is_file() and problem.fingerprint() in path.name

    def boom():
        raise AssertionError("generate() must not run when the cache is warm")

    monkeypatch.setattr(problem, "generate", boom)
    cached = problem.load(tmp_path)
    np.testing.assert_array_equal(cached.targets, first.targets)
    np.testing.assert_array_equal(cached.train["x_interior"], first.train["x_interior"])

    monkeypatch.undo()
    path.write_bytes(b"not a zip file")
    rebuilt = problem.load(tmp_path)
    np.testing.assert_array_equal(rebuilt.targets, first.targets)
    with np.load(path) as archive:  # and the cache file was rewritten
        assert "targets" in archive.files
    assert not list(tmp_path.glob("*.tmp"))


def test_fingerprint_depends_on_version_and_params(monkeypatch):
    problem = DiscontinuousFit1DProblem()
    base = problem.fingerprint()
    monkeypatch.setattr(DiscontinuousFit1DProblem, "version", "999")
    assert problem.fingerprint() != base
    monkeypatch.undo()
    monkeypatch.setattr(DiscontinuousFit1DProblem, "params", {**DiscontinuousFit1DProblem.params, "seed": 1})
    assert problem.fingerprint() != base


def test_default_cache_dir_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    get_problem("discontinuous_fit1d").load()
    assert list((tmp_path / "here").glob("discontinuous_fit1d-*.npz"))


def test_task_bundle_round_trip_rebuilds_the_pde(tmp_path, loaded):
    problem = get_problem("burgers1d")
    data = loaded["burgers1d"]
    spec = problem.spec
    meta = {
        "name": spec.name,
        "kind": spec.kind,
        "description": spec.description,
        "output_shape": list(data.output_shape),
        "budget": spec.budget.model_dump(),
        "metric": spec.metric,
        "pde": spec.pde,
    }
    write_task_bundle(tmp_path / "bundle", meta=meta, train=data.train, query_inputs=data.query_inputs)
    task = read_task_bundle(tmp_path / "bundle", sink=None, scratch_dir=tmp_path)
    assert task.pde.to_spec() == spec.pde and task.pde.equation == "u_t + u*u_x - nu*u_xx"
    assert task.output_shape == data.output_shape
    np.testing.assert_array_equal(task.train["x_interior"], data.train["x_interior"])
