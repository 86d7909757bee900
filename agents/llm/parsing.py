"""Getting code and structured data out of free-form model answers.

Models wrap answers in prose, forget or mislabel fences, stop mid-block when they hit the token limit and
sprinkle trailing commas into JSON. These functions are forgiving in what they *find* but strict in what
they *accept*: Python must parse, JSON must validate against a pydantic model, and the error raised
otherwise is worded so that it can be quoted back to the model in a repair request.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

PYTHON_LANGS = frozenset({"python", "py", "python3", "py3"})
_FENCE_OPEN = re.compile(r"^[ ]{0,3}(`{3,}|~{3,})[ \t]*([A-Za-z0-9_+.-]*)[^\n`]*$")
_GIVE_UP = re.compile(r"^[ \t>*_#-]*GIVE[ _-]?UP\b[*_ \t]*:?[*_ \t]*(.*)$", re.MULTILINE)
_CODE_START = re.compile(
    r"^(from\s+\S+\s+import\b|import\s+\w|def\s+\w|class\s+\w|@\w|\"\"\"|'''|#|[A-Za-z_]\w*\s*(:[^=]*)?=)")


class ParseError(ValueError):
    """The answer does not contain what was asked for; the message is meant for a repair request."""


@dataclass(frozen=True)
class Fence:
    lang: str
    body: str
    start: int  # line index of the opening fence
    end: int  # line index of the closing fence (or the last line when unclosed)
    closed: bool


def find_fences(text: str) -> list[Fence]:
    """Fenced blocks in order. An unclosed final fence runs to the end (the answer was cut off)."""
    lines = text.splitlines()
    fences: list[Fence] = []
    i = 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        marker, lang = m.group(1), m.group(2).lower()
        closing = re.compile(rf"^[ ]{{0,3}}{re.escape(marker[0])}{{{len(marker)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            j += 1
        closed = j < len(lines)
        body = "\n".join(lines[i + 1:j])
        fences.append(Fence(lang=lang, body=body, start=i, end=min(j, len(lines) - 1), closed=closed))
        i = j + 1
    return fences


def parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _looks_like_module(code: str) -> bool:
    """Prose such as ``Done`` parses as an expression; a module worth running defines or imports something."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom))
               for n in tree.body)


def _trim_prose(text: str) -> str | None:
    """Unfenced code with prose before and/or after it: the longest parsable span starting at a code line."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _CODE_START.match(line)][:20]
    for start in starts:
        for stop in range(len(lines), max(start, len(lines) - 40), -1):
            chunk = "\n".join(lines[start:stop]).strip("\n")
            if chunk and _looks_like_module(chunk):
                return chunk + "\n"
    return None


def extract_python(text: str) -> str | None:
    """The module in an answer: the largest parsable python-labelled block, then the largest parsable
    unlabelled block, then the whole answer (or its code part) if it parses. When only broken blocks
    exist, the largest is returned anyway so that the syntax error can be reported back."""
    fences = find_fences(text)
    labelled = [f for f in fences if f.lang in PYTHON_LANGS and f.body.strip()]
    unlabelled = [f for f in fences if f.lang == "" and f.body.strip()]
    for group in (labelled, unlabelled):
        good = [f for f in group if _looks_like_module(f.body)]
        if good:
            return max(good, key=lambda f: len(f.body)).body.strip("\n") + "\n"
    if labelled:
        return max(labelled, key=lambda f: len(f.body)).body.strip("\n") + "\n"
    if not fences:
        stripped = text.strip("\n")
        if stripped and _looks_like_module(stripped):
            return stripped + "\n"
        return _trim_prose(text)
    unlabelled_broken = [f for f in unlabelled if "def " in f.body or "import " in f.body]
    if unlabelled_broken:
        return max(unlabelled_broken, key=lambda f: len(f.body)).body.strip("\n") + "\n"
    return None


def prose(text: str, limit: int = 2000) -> str:
    """The answer without its fenced blocks and edit blocks: the model's own explanation."""
    lines = text.splitlines()
    drop: set[int] = set()
    for fence in find_fences(text):
        drop.update(range(fence.start, fence.end + 1))
    inside = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if re.match(r"^<{5,}\s*SEARCH\b", stripped, re.IGNORECASE):
            inside = True
        if inside:
            drop.add(i)
        if re.match(r"^>{5,}\s*REPLACE\b", stripped, re.IGNORECASE):
            inside = False
    kept = "\n".join(line for i, line in enumerate(lines) if i not in drop)
    kept = re.sub(r"\n{3,}", "\n\n", kept).strip()
    return kept[:limit]


def give_up_reason(text: str) -> str | None:
    """``GIVE UP: reason`` anywhere on its own line means the role declines; returns the reason."""
    m = _GIVE_UP.search(text)
    if m is None:
        return None
    return m.group(1).strip() or "no reason given"


# ---------------------------------------------------------------------------------------------- JSON


def _loads_lenient(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    # The two slips models make most: trailing commas, and a comment line inside the object.
    repaired = re.sub(r",\s*([}\]])", r"\1", text)
    repaired = re.sub(r"^\s*//.*$", "", repaired, flags=re.MULTILINE)
    return json.loads(repaired)


def _first_object(text: str) -> Any:
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, m.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise ParseError("no JSON object found in the answer; put it in a ```json block")


def extract_json(text: str) -> Any:
    """The JSON object of an answer: the last ```json block that decodes, else the answer itself, else the
    first ``{...}`` in the text that decodes."""
    fences = find_fences(text)
    errors: list[str] = []
    for fence in reversed([f for f in fences if f.lang in ("json", "jsonc", "")]):
        try:
            return _loads_lenient(fence.body)
        except ValueError as exc:
            errors.append(f"the ```{fence.lang} block is not valid JSON ({exc})")
    try:
        return _loads_lenient(text.strip())
    except ValueError:
        pass
    try:
        return _first_object(text)
    except ParseError:
        if errors:
            raise ParseError("; ".join(errors[:2])) from None
        raise


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:6]:
        where = ".".join(str(p) for p in err["loc"]) or "the object"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def parse_model(text: str, model: type[M]) -> M:
    """Validates the answer's JSON against ``model``; raises :class:`ParseError` naming what is wrong."""
    data = extract_json(text)
    if not isinstance(data, dict):
        raise ParseError(f"expected a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ParseError(f"the JSON does not have the required form: {_describe(exc)}") from None
