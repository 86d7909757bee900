"""Answers in the style a small real model (SmolLM2-135M through llama.cpp) gave in benchmarks/local_llm.py,
replayed by the fake server: what the team must survive when the model cannot do what it is asked."""

from __future__ import annotations

import asyncio

import pytest

from agents.llm import EngineeringFailed, LLMTeam, TeamOptions
from agents.team import DataReport
from baselines import baseline_source
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.script import Reply
from tests.llm.helpers import PROBLEM, InstantSleep, RoleScript, providers_config

# The start of SmolLM2-135M's first root: imports that do not exist, a function repeated until the token
# limit cut it off mid-line (finish_reason "length").
SMOLLM_ROOT = '''```python
# Import the necessary libraries
import numpy as np
from scipy.linalg import norm, exp
from sklearn.linear_model import LassoCVLSGD
from torch.nn.functional import MLPClassifier


class Standardiser:
    """Zero-mean, unit-variance scaling fitted on the training set."""

    def __init__(self, data: np.ndarray):
        self._data = data
        self.mean = data.mean(axis=0)


def _margin_fn(_max_s):
    """Seconds kept back from the wall budget for prediction and returning the result"""

    return max((0.5 * (x - self._data[:, 1]) / margin + 2e-3f ** 4) for x in range(len(self._data))
def _margin_fn(_max_s):
    """Seconds kept back from the wall budget for prediction and returning the result"""

    return max((0.5 * (x - self'''


def _team(srv, continuations: int = 0) -> LLMTeam:
    return LLMTeam(providers_config(srv.base_url), options=TeamOptions(root_attempts=2, continuations=continuations),
                   sleep=InstantSleep())


def test_a_root_the_model_cannot_write_falls_back_to_the_shipped_baseline() -> None:
    script = RoleScript({"root_engineer": [Reply(SMOLLM_ROOT, finish_reason="length"),
                                           Reply("I'm sorry, I can only describe the approach.")]})
    with FakeOpenAIServer(default=script) as srv:
        root = asyncio.run(_team(srv).write_root(PROBLEM, DataReport(report="64 samples")))
        second = srv.requests[1].messages[-1]["content"]
    assert root.code == baseline_source("regression")
    assert "rejected" in root.notes and "shipped regression baseline" in root.notes
    # Both answers are on record, each with the reason it was sent back.
    assert [m.payload["accepted"] for m in root.messages] == [False, False]
    assert "parse" in root.messages[0].payload["rejection"]
    assert "parse" in second or "syntax" in second.lower()
    # Cut at the limit, with no continuation allowed: the model is told to send edits, not the file again.
    assert "cut off at the output-token limit" in second and "SEARCH/REPLACE" in second


def test_without_a_baseline_the_failure_is_reported() -> None:
    script = RoleScript({"root_engineer": ["no code", "still no code"]})
    problem = {**PROBLEM, "kind": "unheard-of"}
    with FakeOpenAIServer(default=script) as srv:
        with pytest.raises(EngineeringFailed) as info:
            asyncio.run(_team(srv).write_root(problem, DataReport()))
    assert len(info.value.messages) == 2
