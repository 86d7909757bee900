"""Alembic environment: where the URL comes from and how migrations connect.

URL precedence: a connection handed over in ``config.attributes["connection"]`` (tests, or callers
that already hold one), then ``config.attributes["database_url"]`` (set by
``app.db.session.alembic_config``), then the ini option ``sqlalchemy.url``, then ``DATABASE_URL`` /
the default from ``app.settings``.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection

from app.db.models import Base
from app.db.session import default_database_url, make_engine

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _database_url() -> str:
    return (
        config.attributes.get("database_url")
        or config.get_main_option("sqlalchemy.url")
        or default_database_url()
    )


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    """Migrations run with SQLite FK enforcement off (table rebuilds); verify nothing dangles."""
    problems = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
    if problems:
        raise RuntimeError(f"migration left dangling foreign keys: {problems[:10]}")


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=_database_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


# Arbitrary constant naming the "schema migration" advisory lock on PostgreSQL.
_MIGRATION_LOCK_ID = 0x5C1A1E


def _run_on(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        # Several processes (API, workers) may start together and all call upgrade_database. On
        # PostgreSQL they queue on an advisory lock, and the later ones then find the schema at head.
        # On SQLite the write transaction (BEGIN IMMEDIATE) already serialises them.
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            _check_sqlite_foreign_keys(connection)


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        _run_on(given)
        return
    engine = make_engine(_database_url(), sqlite_foreign_keys=False, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _run_on(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
