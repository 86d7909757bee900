"""Fixtures for the batch and schedule tests: a migrated database on SQLite and (marked) on PostgreSQL.

Each PostgreSQL test gets a schema of its own on the shared server (``options=-csearch_path=...``), dropped
afterwards; when the server is unreachable those variants skip with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from app.db.session import Database, upgrade_database

from tests.postgres import BACKENDS, PG_BASE  # noqa: F401 - re-exported for test modules


@pytest.fixture(autouse=True)
def hashing_embedder(monkeypatch):
    """Campaigns file a discovered card at their end; the hashing embedder makes that milliseconds."""
    monkeypatch.setenv("AGENTIC_SCIML_EMBEDDER", "hashing")


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


def _pg_schema_url(admin) -> tuple[str, str]:
    schema = f"t_sched_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    return schema, f"{PG_BASE}?options=-csearch_path%3D{schema}"


@pytest.fixture
def empty_url(backend, tmp_path: Path, request) -> Iterator[str]:
    """An empty database of each kind."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'sched.db'}"
        return
    admin = request.getfixturevalue("pg_admin")
    schema, url = _pg_schema_url(admin)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture
def db_url(empty_url: str) -> str:
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
def pg_url(request) -> Iterator[str]:
    """A migrated PostgreSQL schema only (for what SQLite cannot show: row locks, SKIP LOCKED)."""
    admin = request.getfixturevalue("pg_admin")
    schema, url = _pg_schema_url(admin)
    upgrade_database(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture
def api_stack(empty_url, tmp_path, monkeypatch):
    """A service stack (tests/api/harness.py) whose servers run the scheduler loop every 0.2 s and accept
    schedules that fire every second."""
    from tests.api.harness import Stack

    monkeypatch.setenv("AGENTIC_SCIML_SCHEDULER_TICK_SECONDS", "0.2")
    monkeypatch.setenv("AGENTIC_SCIML_SCHEDULE_MIN_INTERVAL_SECONDS", "0")
    stack = Stack(url=empty_url, data_dir=tmp_path / "data")
    try:
        yield stack
    finally:
        stack.close()
