"""The CLI as a user runs it: the installed console script, in a subprocess, with real files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "problems" / "examples" / "damped_oscillator"
SCRIPT = shutil.which("agentic-sciml", path=os.path.dirname(sys.executable)) or "agentic-sciml"

CANDIDATE = """
import numpy as np
def solve(task):
    x, y = task.train["x"][:, 0], task.train["y"]
    order = np.argsort(x)
    task.log(0, loss=0.1)
    return np.interp(task.query_inputs["x"][:, 0], x[order], y[order])
"""


def cli(*args: str, data_dir: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "AGENTIC_SCIML_DATA_DIR": str(data_dir)}
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_problems_lists_builtins_with_kind(tmp_path):
    out = cli("problems", "--json", data_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    problems = {p["name"]: p for p in json.loads(out.stdout)["problems"]}
    assert {"convection1d", "burgers1d", "helmholtz2d", "allen_cahn1d", "discontinuous_fit1d",
            "antiderivative"} <= set(problems)
    assert problems["antiderivative"]["kind"] == "operator"
    text = cli("problems", data_dir=tmp_path)
    assert "convection1d" in text.stdout and "pinn" in text.stdout


def test_evaluate_user_problem_json(tmp_path):
    candidate = tmp_path / "interp.py"
    candidate.write_text(CANDIDATE)
    out = cli("evaluate", "--problem", str(EXAMPLE), str(candidate), "--json", "--seed", "3", data_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1, "--json prints exactly one JSON object on stdout"
    result = json.loads(lines[0])
    assert result["status"] == "succeeded"
    assert result["seed"] == 3
    assert 0 < result["score"] < 0.5
    assert result["protections"]["backend"] in ("bwrap", "unshare", "none")
    assert result["metric"] == "rel_l2"


def test_evaluate_under_a_step_budget_trains_exactly_that_many_steps(tmp_path):
    """The shipped regression baseline plans with task.left()/tick(): --steps N means N Adam steps."""
    out = cli("evaluate", "--problem", str(EXAMPLE), "--steps", "37", "--json", data_dir=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == "succeeded" and result["steps"] == 37 and result["cpu_seconds"] > 0
    text = cli("evaluate", "--problem", str(EXAMPLE), "--steps", "37", data_dir=tmp_path).stdout
    assert "steps:       37 of a 37-step budget" in text and f"{result['score']:.4e}" in text


def test_evaluate_reports_failure_with_reason(tmp_path):
    candidate = tmp_path / "bad.py"
    candidate.write_text("def solve(task):\n    return [0.0]\n")
    out = cli("evaluate", "--problem", str(EXAMPLE), str(candidate), data_dir=tmp_path)
    assert out.returncode == 1
    assert "status:      failed" in out.stdout
    assert "shape" in out.stdout and "protections:" in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate", "--problem", "no_such_problem", "x.py"], "unknown problem 'no_such_problem'"),
        (["evaluate", "--problem", "discontinuous_fit1d", "/nonexistent/cand.py"], "candidate file not found"),
        (["evaluate", "--problem", "discontinuous_fit1d", "--wall-seconds", "-1"], "--wall-seconds"),
        (["evaluate", "--problem", "discontinuous_fit1d", "--steps", "0"], "--steps must be in"),
        (["run", "--problem", "discontinuous_fit1d", "--candidate-steps", "0"], "candidate_steps"),
        (["run", "--problem", "discontinuous_fit1d", "--champion-by", "seed_mean"], "needs reeval_seeds"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, args, message):
    out = cli(*args, data_dir=tmp_path)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_bad_user_problem_names_the_problem(tmp_path):
    bad = tmp_path / "bad_problem"
    shutil.copytree(EXAMPLE, bad)
    with np.load(bad / "data.npz") as f:
        arrays = {k: f[k] for k in f.files}
    arrays["targets"] = arrays["targets"].copy()
    arrays["targets"][0] = np.nan
    np.savez(bad / "data.npz", **arrays)
    out = cli("evaluate", "--problem", str(bad), "--json", data_dir=tmp_path)
    assert out.returncode == 2
    assert "targets" in json.loads(out.stdout)["error"]
    assert "Traceback" not in out.stderr
