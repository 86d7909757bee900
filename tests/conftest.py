"""Fixtures shared by every test package."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from tests.postgres import PG_BASE


@pytest.fixture(scope="session")
def pg_admin():
    """An autocommit engine on the test server (creates and drops per-test schemas); skips if unreachable."""
    engine = create_engine(PG_BASE, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means skip
        pytest.skip(f"PostgreSQL unreachable at {PG_BASE}: {type(exc).__name__}")
    yield engine
    engine.dispose()
