"""Extracting code and JSON from model answers."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from agents.llm.parsing import (
    ParseError, extract_json, extract_python, find_fences, give_up_reason, parse_model, prose,
)
from tests.llm.helpers import PARENT_CODE


def test_largest_python_block_wins_over_smaller_and_other_languages() -> None:
    answer = ("Here is a helper:\n```python\nimport math\n```\nand the module:\n```python\n" + PARENT_CODE +
              "```\nRun it with:\n```bash\npython -m x\n```\n")
    assert extract_python(answer) == PARENT_CODE


def test_unlabelled_fence_is_used_when_no_python_fence() -> None:
    assert extract_python("Sure.\n```\n" + PARENT_CODE + "```\n") == PARENT_CODE


def test_whole_answer_is_code_when_it_parses() -> None:
    assert extract_python(PARENT_CODE) == PARENT_CODE


def test_prose_around_unfenced_code_is_trimmed() -> None:
    answer = "Here is the updated module, with the degree raised:\n\n" + PARENT_CODE + "\nThis should fit better."
    code = extract_python(answer)
    assert code is not None and code.strip() == PARENT_CODE.strip()


def test_pure_prose_is_not_code() -> None:
    assert extract_python("Done") is None
    assert extract_python("I could not find the problem, sorry.") is None


def test_unclosed_fence_runs_to_the_end_and_broken_code_is_still_returned() -> None:
    answer = "```python\nimport numpy as np\n\ndef solve(task):\n    return np.zeros(("
    fences = find_fences(answer)
    assert len(fences) == 1 and not fences[0].closed
    code = extract_python(answer)
    assert code is not None and "def solve" in code  # returned so the syntax error can be reported


def test_json_block_plain_and_embedded() -> None:
    assert extract_json('```json\n{"a": 1}\n```') == {"a": 1}
    assert extract_json('{"a": 2}') == {"a": 2}
    assert extract_json('I vote: {"votes": [3, 4], "reason": "x"} as asked.') == {"votes": [3, 4], "reason": "x"}
    # The last json block is the answer; trailing commas are forgiven.
    assert extract_json('```json\n{"a": 1}\n```\nCorrected:\n```json\n{"a": 3,}\n```') == {"a": 3}


def test_json_missing_is_a_parse_error_worded_for_the_model() -> None:
    with pytest.raises(ParseError, match="no JSON object"):
        extract_json("I think node 3 is best.")


class _Vote(BaseModel):
    votes: list[int]
    reason: str


def test_parse_model_names_the_bad_field() -> None:
    assert parse_model('```json\n{"votes": [1], "reason": "ok"}\n```', _Vote).votes == [1]
    with pytest.raises(ParseError, match="votes"):
        parse_model('{"votes": "many", "reason": "x"}', _Vote)
    with pytest.raises(ParseError, match="expected a JSON object"):
        parse_model("[1, 2]", _Vote)


def test_give_up_and_prose() -> None:
    assert give_up_reason("Unclear.\nGIVE UP: the method itself diverges") == "the method itself diverges"
    assert give_up_reason("**GIVE UP:** needs a new loss") == "needs a new loss"
    assert give_up_reason("I will not give up on this") is None
    text = "Fixed the shape.\n```python\nx = 1\n```\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\nThanks."
    assert prose(text) == "Fixed the shape.\nThanks."
