"""What a batch file says: problems, team configurations, shared defaults and a budget for the whole group.

A batch runs every problem with every team configuration (problems × teams campaigns). Team configurations
and defaults take the fields of :class:`~app.campaigns.config.CampaignConfig` (minus ``problem``), so a
field added there is accepted here without a change. A problem entry may override fields for that problem
(a longer candidate budget for a stiff PDE, say). Precedence, lowest first: ``defaults``, the team, the
problem entry. Example: ``examples/batch.yaml``.

The bounds of a few fields are tightened to what the database and the service can hold (a seed must fit an
INTEGER column, for instance), so that a bad value is a validation error naming the field and never a
failed insert later.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, create_model, field_validator

from app.campaigns.config import CampaignConfig

MAX_DB_INT = 2**31 - 1
MAX_CAMPAIGNS = 64
MAX_SPEC_BYTES = 256 * 1024
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
TEAM_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

# Bounds that CampaignConfig leaves open but a stored campaign cannot exceed.
_TIGHTER: dict[str, tuple[Any, Any]] = {
    "seed": (int, Field(0, ge=0, le=MAX_DB_INT)),
    "explore_iterations": (int, Field(1, ge=0, le=1000, description="early iterations that mutate every scored node")),
    "max_children": (int, Field(4, ge=1, le=1000, description="a node with this many children is no longer eligible")),
    "reeval_seeds": (list[int], Field(default_factory=list, max_length=32,
                                      description="extra seeds to re-run the champion with")),
    "max_wall_seconds": (float | None, Field(None, gt=0, le=365 * 86400)),
    "max_cost_usd": (float | None, Field(None, ge=0, le=1e9)),
    "max_tokens": (int | None, Field(None, ge=0, le=10**12, description="LLM token cap for the campaign")),
    "target_score": (float | None, Field(None, gt=0, le=1e30)),
    "providers_file": (str | None, Field(None, max_length=1000, pattern=PRINTABLE,
                                         description="providers YAML for the LLM team")),
}


def _campaign_fields(exclude: set[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, info in CampaignConfig.model_fields.items():
        if name in exclude:
            continue
        fields[name] = _TIGHTER.get(name, (info.annotation, info))
    return fields


_FORBID = ConfigDict(extra="forbid")

CampaignDefaults = create_model(  # type: ignore[call-overload]
    "CampaignDefaults", __config__=_FORBID, __doc__="Campaign fields applied to every run of the batch.",
    **_campaign_fields({"problem"}),
)

TeamConfig = create_model(  # type: ignore[call-overload]
    "TeamConfig", __config__=_FORBID,
    __doc__="A named team configuration: the campaign fields (team, iterations, parents, ...) it runs with.",
    name=(str, Field(pattern=TEAM_NAME_PATTERN, description="shown in the report; unique within the batch")),
    weight=(float, Field(1.0, ge=0.001, le=1e6, description="relative share of the batch budget")),
    **_campaign_fields({"problem"}),
)

ProblemEntry = create_model(  # type: ignore[call-overload]
    "ProblemEntry", __config__=_FORBID,
    __doc__="A problem, with optional campaign fields that apply to this problem only.",
    problem=(str, Field(min_length=1, max_length=1000, pattern=PRINTABLE,
                        description="built-in or uploaded problem name (CLI: also a problem directory)")),
    weight=(float, Field(1.0, ge=0.001, le=1e6, description="relative share of the batch budget")),
    **_campaign_fields({"problem", "team", "providers_file"}),
)


class BatchBudget(BaseModel):
    """Caps for the whole group, split between its campaigns in proportion to their weights."""

    model_config = _FORBID

    max_wall_seconds: float | None = Field(None, ge=1, le=365 * 86400,
                                           description="campaign-seconds for the whole batch (sum over campaigns)")
    max_cost_usd: float | None = Field(None, ge=0, le=1e9, description="LLM spending for the whole batch")
    max_tokens: int | None = Field(None, ge=0, le=10**12, description="LLM tokens for the whole batch")

    def caps(self) -> dict[str, float | int]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class BatchSpec(BaseModel):
    """A batch: problems × team configurations, shared defaults and a shared budget."""

    model_config = _FORBID

    name: str = Field(min_length=1, max_length=100, pattern=PRINTABLE, description="display name")
    description: str | None = Field(None, max_length=2000, pattern=PRINTABLE)
    problems: list[ProblemEntry] = Field(  # type: ignore[valid-type]
        min_length=1, max_length=MAX_CAMPAIGNS,
        description="problem names, or objects {problem, weight, <campaign fields>}")
    teams: list[TeamConfig] = Field(  # type: ignore[valid-type]
        default_factory=lambda: [TeamConfig(name="offline")], min_length=1, max_length=16,
        description="team configurations; every problem runs with every one (default: the offline team)")
    defaults: CampaignDefaults | None = None  # type: ignore[valid-type]
    budget: BatchBudget = Field(default_factory=BatchBudget)
    allow_weak_isolation: bool = Field(
        False, description="every campaign of the batch runs even if the sandbox is weaker than bubblewrap "
        "(unshare or none: candidates can read host files); such scores are marked weak_isolation")

    @field_validator("problems", mode="before")
    @classmethod
    def _names_as_entries(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"problem": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("teams")
    @classmethod
    def _unique_names_and_size(cls, teams: list[Any], info: ValidationInfo) -> list[Any]:
        names = [t.name for t in teams]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValueError(f"team name {name!r} is used twice (teams[{names.index(name)}] and teams[{index}])")
        problems = info.data.get("problems") or []
        count = len(problems) * len(teams)
        if count > MAX_CAMPAIGNS:
            raise ValueError(f"a batch runs at most {MAX_CAMPAIGNS} campaigns; this one would run {count} "
                             f"({len(problems)} problems × {len(teams)} teams)")
        return teams

    @property
    def campaign_count(self) -> int:
        return len(self.problems) * len(self.teams)


class BatchSpecError(ValueError):
    """A batch that cannot run; ``loc`` names the field (``("teams", 1, "iterations")``)."""

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc

    def __str__(self) -> str:
        where = format_loc(self.loc)
        return f"{where}: {self.message}" if where and where not in self.message else self.message


def format_loc(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """``("teams", 1, "iterations")`` → ``teams[1].iterations``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _message(error: Any) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden" and loc:
        name = loc[-1]
        if name == "problem" and len(loc) > 1 and loc[0] in ("teams", "defaults"):
            return "a team configuration cannot name a problem; list problems under 'problems'"
        if name in ("team", "providers_file") and loc[0] == "problems":
            return f"{name!r} belongs to a team configuration (under 'teams'), not to a problem entry"
        return f"unknown field {name!r}"
    return str(error["msg"]).removeprefix("Value error, ")


