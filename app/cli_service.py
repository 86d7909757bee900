"""Service commands on the ``agentic-sciml`` CLI: ``serve``, ``worker`` and ``keys``.

Importing this module registers them on :data:`app.cli.app`. ``serve`` runs the REST API with in-process
workers; ``worker`` runs workers alone against the same database (scale out by starting more); ``keys``
creates, lists and revokes API keys (a new key is printed once, on stdout, and stored only hashed).
"""

from __future__ import annotations

import json
import logging
from typing import Optional

import typer
from pydantic import ValidationError

from app.cli import _allow_weak_option, _fail, _validation_message, app
from app.settings import get_settings

keys_app = typer.Typer(add_completion=False, no_args_is_help=True, help="API keys for the REST API.")
app.add_typer(keys_app, name="keys")


def _service_settings(**overrides: object):
    from app.api.settings import ServiceSettings

    try:
        return ServiceSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        _fail(_validation_message(exc))


def _team_factory(path: str | None):
    from app.workers.teams import load_team_factory

    try:
        return load_team_factory(path)
    except (ValueError, TypeError) as exc:
        _fail(str(exc))


def _service_isolation(allow: bool):
    """The settings with the command line's consent to a weak sandbox, and a line saying which one is used.

    A service does not refuse to start on a weak backend: its workers refuse each campaign that did not
    allow it (the API's ``allow_weak_isolation`` field), unless the whole service does (this flag or
    ``AGENTIC_SCIML_ALLOW_WEAK_ISOLATION=1``)."""
    from app.isolation import FIELD, isolation_status

    settings = get_settings()
    if allow:
        settings.allow_weak_isolation = True
    status = isolation_status(settings)
    line = f"isolation: {status['backend'] or status['requested']} ({status['strength']})"
    if status.get("error"):
        _fail(str(status["error"]))
    if status["weak"]:
        line += (f"; WEAK: {status.get('weakness', '')}; "
                 + ("every campaign may run, its scores marked weak_isolation" if status[FIELD] else
                    f"campaigns that do not set {FIELD} are refused (--allow-weak-isolation allows all)"))
    typer.echo(line, err=True)
    return settings


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@app.command("serve")
def serve_cmd(
    host: Optional[str] = typer.Option(None, "--host", help="Bind address (default 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, "--port", help="Port (default 8000)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="In-process worker threads (0: API only)."),
    embedded: Optional[bool] = typer.Option(None, "--embedded/--no-embedded",
                                            help="Single-user demo: no API keys, loopback only."),
    demo: bool = typer.Option(False, "--demo", help="Queue a short offline campaign at start-up (implies "
                              "--embedded unless --no-embedded) and print its dashboard address."),
    demo_problem: str = typer.Option("discontinuous_fit1d", "--demo-problem", help="Problem of the --demo campaign."),
    allow_weak_isolation: bool = _allow_weak_option(),
) -> None:
    """Run the REST API (under /v1) and the web dashboard (under /ui/) with in-process workers."""
    import uvicorn

    from app.api import create_app
    from app.api.settings import is_loopback
    from app.dashboard.demo import dashboard_url, queue_demo_campaign
    from app.workers.pool import WorkerPool

    if demo:
        embedded = True if embedded is None else embedded
        workers = max(1, workers if workers is not None else 1)
    service = _service_settings(host=host, port=port, workers=workers, embedded=embedded)
    if service.embedded and not is_loopback(service.host):
        _fail(f"embedded mode has no authentication and binds to loopback only, not {service.host!r}; "
              "drop --embedded (and create keys with `agentic-sciml keys create`) to serve on the network")
    _logging()
    settings = _service_isolation(allow_weak_isolation)
    demo_id = None
    if demo:
        from problems.errors import ProblemNotFound, ProblemValidationError

        try:
            demo_id = queue_demo_campaign(settings, service, demo_problem)
        except (ProblemNotFound, ProblemValidationError) as exc:
            _fail(str(exc))
    pool = None
    if service.workers > 0:
        pool = WorkerPool.from_settings(settings, size=service.workers, options=service.worker_options(),
                                        team_factory=_team_factory(service.team_factory))
    application = create_app(settings, service, pool=pool)
    auth = "API keys required" if service.auth_required else "no authentication (embedded)"
    typer.echo(f"serving http://{service.host}:{service.port}/v1 ({auth}; {service.workers} worker(s))", err=True)
    if demo_id is not None:
        typer.echo(f"demo campaign {demo_id} ({demo_problem}) queued; Ctrl-C stops the server", err=True)
    typer.echo(f"dashboard: {dashboard_url(service.host, service.port, demo_id)}")
    uvicorn.run(application, host=service.host, port=service.port, log_level="info", timeout_graceful_shutdown=5,
                proxy_headers=False)


