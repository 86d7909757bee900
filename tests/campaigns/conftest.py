from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

from app.db.artifacts import ArtifactStore
from app.db.session import Database, upgrade_database
from sandbox.evaluate import Evaluator
from tests.postgres import PG_BASE


@pytest.fixture()
def postgres_url():
    """A fresh schema on the local PostgreSQL, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_BASE)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"PostgreSQL unreachable at {PG_BASE}: {exc}")
    yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """``(db, store, evaluator, root)``: a migrated SQLite database, an artifact store and a real sandbox
    evaluator (one warm worker) under a fresh directory ``root``; one per test module."""
    root = tmp_path_factory.mktemp("campaign")
    url = f"sqlite:///{root / 'db.sqlite'}"
    upgrade_database(url)
    db = Database(url)
    evaluator = Evaluator(root / "runs", root / "cache", secret_dirs=[root], warm_workers=1)
    yield db, ArtifactStore(root / "artifacts"), evaluator, root
    evaluator.close()
    db.dispose()
