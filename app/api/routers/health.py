"""Liveness, readiness and Prometheus metrics.

``healthz`` and ``readyz`` need no key (orchestrators probe them); ``metrics`` needs a read key because it
describes every user's activity in aggregate.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.api.auth import Principal, require_read
from app.api.context import ApiContext, get_ctx
from app.api.errors import AUTH, responses
from app.api.schemas import Health, Readiness
from app.workers import heartbeat

router = APIRouter(tags=["service"])


def _isolation(ctx: ApiContext) -> dict:
    """Which sandbox backend candidates get (app/isolation.py); weak ones need allow_weak_isolation."""
    from app.isolation import isolation_status

    try:
        return isolation_status(ctx.settings)
    except Exception as exc:  # noqa: BLE001 - reported, not raised: liveness must not fail on it
        return {"error": f"{type(exc).__name__}: {exc}"}


@router.get("/healthz", response_model=Health,
            summary="Liveness: the process answers; says which isolation backend candidates get")
def healthz(ctx: ApiContext = Depends(get_ctx)) -> Health:
    return Health(status="ok", isolation=_isolation(ctx))


@router.get("/readyz", response_model=Readiness, summary="Readiness: database reachable and a worker alive",
            responses={503: {"model": Readiness, "description": "Not ready"}})
def readyz(ctx: ApiContext = Depends(get_ctx)) -> Response:
    database, workers = "ok", []
    try:
        with ctx.db.session_scope(readonly=True) as s:
            s.execute(text("SELECT 1"))
            workers = heartbeat.alive(s)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        database = f"unreachable: {type(exc).__name__}"
    ready = database == "ok" and (bool(workers) or not ctx.service.ready_requires_workers)
    body = Readiness(ready=ready, database=database, workers_alive=len(workers), workers=workers,
                     isolation=_isolation(ctx))
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
                       **responses(*AUTH)})
def metrics(ctx: ApiContext = Depends(get_ctx), principal: Principal = Depends(require_read)) -> Response:
    return Response(generate_latest(ctx.registry), media_type=CONTENT_TYPE_LATEST)
