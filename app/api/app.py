"""The FastAPI application: every route under ``/v1``, probes also at the root for orchestrators."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from fastapi import FastAPI

from app.api import errors
from app.api.auth import KeyVerifier
from app.api.context import ApiContext
from app.api.json_limits import JsonBodyLimit
from app.api.limits import BodySizeLimit
from app.api.metrics import build_registry
from app.api.problem_store import ProblemStore
from app.api.routers import campaigns, dashboard_data, events, health, knowledge, me, nodes, problems
from app.api.routers import batches, schedules
from app.api.settings import ServiceSettings
from app.api.sse import EventHub
from app.db.artifacts import ArtifactStore
from app.settings import Settings, get_settings

log = logging.getLogger(__name__)
API_PREFIX = "/v1"
DESCRIPTION = """\
Agents that discover scientific machine learning methods, as a service.

Create a campaign on a problem and a worker evolves a tree of candidate solutions; follow it live through the
event stream, inspect every node (code, diff, debate, logs, curves) and download the champion.

**Auth.** Send `Authorization: Bearer <key>` (keys come from `agentic-sciml keys create`). Read keys may call
every GET; write keys may also create, control and delete. A key sees its user's campaigns; admin keys see all.
"""


def create_app(settings: Settings | None = None, service: ServiceSettings | None = None, *,
               pool: Any = None, memory: Any = None, database: Any = None) -> FastAPI:
    """Build the app. ``pool`` (a :class:`~app.workers.pool.WorkerPool`) is started and stopped with it;
    ``memory`` replaces the knowledge base (tests); ``database`` reuses an open :class:`Database`."""
    from app.campaigns.service import open_database

    settings = settings or get_settings()
    service = service or ServiceSettings()
    db = database or open_database(settings)
    registry, http_metrics = build_registry(db, API_PREFIX)
    ctx = ApiContext(
        settings=settings, service=service, db=db, store=ArtifactStore(settings.data_dir / "artifacts"),
        problems=ProblemStore(settings.data_dir / "user_problems"), verifier=KeyVerifier(db, service.auth_cache_seconds),
        events=EventHub(db, service.sse_poll_seconds, service.sse_gap_grace_seconds), registry=registry, http_metrics=http_metrics,
        pool=pool, memory_override=memory,
    )
    from app.scheduling.loop import scheduler_for_api

    scheduler = scheduler_for_api(ctx)  # fires due schedules; any number of instances may run one

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await ctx.events.start()
        if ctx.pool is not None:
            ctx.pool.start()
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            await ctx.events.stop()
            if scheduler is not None:
                import anyio

                await anyio.to_thread.run_sync(scheduler.stop)
            if ctx.pool is not None:
                import anyio

                await anyio.to_thread.run_sync(ctx.pool.stop)
            ctx.db.dispose()

    app = FastAPI(title="agentic-sciml", version="1", description=DESCRIPTION, lifespan=lifespan,
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs", redoc_url=None)
    app.state.ctx = ctx
    app.state.scheduler = scheduler
    errors.install(app)
    for module in (health, me, problems, campaigns, nodes, events, knowledge, dashboard_data, batches, schedules):
        app.include_router(module.router, prefix=API_PREFIX)
    # Probes where orchestrators look for them too (not repeated in the schema).
    app.add_api_route("/healthz", health.healthz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/readyz", health.readyz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/metrics", health.metrics, methods=["GET"], include_in_schema=False)
    from app.dashboard import install as install_dashboard

    install_dashboard(app)  # the web pages under /ui/ (static files; the data comes from /v1 with the user's key)
    app.add_middleware(JsonBodyLimit, max_bytes=service.max_body_bytes)  # inside BodySizeLimit, before any parse
    app.add_middleware(BodySizeLimit, default_limit=service.max_body_bytes, upload_limit=service.max_upload_bytes)
    app.add_middleware(_Wrap, wrap=http_metrics.middleware)
    return app


class _Wrap:
    """Adapts a function-style ASGI middleware (``wrap(app) -> app``) to ``add_middleware``."""

    def __init__(self, app: Any, wrap: Any) -> None:
        self._inner = wrap(app)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._inner(scope, receive, send)
