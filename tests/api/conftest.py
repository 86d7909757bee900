"""Fixtures for the service tests: a Stack per test, on SQLite and (marked ``postgres``) on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from tests.api.harness import Stack

from tests.postgres import BACKENDS, PG_BASE  # noqa: F401 - re-exported for test modules


def _database_url(backend: str, tmp_path, request) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    admin = request.getfixturevalue("pg_admin")
    schema = f"t_api_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture(autouse=True)
def hashing_embedder(monkeypatch):
    """The engine files a discovered card at the end of each campaign, which embeds the card collection into a
    fresh data directory: seconds with the sentence model, milliseconds with the hashing embedder. Worker
    subprocesses inherit the variable."""
    monkeypatch.setenv("AGENTIC_SCIML_EMBEDDER", "hashing")


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def stack(backend, tmp_path, request) -> Iterator[Stack]:
    """A service stack on both back ends."""
    for url in _database_url(backend, tmp_path, request):
        s = Stack(url=url, data_dir=tmp_path / "data")
        try:
            yield s
        finally:
            s.close()


@pytest.fixture
def sqlite_stack(tmp_path) -> Iterator[Stack]:
    """A service stack on SQLite only (for tests whose subject does not depend on the database)."""
    s = Stack(url=f"sqlite:///{tmp_path / 'service.db'}", data_dir=tmp_path / "data")
    try:
        yield s
    finally:
        s.close()