def first_error(exc: ValidationError) -> BatchSpecError:
    """The first pydantic error as a BatchSpecError (message without pydantic's "Value error, " prefix)."""
    error = exc.errors()[0]
    return BatchSpecError(_message(error), tuple(error["loc"]))


def parse_spec(data: Any) -> BatchSpec:
    """Validate a decoded batch (a dict); raises BatchSpecError naming the first bad field."""
    if not isinstance(data, dict):
        raise BatchSpecError(f"a batch is a mapping with 'name', 'problems' and 'teams', not {type(data).__name__}")
    try:
        return BatchSpec.model_validate(data)
    except ValidationError as exc:
        raise first_error(exc) from None


def load_batch_file(path: str | Path) -> BatchSpec:
    """Read a batch from YAML (or JSON, by the ``.json`` suffix); errors name the file and the field."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BatchSpecError(f"{path}: no such file") from None
    except OSError as exc:
        raise BatchSpecError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise BatchSpecError(f"{path}: larger than {MAX_SPEC_BYTES // 1024} KiB; is this a batch file?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BatchSpecError(f"{path}: not UTF-8 text") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise BatchSpecError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise BatchSpecError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    try:
        return parse_spec(data)
    except BatchSpecError as exc:
        where = format_loc(exc.loc)
        prefix = f"{path}: field '{where}'" if where else f"{path}"
        raise BatchSpecError(f"{prefix}: {exc.message}", exc.loc) from None
