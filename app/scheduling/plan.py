"""From a batch spec to the campaigns it runs: problems resolved, configurations merged, budget split.

Who may ask for what depends on where the batch comes from, and :class:`PlanRules` carries the difference:

* the command line is trusted (it already holds the database): a problem may be a directory on this machine,
  and a team may name its own providers file;
* the API takes problem *names* only (a built-in, or a problem uploaded by the same user; admins see all),
  and only admins may name a providers file; an LLM team without one uses the service's.

Planning writes nothing, so a batch that fails here leaves no trace. Every error is a
:class:`~app.scheduling.spec.BatchSpecError` whose ``loc`` names the field at fault in the spec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.campaigns.config import CampaignConfig
from app.scheduling.budget import apply_share, split_budget
from app.scheduling.spec import BatchSpec, BatchSpecError

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class PlanRules:
    allow_paths: bool = False
    allow_providers_file: bool = False
    default_providers_file: str | None = None
    user_problems_dir: Path | None = None
    owner_id: int | None = None
    owner_is_admin: bool = False
    max_concurrency: int | None = None

    @classmethod
    def for_owner(cls, session: Any, owner_id: int | None, *, default_providers_file: str | None = None,
                  user_problems_dir: Path | None = None, max_concurrency: int | None = None) -> "PlanRules":
        """The API's rules for a batch that runs as ``owner_id`` (no owner: made with authentication off,
        by the anonymous admin)."""
        from app.db.models import User

        owner = session.get(User, owner_id) if owner_id is not None else None
        is_admin = owner is None or bool(owner.is_admin)
        return cls(allow_providers_file=is_admin, default_providers_file=default_providers_file,
                   user_problems_dir=user_problems_dir, owner_id=owner_id, owner_is_admin=is_admin,
                   max_concurrency=max_concurrency)

    @classmethod
    def trusted(cls, user_problems_dir: Path | None = None) -> "PlanRules":
        """The command line's rules."""
        return cls(allow_paths=True, allow_providers_file=True, user_problems_dir=user_problems_dir,
                   owner_is_admin=True)


@dataclass(frozen=True)
class ResolvedProblem:
    ref: str  # what CampaignConfig.problem holds: a built-in's name or an absolute directory
    name: str
    kind: str
    spec: dict[str, Any]
    source: str  # "builtin" | "user"


@dataclass
class PlannedRun:
    position: int
    problem: str  # as written in the batch
    team: str
    weight: float
    config: CampaignConfig
    resolved: ResolvedProblem
    share: dict[str, Any] = field(default_factory=dict)


def plan_batch(spec: BatchSpec, rules: PlanRules, session: Any = None) -> list[PlannedRun]:
    """The campaigns of ``spec`` in order (problem-major). ``session`` is needed to check who owns an
    uploaded problem; without it only built-ins and (trusted rules) directories resolve."""
    runs: list[PlannedRun] = []
    for i, entry in enumerate(spec.problems):
        resolved = resolve_problem(entry.problem, rules, session, loc=("problems", i, "problem"))
        for j, team in enumerate(spec.teams):
            merged, origin = _merge(spec, i, j)
            _check_access(merged, origin, rules, team_loc=("teams", j, "team"))
            try:
                if spec.allow_weak_isolation:  # the batch-wide consent (app/isolation.py)
                    merged["allow_weak_isolation"] = True
                config = CampaignConfig(problem=resolved.ref, **merged)
            except ValidationError as exc:
                error = exc.errors()[0]
                name = error["loc"][0] if error["loc"] else None
                loc = origin.get(str(name), ("teams", j)) if name is not None else ("teams", j)
                raise BatchSpecError(str(error["msg"]).removeprefix("Value error, "), loc) from None
            runs.append(PlannedRun(position=len(runs), problem=entry.problem, team=team.name,
                                   weight=entry.weight * team.weight, config=config, resolved=resolved))
    shares = split_budget(spec.budget, [run.weight for run in runs])
    for run, share in zip(runs, shares):
        run.share = share
        run.config = apply_share(run.config, share)
    return runs


