"""The data analyst: facts it must find on the built-in problems (targets are never an input)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from agents.offline.analysis import analyze_data, find_jumps


def test_jump_is_found_in_the_discontinuous_fit(analyses) -> None:
    facts = analyses["discontinuous_fit1d"].facts
    assert len(facts["jumps"]) == 1
    jump = facts["jumps"][0]
    assert abs(jump["location"]) < 0.03 and jump["size"] > 0.5
    fast = max(facts["pieces"], key=lambda p: p["cycles_per_unit"])
    assert 4 < fast["cycles_per_unit"] < 6.5 and fast["low"] >= -0.01  # the fast wave lives right of the jump
    assert 0.005 < facts["noise_std"] < 0.05  # generated with std 0.02
    assert "jump" in analyses["discontinuous_fit1d"].report


@pytest.mark.parametrize("seed", range(4))
def test_no_jumps_in_smooth_or_oscillating_samples(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1, 1, 96))
    for y in (np.sin(3 * x), 0.3 * np.sin(10 * np.pi * x), np.abs(x), np.tanh(3 * x)):
        assert find_jumps(x, y + 0.02 * rng.standard_normal(len(x))) == []
    step = np.where(x > 0.3, 1.0, 0.0) + 0.1 * np.sin(5 * x)
    found = find_jumps(x, step)
    assert len(found) == 1 and abs(found[0]["location"] - 0.3) < 0.05


def test_convection_is_periodic_and_oscillates_in_time(analyses) -> None:
    facts = analyses["convection1d"].facts
    assert facts["periodic"] == ["x"] and "initial" in facts["exact_constraints"]
    assert facts["transport_dominated"] and facts["oscillatory_solution"]
    assert facts["temporal_frequency"] == pytest.approx(30.0, rel=0.05)  # beta x wavenumber 1
    assert facts["initial_condition"]["dominant_cycles"] == 1
    assert "Periodic in x" in analyses["convection1d"].report


def test_allen_cahn_is_stiff_with_thin_interfaces(analyses) -> None:
    facts = analyses["allen_cahn1d"].facts
    assert facts["stiff"] and facts["sharp_width"] == pytest.approx(np.sqrt(1e-4 / 5), rel=1e-6)
    assert facts["initial_condition"]["boundary_kink"] > 0.5  # x^2 cos(pi x) is not smooth across x = +-1
    assert not facts["oscillatory_solution"]


def test_burgers_and_helmholtz_signals(analyses) -> None:
    burgers = analyses["burgers1d"].facts
    assert burgers["sharp_width"] < 0.01 and burgers["has_dirichlet"]
    helmholtz = analyses["helmholtz2d"].facts
    assert list(helmholtz["source"]["wavenumbers"].values()) == pytest.approx([np.pi, 4 * np.pi], rel=0.02)
    assert helmholtz["residual_scale"] > 100 and not helmholtz["time_dependent"]


def test_operator_statistics(analyses) -> None:
    facts = analyses["antiderivative"].facts
    assert facts["linear_fit_rel_error"] < 1e-6  # integration is linear
    assert (
        facts["grid_sampled"] and facts["locations_on_sensor_grid"] and facts["query_locations_match_train"]
    )
    assert 5 <= facts["sensor_modes_99"] <= 40
    assert "linear" in analyses["antiderivative"].report


def test_targets_are_never_an_input(specs) -> None:
    parameters = list(inspect.signature(analyze_data).parameters)
    assert parameters == ["spec", "train", "query_inputs"]
    # a dict spec works as well as a ProblemSpec, and facts are JSON-ready
    import json

    spec = specs["convection1d"].model_dump(mode="json")
    from problems.registry import get_problem

    data = get_problem("convection1d").load()
    analysis = analyze_data(spec, data.train, data.query_inputs)
    json.dumps(analysis.facts)
    assert analysis.report.startswith("# Data analysis: convection1d")
