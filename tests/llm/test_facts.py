"""Statistics and checks computed in Python for the analyst roles."""

from __future__ import annotations

import math

import numpy as np

from agents.llm.facts import data_facts, log_summary, result_checks


def test_data_facts_shapes_ranges_and_extrapolation() -> None:
    train = {"x": np.array([[0.0, 0.0], [1.0, 2.0]]), "y": np.array([1.0, np.nan])}
    query = {"x": np.array([[0.5, 1.0], [1.5, 1.0], [0.5, -1.0]])}
    facts = data_facts(train, query)
    assert facts["train"]["x"]["shape"] == [2, 2] and facts["train"]["x"]["columns"][1]["max"] == 2.0
    assert facts["train"]["y"]["non_finite"] == 1 and facts["train"]["y"]["mean"] == 1.0
    assert facts["query_coverage"]["x"] == {"outside_training_box": 2, "of": 3}


def test_log_summary() -> None:
    logs = [{"step": 0, "t": 0.1, "loss": 2.0}, {"step": 10, "t": 1.5, "loss": 0.5, "lr": 1e-3},
            {"step": 20, "t": 2.0, "loss": math.inf}]
    summary = log_summary(logs)
    assert summary["records"] == 3 and summary["last_step"] == 20 and summary["seconds"] == 2.0
    assert summary["metrics"]["loss"] == {"first": 2.0, "last": 0.5, "min": 0.5, "max": 2.0, "points": 3,
                                          "non_finite": 1}
    assert log_summary([]) == {"records": 0}


def test_result_checks_flag_what_looks_wrong() -> None:
    ok = log_summary([{"step": 0, "t": 0.1, "loss": 1.0}, {"step": 5, "t": 1.0, "loss": 0.1}])
    assert result_checks(0.01, 0.02, "rel_l2", "succeeded", ok, 30.0) == []
    perfect = result_checks(1e-9, 0.2, "rel_l2", "succeeded", ok)
    assert any("suspiciously perfect" in c for c in perfect) and any("fold" in c for c in perfect)
    assert any("worse than the parent" in c for c in result_checks(0.3, 0.2, "mse", "succeeded", ok))
    rising = log_summary([{"step": 0, "t": 0.1, "loss": 1.0}, {"step": 5, "t": 29.0, "loss": 3.0}])
    checks = result_checks(0.1, None, "mse", "succeeded", rising, 30.0)
    assert any("ended higher" in c for c in checks) and any("time budget" in c for c in checks)
    assert result_checks(None, 0.1, "mse", "failed", ok) == ["the run did not produce a valid score"]
    assert "logged no training progress" in result_checks(0.1, None, "mse", "succeeded", log_summary([]))[0]


def test_zero_score_is_suspicious_for_any_metric() -> None:
    ok = log_summary([{"step": 0, "t": 0.1, "loss": 1.0}])
    assert any("suspiciously perfect" in c for c in result_checks(0.0, 0.2, "mse", "succeeded", ok))
