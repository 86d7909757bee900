"""Problems: the built-in suite, plus problems users upload (validated like hand-made user problems)."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Path, UploadFile
from sqlalchemy import select

from app.api.auth import Principal, require_read, require_write
from app.api.context import ApiContext, get_ctx
from app.api.errors import AUTH, BODY, not_found, responses
from app.api.problem_store import JSON_FIELD_MAX_CHARS, NAME_PATTERN
from app.api.schemas import ProblemDetail, ProblemList, ProblemSummary
from app.db import repository as repo
from app.db.models import Problem
from problems.registry import BUILTINS, list_problems

router = APIRouter(tags=["problems"])


def first_line(markdown: str) -> str:
    for line in markdown.splitlines():
        text = line.strip().lstrip("#").strip()
        if text:
            return text[:160]
    return ""


@lru_cache(maxsize=1)
def _builtin_summaries() -> tuple[ProblemSummary, ...]:
    """Built-in specs never change while the process runs; building them costs more than the request."""
    return tuple(ProblemSummary(name=s.name, kind=s.kind, metric=s.metric, source="builtin",
                                summary=first_line(s.description), budget=s.budget.model_dump())
                 for s in list_problems())


@cache
def _builtin_detail(name: str) -> ProblemDetail:
    spec = BUILTINS[name]().spec
    return ProblemDetail(name=spec.name, kind=spec.kind, metric=spec.metric, source="builtin",
                         summary=first_line(spec.description), budget=spec.budget.model_dump(),
                         description=spec.description, pde=spec.pde, literature=spec.literature)


def _user_detail(row: Problem) -> ProblemDetail:
    spec = row.spec or {}
    return ProblemDetail(name=row.name, kind=row.kind, metric=spec.get("metric", "rel_l2"), source="user",
                         summary=first_line(spec.get("description", "")), budget=spec.get("budget", {}),
                         owner_id=row.owner_id, description=spec.get("description", ""), pde=spec.get("pde"),
                         literature=spec.get("literature", {}), fingerprint=spec.get("_fingerprint"))


@router.get("/problems", response_model=ProblemList, summary="Built-in problems and your uploaded ones",
            responses=responses(*AUTH))
def list_all(ctx: ApiContext = Depends(get_ctx), principal: Principal = Depends(require_read)) -> ProblemList:
    items = list(_builtin_summaries())
    stored = set(ctx.problems.names())
    with ctx.db.session_scope(readonly=True) as s:
        rows = s.scalars(select(Problem).where(Problem.source == "user", Problem.name.in_(stored)).order_by(Problem.name))
        for row in rows:
            if principal.can_see(row.owner_id):
                detail = _user_detail(row)
                items.append(ProblemSummary(**detail.model_dump(include=set(ProblemSummary.model_fields))))
    return ProblemList(items=items)


@router.get("/problems/{name}", response_model=ProblemDetail, summary="One problem with its full description",
            responses=responses(*AUTH, 404))
def get_one(name: str = Path(pattern=NAME_PATTERN), ctx: ApiContext = Depends(get_ctx),
            principal: Principal = Depends(require_read)) -> ProblemDetail:
    if name in BUILTINS:
        return _builtin_detail(name)
    with ctx.db.session_scope(readonly=True) as s:
        row = repo.get_problem_by_name(s, name)
        if row is None or row.source != "user" or ctx.problems.path_of(name) is None \
                or not principal.can_see(row.owner_id):
            raise not_found(f"problem {name!r}")
        return _user_detail(row)


@router.post("/problems", response_model=ProblemDetail, status_code=201, summary="Upload a problem",
             description="Multipart form: `name`, `kind`, `metric`, `description` (markdown), `data` (an .npz with "
                         "train_<name>, query_<name> and targets arrays), optional `budget`, `pde` and "
                         "`literature` as JSON objects. The rules are those of hand-made user problems "
                         "(see problems/user.py); a rejection names the field at fault.",
             responses=responses(*AUTH, *BODY, 409))
def upload(
    name: str = Form(pattern=NAME_PATTERN, description="unique problem name"),
    kind: Literal["pinn", "operator", "regression"] = Form(),
    description: str = Form(min_length=1, max_length=200_000, description="markdown shown to agents"),
    data: UploadFile = File(description=".npz with the arrays"),
    metric: Literal["rel_l2", "mse"] = Form("rel_l2"),
    budget: str | None = Form(None, max_length=JSON_FIELD_MAX_CHARS["budget"],
                              description='JSON, e.g. {"wall_seconds": 30}'),
    pde: str | None = Form(None, max_length=JSON_FIELD_MAX_CHARS["pde"], description="JSON PDE spec (kind pinn only)"),
    literature: str | None = Form(None, max_length=JSON_FIELD_MAX_CHARS["literature"],
                                  description="JSON object of strings"),
    ctx: ApiContext = Depends(get_ctx),
    principal: Principal = Depends(require_write),
) -> ProblemDetail:
    from app.api.errors import ApiError

    with ctx.db.session_scope(readonly=True) as s:
        if repo.get_problem_by_name(s, name) is not None:
            raise ApiError(409, f"a problem named {name!r} already exists", field=["body", "name"])
    problem = ctx.problems.create(name=name, kind=kind, metric=metric, description=description, data=data.file,
                                  data_filename=data.filename or "", budget=budget, pde=pde, literature=literature)
    spec = {**problem.spec.model_dump(mode="json"), "_fingerprint": problem.fingerprint()}
    with ctx.db.session_scope() as s:
        row = repo.upsert_problem(s, name, kind=problem.spec.kind, spec=spec, source="user",
                                  owner_id=principal.user_id)
        return _user_detail(row)
