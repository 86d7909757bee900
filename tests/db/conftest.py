"""Database fixtures: every DB test runs on SQLite (a temp file) and on PostgreSQL.

PostgreSQL isolation: the server may be shared with other test runs, so nothing here touches the
``public`` schema. Each test gets a schema named ``t_<session tag>_<n>`` (selected through libpq's
``options=-csearch_path=...``), dropped when the test ends; a session finaliser drops any leftover with
this session's tag. When the server is unreachable the PostgreSQL variants skip with the reason.
"""

from __future__ import annotations

import itertools
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from app.db.session import Database, upgrade_database  # noqa: E402

from tests.postgres import PG_BASE as PG_BASE_URL  # noqa: E402
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs the PostgreSQL server at 127.0.0.1:5432")


class _PgServer:
    """Admin connection to the shared server plus the bookkeeping of this session's schemas."""

    def __init__(self, base_url: str) -> None:
        self.base_url = make_url(base_url)
        self.tag = f"{os.getpid()}_{secrets.token_hex(3)}"
        self._counter = itertools.count(1)
        self.engine = create_engine(
            self.base_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )

    def create_schema(self) -> tuple[str, str]:
        name = f"t_{self.tag}_{next(self._counter)}"
        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        url = self.base_url.update_query_dict({"options": f"-csearch_path={name}"})
        return name, url.render_as_string(hide_password=False)

    def drop_schema(self, name: str) -> None:
        with self.engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))

    def drop_leftovers(self) -> None:
        with self.engine.connect() as conn:
            names = conn.execute(
                text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :pattern"),
                {"pattern": f"t\\_{self.tag}\\_%"},
            ).scalars()
            for name in list(names):
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[_PgServer]:
    try:
        server = _PgServer(PG_BASE_URL)
        with server.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means "skip"
        pytest.skip(f"PostgreSQL not reachable at {PG_BASE_URL}: {type(exc).__name__}: {exc}".splitlines()[0])
    try:
        yield server
    finally:
        server.drop_leftovers()
        server.engine.dispose()


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database of each kind (no tables, no alembic_version)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    server: _PgServer = request.getfixturevalue("pg_server")
    name, url = server.create_schema()
    try:
        yield url
    finally:
        server.drop_schema(name)


@pytest.fixture
def db_url(empty_url: str) -> str:
    """URL of a database migrated to head."""
    upgrade_database(empty_url)
    return empty_url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def pg_db(pg_server: _PgServer) -> Iterator[Database]:
    """A migrated PostgreSQL database only, for behaviour SQLite does not have (SKIP LOCKED, ...)."""
    name, url = pg_server.create_schema()
    upgrade_database(url)
    database = Database(url)
    try:
        yield database
    finally:
        database.dispose()
        pg_server.drop_schema(name)
