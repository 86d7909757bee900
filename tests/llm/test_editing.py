"""SEARCH/REPLACE edits: parsing, exact and tolerant matching, clear failures."""

from __future__ import annotations

import pytest

from agents.llm.editing import EditError, apply_edits, interpret_answer, parse_edit_blocks
from tests.llm.helpers import PARENT_CODE, edit


def test_single_edit_applies() -> None:
    answer = interpret_answer(edit("DEGREE = 1", "DEGREE = 5"), [PARENT_CODE])
    assert answer.mode == "edits" and answer.edits == 1
    assert "DEGREE = 5" in answer.code and "DEGREE = 1" not in answer.code
    assert answer.code == PARENT_CODE.replace("DEGREE = 1", "DEGREE = 5")
    assert answer.notes.startswith("I raise the degree.")


def test_several_blocks_apply_in_order_and_fences_inside_are_ignored() -> None:
    text = ("```python\n<<<<<<< SEARCH\nDEGREE = 1\n=======\nDEGREE = 3\n>>>>>>> REPLACE\n```\n"
            "<<<<<<< SEARCH\n```python\nDEGREE = 3\n```\n=======\nDEGREE = 4\n>>>>>>> REPLACE\n")
    blocks = parse_edit_blocks(text)
    assert [b.index for b in blocks] == [1, 2]
    assert "DEGREE = 4" in apply_edits(PARENT_CODE, blocks)


def test_trailing_whitespace_and_indentation_shift_are_tolerated() -> None:
    search = "x = task.train[\"x\"][:, 0]   \ny = task.train[\"y\"]"
    out = interpret_answer(edit(search, "x = task.train[\"x\"][:, 0] * 1.0\ny = task.train[\"y\"]"), [PARENT_CODE])
    # The SEARCH lines had no indentation; the replacement is re-indented to the function body.
    assert '    x = task.train["x"][:, 0] * 1.0\n    y = task.train["y"]' in out.code


def test_search_not_found_names_block_and_nearest_line() -> None:
    with pytest.raises(EditError) as info:
        interpret_answer(edit("DEGREE = 2", "DEGREE = 5"), [PARENT_CODE])
    message = str(info.value)
    assert "edit block 1" in message and "not found" in message and "DEGREE = 1" in message


def test_ambiguous_search_is_rejected() -> None:
    code = "a = 1\nb = 2\na = 1\n"
    with pytest.raises(EditError, match="occurs 2 times"):
        apply_edits(code, parse_edit_blocks(edit("a = 1", "a = 3")))


def test_malformed_blocks() -> None:
    with pytest.raises(EditError, match="not closed"):
        parse_edit_blocks("<<<<<<< SEARCH\nDEGREE = 1\n=======\nDEGREE = 5\n")
    with pytest.raises(EditError, match="empty"):
        apply_edits(PARENT_CODE, parse_edit_blocks(edit("", "x = 1")))


def test_edits_fall_back_to_a_later_base() -> None:
    rejected = PARENT_CODE.replace("DEGREE = 1", "DEGREE = 5\nimport subprocess")
    out = interpret_answer(edit("DEGREE = 5\nimport subprocess", "DEGREE = 5"), [PARENT_CODE, rejected])
    assert "subprocess" not in out.code and "DEGREE = 5" in out.code


def test_whole_file_answer_and_nothing_usable() -> None:
    out = interpret_answer("New module:\n```python\n" + PARENT_CODE + "```", [PARENT_CODE])
    assert out.mode == "whole" and out.code == PARENT_CODE
    with pytest.raises(EditError, match="neither"):
        interpret_answer("I think we should use a spline.", [PARENT_CODE])
