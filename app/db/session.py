"""Engines, sessions and start-up migrations.

SQLite is tuned for a small multi-threaded service rather than for a single script:

* WAL journal, so readers never block the writer and vice versa;
* ``busy_timeout``, so a writer waits for the lock instead of failing at once;
* foreign keys ON (SQLite leaves them off by default, which would silently disable ON DELETE);
* write transactions start with ``BEGIN IMMEDIATE``. Python's driver normally issues a deferred
  BEGIN lazily, and a deferred transaction that reads and then tries to write can fail with
  ``database is locked`` *without* waiting (SQLite cannot wait there without risking deadlock).
  Taking the write lock up front turns every such conflict into an ordinary wait. Read-only scopes
  use a deferred BEGIN so that they never queue behind writers.

PostgreSQL needs nothing special: READ COMMITTED plus row locks (see ``events.append_event``) and
``SKIP LOCKED`` (see ``work_queue.claim``) give the guarantees the repository promises. A pooled
connection is checked with a ping before use only when it sat idle for ``PING_AFTER_IDLE_S`` or more
(see ``_ping_when_idle``): SQLAlchemy's ``pool_pre_ping`` pings at every checkout, a round trip per
transaction that a campaign engine writing a few hundred short transactions a minute paid for nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30.0
# A connection used less than this long ago is taken as alive: a server restart in that window fails
# the first statement on it (the pool then replaces it), as it would fail one already running.
PING_AFTER_IDLE_S = 1.0


# ------------------------------------------------------------------------------- relaxed durability
# A transaction that writes only the log (events, LLM messages) may commit without waiting for the WAL
# flush on PostgreSQL (``synchronous_commit = off`` for that transaction only; README "Durability"). The
# setting is transaction-local, so it is safe behind a transaction-pooling proxy. It costs a statement,
# and a statement is a round trip: where the transaction already sends one first (the lease fence), the
# setting rides on it as a ``set_config(..., true)`` column instead (see ``async_commit_column``).
_ASYNC_COMMIT_KEY = "async_commit"
_SET_ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")


def request_async_commit(session: Session) -> None:
    """Ask that this transaction commit without waiting for the WAL flush (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        session.info[_ASYNC_COMMIT_KEY] = "requested"


def async_commit_column(session: Session) -> Any | None:
    """A ``set_config`` column that applies a requested async commit as part of another SELECT, or None
    when none is requested (or it is applied already); the caller must execute it in this transaction."""
    if session.info.get(_ASYNC_COMMIT_KEY) != "requested":
        return None
    session.info[_ASYNC_COMMIT_KEY] = "applied"
    return func.set_config("synchronous_commit", "off", True)


def apply_async_commit(session: Session) -> None:
    """Apply a requested async commit that no earlier statement carried (one ``SET LOCAL``)."""
    if session.info.get(_ASYNC_COMMIT_KEY) == "requested":
        session.execute(_SET_ASYNC_COMMIT)
        session.info[_ASYNC_COMMIT_KEY] = "applied"


def default_database_url() -> str:
    """``DATABASE_URL`` if set, else a SQLite file in the data directory (see ``app.settings``)."""
    env = os.environ.get("DATABASE_URL")
    if env:
        return env
    from app.settings import get_settings

    return get_settings().resolved_database_url


def _ensure_sqlite_dir(url: URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def make_engine(
    url: str | URL,
    *,
    echo: bool = False,
    sqlite_foreign_keys: bool = True,
    busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_S,
    **engine_kwargs: Any,
) -> Engine:
    """Create an engine with the SQLite pragmas described in the module docstring.

    ``sqlite_foreign_keys=False`` exists for migrations only: SQLite batch migrations rebuild tables
    (create, copy, drop, rename), which would trip ON DELETE actions if the checks were on.
    """
    url = make_url(url)
    if url.get_backend_name() != "sqlite":
        engine = create_engine(url, echo=echo, **engine_kwargs)
        if not engine_kwargs.get("pool_pre_ping"):  # an explicit pool_pre_ping=True pings every checkout
            _ping_when_idle(engine, PING_AFTER_IDLE_S)
        return engine

    _ensure_sqlite_dir(url)
    connect_args = dict(engine_kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", busy_timeout_s)
    connect_args.setdefault("check_same_thread", False)
    engine = create_engine(url, echo=echo, connect_args=connect_args, **engine_kwargs)
    busy_ms = int(busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver; the "begin" hook below issues BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            # Switching to WAL needs an exclusive lock; it is persistent, so only the first connection
            # to a new file does it, and later connections never contend for that lock.
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() not in ("wal", "memory"):
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")  # durable enough with WAL, much faster
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if sqlite_foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Ping a pooled connection on checkout only if it was idle ``idle_s`` or longer.

    What ``pool_pre_ping`` protects against (the server restarted, a proxy or firewall dropped an idle
    connection) happens to connections that sat in the pool, not to one returned a moment ago; skipping
    the ping for those saves one round trip per transaction. A failed ping raises ``DisconnectionError``,
    on which the pool discards the connection and checks out another (SQLAlchemy's documented
    pessimistic-disconnect hook).
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in_at")
        if since is None or time.monotonic() - since < idle_s:
            return  # just connected, or used a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - any failure means this connection is unusable
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


class Database:
    """An engine plus two session factories (read-write and read-only) for one database URL."""

    def __init__(self, url: str | URL | None = None, *, echo: bool = False, **engine_kwargs: Any) -> None:
        self.url = make_url(url if url is not None else default_database_url())
        self.engine = make_engine(self.url, echo=echo, **engine_kwargs)
        # expire_on_commit=False: rows returned from a scope stay readable after it commits.
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        read_options: dict[str, Any] = {"sqlite_begin": "DEFERRED"}
        if self.dialect_name == "postgresql":
            read_options["postgresql_readonly"] = True
        self._reader = sessionmaker(self.engine.execution_options(**read_options), expire_on_commit=False)

    @property
    def dialect_name(self) -> str:
        return self.url.get_backend_name()

    def session(self, *, readonly: bool = False) -> Session:
        """A bare session; prefer :meth:`session_scope`, which commits and closes for you."""
        return (self._reader if readonly else self._writer)()

    @contextmanager
    def session_scope(self, *, readonly: bool = False) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any exception, always close."""
        session = self.session(readonly=readonly)
        try:
            yield session
            if readonly:
                session.rollback()
            else:
                session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


_default: Database | None = None


def configure_database(url: str | URL | None = None, **kwargs: Any) -> Database:
    """Replace the process-wide default database (used by :func:`session_scope`)."""
    global _default
    if _default is not None:
        _default.dispose()
    _default = Database(url, **kwargs)
    return _default


def get_database() -> Database:
    """The process-wide default database, created from :func:`default_database_url` on first use."""
    global _default
    if _default is None:
        _default = Database()
    return _default


@contextmanager
def session_scope(*, readonly: bool = False, database: Database | None = None) -> Iterator[Session]:
    """Transaction on ``database`` (default: the process-wide one); commit on success, else roll back."""
    with (database or get_database()).session_scope(readonly=readonly) as session:
        yield session


# ------------------------------------------------------------------------------------------ migrations


def alembic_config(url: str | URL | None = None) -> Any:
    """An Alembic ``Config`` built in code, so start-up does not depend on the working directory.

    The URL travels in ``config.attributes`` rather than the ini option because configparser would
    treat the ``%`` of URL-escaped passwords or ``options=-csearch_path%3D...`` as interpolation.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    resolved = make_url(url if url is not None else default_database_url())
    config.attributes["database_url"] = resolved.render_as_string(hide_password=False)
    return config


def upgrade_database(url: str | URL | None = None, revision: str = "head") -> None:
    """Bring the schema at ``url`` up to ``revision`` (``alembic upgrade head``); safe to repeat."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade_database(url: str | URL | None = None, revision: str = "base") -> None:
    """Step the schema at ``url`` back to ``revision``; ``base`` drops everything the migrations made."""
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def current_revision(url: str | URL | None = None) -> str | None:
    """The revision recorded in ``alembic_version``, or None for an unmigrated database."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url if url is not None else default_database_url())
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
