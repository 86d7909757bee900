"""The static candidate-contract check."""

from __future__ import annotations

import pytest

from agents.llm.contract import ContractPolicy, ContractViolation, check_candidate, contract_problems
from baselines import BASELINE_BY_KIND, baseline_source
from tests.llm.helpers import PARENT_CODE


@pytest.mark.parametrize("kind", sorted(BASELINE_BY_KIND))
def test_shipped_baselines_pass(kind: str) -> None:
    assert contract_problems(baseline_source(kind)) == []


def test_good_module_passes() -> None:
    check_candidate(PARENT_CODE)
    check_candidate("from __future__ import annotations\nimport torch.nn as nn\n\n"
                    "def solve(task, steps=10):\n    return 0\n")


@pytest.mark.parametrize("code, fragment", [
    ("def solve(task):\n    return (\n", "does not parse"),
    ("def fit(task):\n    return 0\n", "no top-level `def solve(task):`"),
    ("class A:\n    def solve(self, task):\n        return 0\n", "no top-level"),
    ("async def solve(task):\n    return 0\n", "not `async def`"),
    ("def solve():\n    return 0\n", "one positional argument"),
    ("def solve(task, other):\n    return 0\n", "need defaults"),
    ("import subprocess\ndef solve(task):\n    return 0\n", "start processes"),
    ("def solve(task):\n    import socket\n    return 0\n", "no network"),
    ("import os\ndef solve(task):\n    os.system('ls')\n    return 0\n", "os.system is forbidden"),
    ("from os import popen\ndef solve(task):\n    return 0\n", "os.popen is forbidden"),
    ("import sklearn\ndef solve(task):\n    return 0\n", "'sklearn' is not allowed"),
    ("from . import helper\ndef solve(task):\n    return 0\n", "relative imports"),
    ("def solve(task):\n    return eval('1')\n", "eval() is forbidden"),
    ("", "empty"),
])
def test_violations_are_named(code: str, fragment: str) -> None:
    problems = contract_problems(code)
    assert problems, code
    assert any(fragment in p for p in problems), problems


def test_violation_lists_every_problem_and_policy_is_configurable() -> None:
    code = "import subprocess\nimport sklearn\ndef solve(task):\n    return 0\n"
    with pytest.raises(ContractViolation) as info:
        check_candidate(code)
    assert len(info.value.reasons) == 2
    policy = ContractPolicy(allowed_modules=frozenset({"numpy", "sklearn", "subprocess"}))
    assert contract_problems(code, policy) == []
    assert "sklearn" in ContractPolicy(allowed_modules=frozenset({"sklearn"})).describe()
