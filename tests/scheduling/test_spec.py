"""Batch files: loading, validation messages that name the field, planning rules and the budget split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.scheduling.budget import split_budget
from app.scheduling.plan import PlanRules, plan_batch
from app.scheduling.spec import BatchBudget, BatchSpecError, load_batch_file, parse_spec

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_BATCH = REPO / "examples" / "batch.yaml"
EXAMPLE_PROBLEM = REPO / "problems" / "examples" / "damped_oscillator"


def test_example_batch_loads_and_plans_with_the_documented_precedence():
    spec = load_batch_file(EXAMPLE_BATCH)
    runs = plan_batch(spec, PlanRules.trusted())
    assert [(r.problem, r.team) for r in runs] == [
        ("discontinuous_fit1d", "quick"), ("discontinuous_fit1d", "wide"),
        ("antiderivative", "quick"), ("antiderivative", "wide")]
    by_key = {(r.problem, r.team): r for r in runs}
    # defaults < team < problem entry
    assert by_key[("discontinuous_fit1d", "quick")].config.candidate_seconds == spec.defaults.candidate_seconds
    assert by_key[("antiderivative", "quick")].config.candidate_seconds == spec.problems[1].candidate_seconds
    assert by_key[("antiderivative", "wide")].config.concurrency == spec.teams[1].concurrency
    assert by_key[("discontinuous_fit1d", "wide")].config.parents == spec.teams[1].parents
    # the budget is split by weight (antiderivative has weight 2) and never exceeds the batch's caps
    caps = spec.budget.caps()
    walls = [r.config.max_wall_seconds for r in runs]
    assert walls[2] == pytest.approx(2 * walls[0]) and sum(walls) == pytest.approx(caps["max_wall_seconds"])
    assert sum(r.config.max_tokens for r in runs) <= caps["max_tokens"]
    assert sum(r.config.max_cost_usd for r in runs) == pytest.approx(caps["max_cost_usd"])


def test_json_batch_file_and_default_team(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"name": "j", "problems": ["discontinuous_fit1d", str(EXAMPLE_PROBLEM)]}))
    runs = plan_batch(load_batch_file(path), PlanRules.trusted())
    assert [r.team for r in runs] == ["offline", "offline"]
    assert runs[0].config.team == "offline" and runs[0].config.max_wall_seconds is None  # no budget: no caps
    assert runs[1].resolved.source == "user" and Path(runs[1].config.problem).is_absolute()


def test_a_campaigns_own_cap_wins_when_it_is_smaller():
    spec = parse_spec({"name": "b", "problems": ["discontinuous_fit1d"],
                       "teams": [{"name": "a", "max_wall_seconds": 10}, {"name": "b"}],
                       "budget": {"max_wall_seconds": 100}})
    walls = [r.config.max_wall_seconds for r in plan_batch(spec, PlanRules.trusted())]
    assert walls == [10, 50]


def test_split_budget_rounds_tokens_down():
    shares = split_budget(BatchBudget(max_tokens=10, max_wall_seconds=9), [1.0, 1.0, 1.0])
    assert [s["max_tokens"] for s in shares] == [3, 3, 3]
    assert sum(s["max_wall_seconds"] for s in shares) == pytest.approx(9)


def _error(tmp_path, text: str, suffix: str = ".yaml") -> str:
    path = tmp_path / f"bad{suffix}"
    path.write_text(text)
    with pytest.raises(BatchSpecError) as info:
        load_batch_file(path)
    message = str(info.value)
    assert message.startswith(str(path))
    return message


def test_file_errors_name_the_file_and_the_field(tmp_path):
    text = "name: x\nproblems: [a]\nteams:\n  - name: t\n  - name: u\n    iterations: -2\n"
    assert "field 'teams[1].iterations'" in _error(tmp_path, text)
    assert "greater than or equal to 0" in _error(tmp_path, text)
    text = "name: x\nproblems: [a]\nbudget: {max_wall_seconds: 0}\n"
    assert "field 'budget.max_wall_seconds'" in _error(tmp_path, text)
    assert "unknown field 'iteratons'" in _error(tmp_path, "name: x\nproblems: [a]\nteams: [{name: t, iteratons: 3}]\n")
    assert "cannot name a problem" in _error(tmp_path, "name: x\nproblems: [a]\nteams: [{name: t, problem: b}]\n")
    assert "belongs to a team configuration" in _error(tmp_path, "name: x\nproblems: [{problem: a, team: llm}]\n")
    assert "used twice" in _error(tmp_path, "name: x\nproblems: [a]\nteams: [{name: t}, {name: t}]\n")
    assert "at most 64 campaigns" in _error(tmp_path, "name: x\nproblems: [" + ",".join(["a"] * 9) + "]\nteams: ["
                                           + ",".join(f"{{name: t{i}}}" for i in range(8)) + "]\n")
    assert "field 'problems'" in _error(tmp_path, "name: x\nproblems: []\n")
    assert "field 'name'" in _error(tmp_path, "problems: [a]\n")
    assert "not valid YAML (line 3" in _error(tmp_path, "name: x\nproblems: [a\n")
    assert "not valid JSON (line 1" in _error(tmp_path, "{name: 1}", ".json")
    assert "a batch is a mapping" in _error(tmp_path, "- just\n- a list\n")
    with pytest.raises(BatchSpecError, match="no such file"):
        load_batch_file(tmp_path / "missing.yaml")


def _plan_error(batch: dict, rules: PlanRules) -> BatchSpecError:
    with pytest.raises(BatchSpecError) as info:
        plan_batch(parse_spec(batch), rules)
    return info.value


def test_planning_errors_name_the_field():
    trusted = PlanRules.trusted()
    error = _plan_error({"name": "x", "problems": ["discontinuous_fit1d", "nope"]}, trusted)
    assert error.loc == ("problems", 1, "problem") and "unknown problem 'nope'" in error.message
    error = _plan_error({"name": "x", "problems": ["discontinuous_fit1d"], "teams": [{"name": "l", "team": "llm"}]},
                        trusted)
    assert error.loc == ("teams", 0, "team") and "needs providers_file" in error.message
    # defaults < team: the error points where the bad value came from
    error = _plan_error({"name": "x", "problems": ["discontinuous_fit1d"], "defaults": {"team": "llm"},
                         "teams": [{"name": "a"}]}, trusted)
    assert error.loc == ("defaults", "team")


def test_api_rules_refuse_paths_providers_and_too_much_concurrency():
    api = PlanRules(max_concurrency=4)
    error = _plan_error({"name": "x", "problems": [str(EXAMPLE_PROBLEM)]}, api)
    assert error.loc == ("problems", 0, "problem") and "uploaded problems" in error.message
    error = _plan_error({"name": "x", "problems": ["discontinuous_fit1d"],
                         "teams": [{"name": "l", "team": "llm", "providers_file": "/etc/passwd"}]}, api)
    assert error.loc == ("teams", 0, "providers_file") and "only admins" in error.message
    llm = {"name": "x", "problems": ["discontinuous_fit1d"], "teams": [{"name": "l", "team": "llm"}]}
    error = _plan_error(llm, api)
    assert "not available" in error.message
    error = _plan_error({"name": "x", "problems": [{"problem": "discontinuous_fit1d", "concurrency": 9}]}, api)
    assert error.loc == ("problems", 0, "concurrency") and "limit of 4" in error.message
    with_default = PlanRules(default_providers_file="/srv/providers.yaml")
    runs = plan_batch(parse_spec({"name": "x", "problems": ["discontinuous_fit1d"],
                                  "teams": [{"name": "l", "team": "llm"}]}), with_default)
    assert runs[0].config.providers_file == "/srv/providers.yaml"
