"""Fixtures shared by every test package."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from tests.postgres import PG_BASE


def _allow_weak_isolation_without_bubblewrap() -> None:
    """Campaigns, batches and `evaluate` refuse a sandbox weaker than bubblewrap unless allowed (app/isolation.py).
    Where bubblewrap cannot run (some CI machines, containers), the suite allows the fallback explicitly, for
    this process and the CLI and worker processes it starts; tests of the refusal set the setting themselves."""
    from sandbox.isolation import probe

    if not probe().bwrap_works:
        os.environ.setdefault("AGENTIC_SCIML_ALLOW_WEAK_ISOLATION", "1")


_allow_weak_isolation_without_bubblewrap()


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