@app.command("worker")
def worker_cmd(
    threads: Optional[int] = typer.Option(None, "--threads", "-n", help="Campaigns run at once (default 1)."),
    lease_seconds: Optional[float] = typer.Option(None, "--lease-seconds", help="Work lease length."),
    heartbeat_seconds: Optional[float] = typer.Option(None, "--heartbeat-seconds", help="Lease renewal period."),
    poll_seconds: Optional[float] = typer.Option(None, "--poll-seconds", help="Idle polling period."),
    team_factory: Optional[str] = typer.Option(None, "--team-factory", hidden=True,
                                               help="module:callable building the team (tests, plugins)."),
    name: Optional[str] = typer.Option(None, "--name", help="Worker name in leases and logs."),
    allow_weak_isolation: bool = _allow_weak_option(),
) -> None:
    """Run workers that claim queued campaigns from the shared database (SIGTERM stops them cleanly)."""
    from app.workers.main import run_worker_process

    service = _service_settings(lease_seconds=lease_seconds, heartbeat_seconds=heartbeat_seconds,
                                poll_seconds=poll_seconds, team_factory=team_factory)
    _logging()
    size = threads if threads is not None else max(1, service.workers)
    if size < 1:
        _fail("--threads must be at least 1")
    typer.echo(f"worker: {size} thread(s), lease {service.lease_seconds:g} s", err=True)
    settings = _service_isolation(allow_weak_isolation)
    run_worker_process(settings, size=size, options=service.worker_options(),
                       team_factory=_team_factory(service.team_factory), name=name)


@keys_app.command("create")
def keys_create(
    name: str = typer.Option(..., "--name", help="What the key is for (also the user name unless --user)."),
    scope: str = typer.Option("read", "--scope", help="read or write (write includes read)."),
    admin: bool = typer.Option(False, "--admin", help="Sees and controls every user's campaigns."),
    user: Optional[str] = typer.Option(None, "--user", help="Owner of the key (created if new)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from app.api.auth import create_key
    from app.campaigns.service import open_database

    if scope not in ("read", "write"):
        _fail(f"--scope must be 'read' or 'write', not {scope!r}", as_json=as_json)
    if not name.strip() or len(name) > 100:
        _fail("--name must be 1 to 100 characters", as_json=as_json)
    db = open_database(get_settings())
    try:
        created = create_key(db, name=name, scope=scope, admin=admin, username=user)  # type: ignore[arg-type]
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps({"key": created.key, "prefix": created.prefix, "user": created.username,
                               "user_id": created.user_id, "scopes": created.scopes, "admin": created.is_admin,
                               "name": created.name}))
        return
    typer.echo(created.key)
    typer.echo(f"key {created.prefix} for user {created.username!r}: scopes {', '.join(created.scopes)}"
               f"{', admin' if created.is_admin else ''}. Store it now: it is not shown again.", err=True)


@keys_app.command("list")
def keys_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Keys by prefix, owner, scopes and last use (never the keys themselves)."""
    from app.api.auth import list_keys
    from app.campaigns.service import open_database

    db = open_database(get_settings())
    try:
        rows = list_keys(db)
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps({"keys": rows}))
        return
    for r in rows:
        flags = ",".join(r["scopes"]) + (",admin" if r["admin"] else "") + (" REVOKED" if r["revoked"] else "")
        typer.echo(f"{r['prefix']}  {r['user']:<16} {r['name']:<20} {flags}  last used {r['last_used_at'] or '—'}")


@keys_app.command("revoke")
def keys_revoke(prefix: str = typer.Argument(..., help="The key's prefix (see `keys list`).")) -> None:
    """Revoke a key at once."""
    from app.api.auth import revoke_key
    from app.campaigns.service import open_database

    db = open_database(get_settings())
    try:
        done = revoke_key(db, prefix)
    finally:
        db.dispose()
    if not done:
        _fail(f"no active key with prefix {prefix!r}")
    typer.echo(f"revoked {prefix}")
