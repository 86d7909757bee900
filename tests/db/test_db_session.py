"""Engine/session plumbing: SQLite pragmas, transaction scopes, read-only scopes, default URL."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.db import repository as repo
from app.db import session as db_session
from app.db.models import Campaign
from app.db.session import Database, default_database_url, make_engine, upgrade_database


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'x.db'}", busy_timeout_s=7)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7000
    finally:
        engine.dispose()
    assert (tmp_path / "nested" / "dir" / "x.db").exists()  # parent directories are created


def test_scope_commits_or_rolls_back(db: Database) -> None:
    with db.session_scope() as s:
        problem_id = repo.upsert_problem(s, "p", kind="pde", spec={}).id
    with pytest.raises(KeyError):
        with db.session_scope() as s:
            repo.create_campaign(s, problem_id, campaign_id="rolled-back")
            raise KeyError("boom")
    with db.session_scope() as s:
        repo.create_campaign(s, problem_id, campaign_id="kept")
    with db.session_scope(readonly=True) as s:
        assert s.scalars(select(Campaign.id)).all() == ["kept"]


def test_readonly_scope_never_persists(db: Database) -> None:
    with db.session_scope() as s:
        problem_id = repo.upsert_problem(s, "p", kind="pde", spec={}).id
    try:
        with db.session_scope(readonly=True) as s:
            repo.create_campaign(s, problem_id, campaign_id="ghost")
    except Exception:  # noqa: BLE001 - PostgreSQL refuses the write outright; SQLite rolls it back
        assert db.dialect_name == "postgresql"
    with db.session_scope(readonly=True) as s:
        assert s.get(Campaign, "ghost") is None
    # The read-only setting must not stick to pooled connections.
    for _ in range(3):
        with db.session_scope() as s:
            repo.create_campaign(s, problem_id)
    with db.session_scope(readonly=True) as s:
        assert len(repo.list_campaigns(s)) == 3


def test_readers_do_not_wait_for_a_writer(db_url: str) -> None:
    """A read-only scope must not queue behind an open write transaction (WAL / MVCC)."""
    db = Database(db_url, **({"busy_timeout_s": 1} if db_url.startswith("sqlite") else {}))
    try:
        with db.session_scope() as s:
            problem_id = repo.upsert_problem(s, "p", kind="pde", spec={}).id
        writer = db.session()
        try:
            repo.create_campaign(writer, problem_id, campaign_id="uncommitted")  # holds the write lock
            started = time.monotonic()
            with db.session_scope(readonly=True) as s:
                assert s.get(Campaign, "uncommitted") is None
                assert repo.get_problem_by_name(s, "p") is not None
            assert time.monotonic() - started < 0.5
            writer.commit()
        finally:
            writer.close()
    finally:
        db.dispose()


def test_returned_objects_stay_readable_after_commit(db: Database) -> None:
    with db.session_scope() as s:
        problem = repo.upsert_problem(s, "p", kind="pde", spec={"a": 1})
    assert problem.spec == {"a": 1} and problem.id is not None  # no DetachedInstanceError


def test_sqlite_read_then_write_transactions_wait_instead_of_failing(tmp_path: Path) -> None:
    """Deferred SQLite transactions that read, then write, fail with 'database is locked' when they
    interleave; write scopes begin IMMEDIATE, so they queue on the busy timeout instead."""
    url = f"sqlite:///{tmp_path / 'race.db'}"
    upgrade_database(url)
    db = Database(url)
    try:
        with db.session_scope() as s:
            problem_id = repo.upsert_problem(s, "p", kind="pde", spec={}).id
            campaign_id = repo.create_campaign(s, problem_id).id
        errors: list[BaseException] = []

        def read_modify_write() -> None:
            try:
                for _ in range(5):
                    with db.session_scope() as s:
                        campaign = s.get(Campaign, campaign_id)
                        assert campaign is not None
                        seen = campaign.seed
                        time.sleep(0.005)  # let the other thread try to get in between
                        campaign.seed = seen + 1
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=read_modify_write) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        with db.session_scope(readonly=True) as s:
            assert s.get(Campaign, campaign_id).seed == 15  # type: ignore[union-attr]  # no lost update
    finally:
        db.dispose()


def test_default_url_and_process_wide_scope(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert default_database_url() == url
    monkeypatch.setattr(db_session, "_default", None)
    upgrade_database()  # reads DATABASE_URL
    try:
        with db_session.session_scope() as s:
            repo.upsert_problem(s, "env", kind="pde", spec={})
        assert str(db_session.get_database().url) == url
        with db_session.session_scope(readonly=True) as s:
            assert s.execute(text("SELECT name FROM problems")).scalar() == "env"
    finally:
        if db_session._default is not None:
            db_session._default.dispose()
        monkeypatch.setattr(db_session, "_default", None)


def test_postgresql_pings_only_connections_that_sat_idle(pg_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection checked in a moment ago is used without a ping (one round trip fewer per transaction);
    one idle for ``PING_AFTER_IDLE_S`` is pinged, and if its server process is gone the pool replaces it
    instead of handing out a dead connection."""
    pings: list[object] = []
    real_ping = pg_db.engine.dialect.do_ping

    def counting_ping(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(pg_db.engine.dialect, "do_ping", counting_ping)
    with pg_db.session_scope() as s:
        pid = s.execute(text("SELECT pg_backend_pid()")).scalar_one()
    for _ in range(3):
        with pg_db.session_scope() as s:
            assert s.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid  # the same pooled connection
    assert pings == []

    # The server process behind the pooled connection goes away while it is idle (a restart, a proxy).
    other = make_engine(pg_db.url)
    try:
        with other.begin() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    finally:
        other.dispose()

    class Later:
        """The session module's clock, ``PING_AFTER_IDLE_S`` on: the pooled connection now sat idle."""

        @staticmethod
        def monotonic() -> float:
            return time.monotonic() + db_session.PING_AFTER_IDLE_S

    monkeypatch.setattr(db_session, "time", Later)
    with pg_db.session_scope() as s:
        assert s.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    assert pings


def test_explicit_pre_ping_still_pings_every_checkout(pg_db: Database) -> None:
    engine = make_engine(pg_db.url, pool_pre_ping=True)
    try:
        assert engine.pool._pre_ping
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
