"""Operations commands for deployments: ``agentic-sciml db upgrade|current|workers``.

Every process already migrates on start, but in a deployment several containers start at once; a single
``db upgrade`` step before them (the compose file's ``migrate`` service) keeps concurrent Alembic runs
out of the picture and waits for the database to accept connections first. ``db workers`` is the
workers' health check: it succeeds while a worker on the given host keeps its heartbeat fresh.
"""

from __future__ import annotations

import json
import time
from typing import Optional

import typer

from app.cli import _fail, app
from app.settings import get_settings

db_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Database schema and worker liveness.")
app.add_typer(db_app, name="db")


def _url() -> str:
    settings = get_settings()
    if settings.database_url is None:  # the default SQLite file lives in the data directory
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.resolved_database_url


def _wait_for_database(url: str, wait_seconds: float) -> None:
    """Retry until the server accepts connections (a database container starts slower than its clients)."""
    from sqlalchemy import text

    from app.db.session import make_engine

    deadline = time.monotonic() + wait_seconds
    while True:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except Exception as exc:  # noqa: BLE001 - any connection failure is retried, then reported
            if time.monotonic() >= deadline:
                _fail(f"database not reachable after {wait_seconds:g} s: {type(exc).__name__}: {exc}")
            time.sleep(1.0)
        finally:
            engine.dispose()


@db_app.command("upgrade")
def upgrade_cmd(
    revision: str = typer.Option("head", "--revision", help="Target revision."),
    wait_seconds: float = typer.Option(60.0, "--wait-seconds", min=0,
                                       help="How long to wait for the database to accept connections."),
) -> None:
    """Apply the Alembic migrations (safe to repeat)."""
    from app.db.session import current_revision, upgrade_database

    url = _url()
    _wait_for_database(url, wait_seconds)
    upgrade_database(url, revision)
    typer.echo(f"database at revision {current_revision(url)}", err=True)


@db_app.command("current")
def current_cmd(as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout.")) -> None:
    """Print the schema revision the database is at (empty for an unmigrated database)."""
    from app.db.session import current_revision

    revision = current_revision(_url())
    typer.echo(json.dumps({"revision": revision}) if as_json else (revision or ""))


@db_app.command("workers")
def workers_cmd(
    host: Optional[str] = typer.Option(None, "--host", help="Only workers running on this host name."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """List workers with a fresh heartbeat; exit status 1 when there is none (on --host)."""
    from app.db.session import Database
    from app.workers import heartbeat

    db = Database(_url())
    try:
        with db.session_scope(readonly=True) as s:
            alive = heartbeat.alive(s)
    finally:
        db.dispose()
    if host is not None:
        alive = [w for w in alive if w.get("host") == host]
    if as_json:
        typer.echo(json.dumps({"workers": alive}))
    else:
        for worker in alive:
            typer.echo(f"{worker['worker_id']}  host {worker.get('host', '?')}  "
                       f"pid {worker.get('pid', '?')}  until {worker['expires_at']}")
    if not alive:
        raise typer.Exit(1)
