"""Problems uploaded through the API: validated with the user-problem rules, kept under the data directory.

An upload becomes an ordinary user-problem directory (``problem.yaml``, ``description.md``, ``data.npz``) in
``<data_dir>/user_problems/<name>/``, so campaigns, workers and the CLI load it exactly like a problem made by
hand. It is assembled in a scratch directory first and moved into place only once
:func:`problems.user.load_user_problem` accepted it, so a rejected upload leaves nothing behind.

Every rejection names the request field at fault: the loader's messages name the file and field
(``problem.yaml: field 'budget.wall_seconds': ...``, ``data.npz: array 'targets' ...``), and
:func:`field_of` maps them back onto the multipart form (``budget.wall_seconds``, ``data``).
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from pydantic import ValidationError

from app.api.errors import ApiError, field_error
from app.api.json_limits import check_json
from problems.base import ProblemBudget
from problems.errors import ProblemValidationError
from problems.registry import BUILTINS
from problems.user import UserProblemLimits, load_user_problem

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
_FIELD = re.compile(r"field '([^']+)'")
#: Longest accepted text of each JSON form field of an upload (the route's ``max_length`` too).
JSON_FIELD_MAX_CHARS = {"budget": 10_000, "pde": 100_000, "literature": 100_000}


def field_of(message: str) -> list[str | int]:
    """The form field a loader message is about (``["body", ...]``)."""
    source = message.split(":", 1)[0]
    if source.endswith(".npz"):
        return ["body", "data"]
    if source == "description.md":
        return ["body", "description"]
    match = _FIELD.search(message)
    if match:
        return ["body", *match.group(1).split(".")]
    return ["body"]


def _json_field(raw: str | None, field: str) -> Any:
    if raw is None or raw == "":
        return None
    check_json(raw, ["body", field], max_size=JSON_FIELD_MAX_CHARS[field])  # 413/422 before json.loads recurses
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise field_error(["body", field], f"{field}: not valid JSON ({exc.msg} at position {exc.pos})") from None


class ProblemStore:
    def __init__(self, root: Path, limits: UserProblemLimits | None = None) -> None:
        self.root = root
        self.limits = limits or UserProblemLimits()
        self._lock = threading.Lock()

    def path_of(self, name: str) -> Path | None:
        if not re.match(NAME_PATTERN, name):
            return None
        path = self.root / name
        return path if (path / "problem.yaml").is_file() else None

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "problem.yaml").is_file())

    def create(self, *, name: str, kind: str, metric: str, description: str, data: BinaryIO, data_filename: str,
               budget: str | None, pde: str | None, literature: str | None) -> Any:
        """Validate and store an upload; returns the loaded problem. Raises ApiError (4xx) on bad input."""
        if name in BUILTINS:
            raise ApiError(409, f"name {name!r} is reserved by a built-in problem; choose another", field=["body", "name"])
        if "\x00" in description:
            raise field_error(["body", "description"], "description: contains a NUL character")
        if not description.strip():
            raise field_error(["body", "description"], "description: is empty")
        if not data_filename.lower().endswith(".npz"):
            raise field_error(["body", "data"], f"data: expected a .npz file, got {data_filename!r}")
        config: dict[str, Any] = {"name": name, "kind": kind, "metric": metric}
        budget_value = _json_field(budget, "budget")
        if budget_value is not None:
            if not isinstance(budget_value, dict):
                raise field_error(["body", "budget"], "budget: expected a JSON object")
            try:
                config["budget"] = ProblemBudget.model_validate(budget_value).model_dump()
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = [str(p) for p in first["loc"]]
                raise field_error(["body", "budget", *loc], f"budget.{'.'.join(loc)}: {first['msg']}") from None
        pde_value = _json_field(pde, "pde")
        if pde_value is not None:
            if not isinstance(pde_value, dict):
                raise field_error(["body", "pde"], "pde: expected a JSON object")
            config["pde"] = pde_value
        literature_value = _json_field(literature, "literature")
        if literature_value is not None:
            if not isinstance(literature_value, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in literature_value.items()):
                raise field_error(["body", "literature"], "literature: expected a JSON object of strings")
            if any("\x00" in k or "\x00" in v for k, v in literature_value.items()):
                raise field_error(["body", "literature"], "literature: contains a NUL character")
            config["literature"] = literature_value

        self.root.mkdir(parents=True, exist_ok=True)
        scratch = self.root / f".upload-{uuid.uuid4().hex}"
        scratch.mkdir()
        try:
            (scratch / "problem.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
            (scratch / "description.md").write_text(description, encoding="utf-8")
            with (scratch / "data.npz").open("wb") as out:
                shutil.copyfileobj(data, out, 1 << 20)
            try:
                problem = load_user_problem(scratch, self.limits)
            except ProblemValidationError as exc:
                raise field_error(field_of(str(exc)), str(exc)) from None
            with self._lock:
                target = self.root / name
                if target.exists():
                    raise ApiError(409, f"a problem named {name!r} already exists", field=["body", "name"])
                scratch.rename(target)
            problem.source = target
            return problem
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)
