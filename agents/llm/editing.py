"""SEARCH/REPLACE edits and whole-file answers, turned into a new module text.

Edits are cheaper and safer than rewriting a whole file: the model touches only what the proposal changes,
and an edit that does not match the code is caught here (not at run time). Matching is exact first, then
tolerant of trailing whitespace, then of a uniform indentation shift, because those are the ways models
misquote code without meaning anything different. A block that matches nowhere, or more than once, is an
:class:`EditError` whose message tells the model which block failed and what the nearest real line is.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from agents.llm.parsing import extract_python, prose

_SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$", re.IGNORECASE)
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$", re.IGNORECASE)


class EditError(ValueError):
    """The edits cannot be applied; the message is meant to be sent back to the model."""


@dataclass(frozen=True)
class EditBlock:
    search: str
    replace: str
    index: int  # 1-based position in the answer, for messages


@dataclass(frozen=True)
class CodeAnswer:
    code: str
    mode: Literal["edits", "whole"]
    edits: int
    notes: str


def has_edit_blocks(text: str) -> bool:
    return any(_SEARCH.match(line) for line in text.splitlines())


def parse_edit_blocks(text: str) -> list[EditBlock]:
    """Blocks in answer order. Fence lines around or inside blocks are ignored."""
    blocks: list[EditBlock] = []
    state = "outside"
    search: list[str] = []
    replace: list[str] = []
    for line in text.splitlines():
        if state == "outside":
            if _SEARCH.match(line):
                state, search, replace = "search", [], []
            continue
        if state == "search":
            if _DIVIDER.match(line):
                state = "replace"
            elif _SEARCH.match(line) or _REPLACE.match(line):
                raise EditError(f"edit block {len(blocks) + 1}: expected a '=======' line between SEARCH "
                                "and REPLACE")
            else:
                search.append(line)
            continue
        if _REPLACE.match(line):
            blocks.append(EditBlock(search=_unfence("\n".join(search)), replace=_unfence("\n".join(replace)),
                                    index=len(blocks) + 1))
            state = "outside"
        elif _SEARCH.match(line):
            raise EditError(f"edit block {len(blocks) + 1}: missing '>>>>>>> REPLACE' before the next SEARCH")
        else:
            replace.append(line)
    if state != "outside":
        raise EditError(f"edit block {len(blocks) + 1} is not closed by a '>>>>>>> REPLACE' line "
                        "(was the answer cut off?)")
    return blocks


def _unfence(text: str) -> str:
    """Models sometimes put a ```python fence inside the SEARCH or REPLACE part; drop it."""
    lines = text.split("\n")
    if lines and lines[0].strip().startswith("```"):
        lines = lines[1:]
    if lines and lines[-1].strip().startswith("```"):
        lines = lines[:-1]
    return "\n".join(lines)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _line_matches(code_lines: list[str], search_lines: list[str], key) -> list[int]:
    n = len(search_lines)
    wanted = [key(s) for s in search_lines]
    return [i for i in range(len(code_lines) - n + 1)
            if all(key(code_lines[i + j]) == wanted[j] for j in range(n))]


def _shift(lines: list[str], delta: int) -> list[str]:
    if delta > 0:
        return [(" " * delta + line) if line.strip() else line for line in lines]
    if delta < 0:
        return [line[min(-delta, _indent(line)):] if line.strip() else line for line in lines]
    return lines


def _nearest_line(code: str, search: str) -> str:
    first = next((s for s in search.split("\n") if s.strip()), "")
    candidates = [line for line in code.split("\n") if line.strip()]
    close = difflib.get_close_matches(first.strip(), [c.strip() for c in candidates], n=1, cutoff=0.5)
    return f" The closest line in the code is: {close[0]!r}." if close else ""


def apply_block(code: str, block: EditBlock) -> str:
    search = block.search.strip("\n")
    if not search.strip():
        raise EditError(f"edit block {block.index}: the SEARCH part is empty; quote the lines to replace "
                        "(to add code, quote the line after which it goes and repeat it in REPLACE)")
    count = code.count(search)
    if count == 1:
        return code.replace(search, block.replace.strip("\n"), 1)
    preview = search.split("\n")[0].strip()
    if count > 1:
        raise EditError(f"edit block {block.index}: the SEARCH text occurs {count} times in the code (first "
                        f"line {preview!r}); quote more surrounding lines so it matches exactly once")
    code_lines = code.split("\n")
    search_lines = search.split("\n")
    replace_lines = block.replace.strip("\n").split("\n") if block.replace.strip("\n") else []
    # Trailing whitespace differences only.
    hits = _line_matches(code_lines, search_lines, lambda s: s.rstrip())
    delta = 0
    if not hits:
        # A uniform indentation shift: same lines, all moved left or right by the same amount.
        hits = _line_matches(code_lines, search_lines, lambda s: s.strip())
        hits = [h for h in hits if _uniform_shift(code_lines[h:h + len(search_lines)], search_lines) is not None]
        if len(hits) == 1:
            delta = _uniform_shift(code_lines[hits[0]:hits[0] + len(search_lines)], search_lines) or 0
    if len(hits) > 1:
        raise EditError(f"edit block {block.index}: the SEARCH text matches {len(hits)} places (first line "
                        f"{preview!r}); quote more surrounding lines so it matches exactly once")
    if not hits:
        raise EditError(f"edit block {block.index}: the SEARCH text was not found in the code (first line "
                        f"{preview!r}); SEARCH must copy existing lines exactly.{_nearest_line(code, search)}")
    start = hits[0]
    new_lines = code_lines[:start] + _shift(replace_lines, delta) + code_lines[start + len(search_lines):]
    return "\n".join(new_lines)


def _uniform_shift(code_part: list[str], search_lines: list[str]) -> int | None:
    deltas = {_indent(c) - _indent(s) for c, s in zip(code_part, search_lines) if s.strip()}
    return deltas.pop() if len(deltas) == 1 else None


def apply_edits(code: str, blocks: Sequence[EditBlock]) -> str:
    """All blocks in order, each on the result of the previous ones; all or nothing."""
    if not blocks:
        raise EditError("no edit blocks found")
    for block in blocks:
        code = apply_block(code, block)
    return code if code.endswith("\n") else code + "\n"


def interpret_answer(answer: str, bases: Sequence[str]) -> CodeAnswer:
    """The new module an answer describes: edits applied to the first base they fit (the parent code,
    then earlier rejected versions), or a whole file extracted from the answer."""
    notes = prose(answer)
    if has_edit_blocks(answer):
        blocks = parse_edit_blocks(answer)
        first_error: EditError | None = None
        for base in bases:
            try:
                return CodeAnswer(code=apply_edits(base, blocks), mode="edits", edits=len(blocks), notes=notes)
            except EditError as exc:
                first_error = first_error or exc
        raise first_error or EditError("there is no code to apply the edits to")
    code = extract_python(answer)
    if code is None:
        raise EditError("the answer contains neither SEARCH/REPLACE edit blocks nor a ```python block with "
                        "the module")
    return CodeAnswer(code=code, mode="whole", edits=0, notes=notes)