def _merge(spec: BatchSpec, i: int, j: int) -> tuple[dict[str, Any], dict[str, tuple[str | int, ...]]]:
    """Campaign fields from defaults < team < problem entry, and where each value came from."""
    merged: dict[str, Any] = {}
    origin: dict[str, tuple[str | int, ...]] = {}
    layers: list[tuple[tuple[str | int, ...], Any]] = [
        (("defaults",), spec.defaults), (("teams", j), spec.teams[j]), (("problems", i), spec.problems[i])]
    for prefix, model in layers:
        if model is None:
            continue
        for key, value in model.model_dump(exclude_unset=True).items():
            if key in ("name", "weight", "problem"):
                continue
            merged[key] = value
            origin[key] = (*prefix, key)
    return merged, origin


def _check_access(merged: dict[str, Any], origin: dict[str, tuple[str | int, ...]], rules: PlanRules,
                  team_loc: tuple[str | int, ...]) -> None:
    """Providers file and concurrency: the rules of the API's single-campaign route, applied per run."""
    if merged.get("providers_file") is not None and not rules.allow_providers_file:
        raise BatchSpecError("only admins may choose a providers file; leave it out to use the service's",
                             origin["providers_file"])
    if merged.get("team") == "llm" and not merged.get("providers_file"):
        if rules.default_providers_file:
            merged["providers_file"] = rules.default_providers_file
        elif rules.allow_paths:
            raise BatchSpecError("team 'llm' needs providers_file (a providers YAML; see agents/llm/README.md)",
                                 origin.get("team", team_loc))
        else:
            raise BatchSpecError("team 'llm' is not available: this service has no LLM providers file "
                                 "configured (AGENTIC_SCIML_LLM_PROVIDERS_FILE)", origin.get("team", team_loc))
    concurrency = merged.get("concurrency", 1)
    if rules.max_concurrency is not None and isinstance(concurrency, int) and concurrency > rules.max_concurrency:
        raise BatchSpecError(f"concurrency {concurrency} exceeds this service's limit of {rules.max_concurrency} "
                             "evaluations in flight", origin["concurrency"])


def resolve_problem(ref: str, rules: PlanRules, session: Any, *, loc: tuple[str | int, ...]) -> ResolvedProblem:
    """A built-in, an uploaded problem the owner may use, or (trusted rules) a problem directory."""
    from problems.errors import ProblemNotFound, ProblemValidationError
    from problems.registry import BUILTINS, get_problem

    path: Path | None = None
    if ref in BUILTINS:
        source = "builtin"
    elif rules.user_problems_dir is not None and NAME_PATTERN.match(ref) \
            and (rules.user_problems_dir / ref / "problem.yaml").is_file() and _may_use_upload(ref, rules, session):
        path, source = rules.user_problems_dir / ref, "user"
    elif rules.allow_paths and ("/" in ref or Path(ref).expanduser().exists()):
        path, source = Path(ref).expanduser().resolve(), "user"
    else:
        where = "a built-in" if not rules.allow_paths else "a built-in, an uploaded problem"
        raise BatchSpecError(f"unknown problem {ref!r}: not {where} ({', '.join(BUILTINS)}) "
                             f"nor {'a problem directory' if rules.allow_paths else 'one of your uploaded problems'}",
                             loc)
    try:
        problem = get_problem(ref if path is None else path)
    except (ProblemNotFound, ProblemValidationError, ValueError, OSError) as exc:
        raise BatchSpecError(f"problem {ref!r}: {exc}", loc) from None
    spec = problem.spec
    return ResolvedProblem(ref=ref if path is None else str(path), name=spec.name, kind=spec.kind,
                           spec=spec.model_dump(mode="json"), source=source)


def _may_use_upload(name: str, rules: PlanRules, session: Any) -> bool:
    if rules.owner_is_admin:
        return True
    if session is None:
        return False
    from app.db import repository as repo

    row = repo.get_problem_by_name(session, name)
    return row is not None and row.source == "user" and row.owner_id is not None and row.owner_id == rules.owner_id
