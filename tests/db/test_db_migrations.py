"""The migrations must build exactly the schema the models describe, on both back ends, and undo it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from app.db.models import Base
from app.db.session import (
    alembic_config,
    current_revision,
    downgrade_database,
    make_engine,
    upgrade_database,
)

REPO = Path(__file__).resolve().parents[2]


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def _user_tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version", "sqlite_sequence"}
    finally:
        engine.dispose()


def test_single_linear_history() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    for revision in script.walk_revisions():
        assert revision.module.downgrade is not None


def test_upgrade_from_empty_matches_models(empty_url: str) -> None:
    assert current_revision(empty_url) is None
    upgrade_database(empty_url)
    assert current_revision(empty_url) == _head()

    engine = make_engine(empty_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
    assert _user_tables(empty_url) == set(Base.metadata.tables)


def test_constraints_autogenerate_does_not_compare(empty_url: str) -> None:
    """CHECK constraints, FK ON DELETE rules and names are invisible to compare_metadata; check them here."""
    upgrade_database(empty_url)
    engine = make_engine(empty_url)
    try:
        inspector = inspect(engine)
        for table in Base.metadata.sorted_tables:
            expected_checks = {c.name for c in table.constraints if c.__class__.__name__ == "CheckConstraint"}
            found_checks = {c["name"] for c in inspector.get_check_constraints(table.name)}
            assert found_checks == expected_checks, table.name

            expected_fks = {
                (
                    fk.name,
                    fk.column_keys[0],
                    fk.referred_table.name,
                    (fk.ondelete or "NO ACTION").upper(),
                )
                for fk in table.foreign_key_constraints
            }
            found_fks = {
                (
                    fk["name"],
                    fk["constrained_columns"][0],
                    fk["referred_table"],
                    (fk.get("options", {}).get("ondelete") or "NO ACTION").upper(),
                )
                for fk in inspector.get_foreign_keys(table.name)
            }
            assert found_fks == expected_fks, table.name

            expected_indexes = {ix.name for ix in table.indexes}
            found_indexes = {
                ix["name"]
                for ix in inspector.get_indexes(table.name)
                if not ix.get("duplicates_constraint")  # PostgreSQL's index behind a UNIQUE
            }
            assert found_indexes == expected_indexes, table.name

            expected_uniques = {
                c.name for c in table.constraints if c.__class__.__name__ == "UniqueConstraint"
            }
            found_uniques = {c["name"] for c in inspector.get_unique_constraints(table.name)}
            assert found_uniques == expected_uniques, table.name
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_everything_and_upgrade_again(empty_url: str) -> None:
    upgrade_database(empty_url)
    upgrade_database(empty_url)  # repeating is a no-op
    downgrade_database(empty_url, "base")
    assert _user_tables(empty_url) == set()
    assert current_revision(empty_url) is None
    upgrade_database(empty_url)
    assert current_revision(empty_url) == _head()


@pytest.mark.parametrize("url", ["sqlite:///unused.db", "postgresql+psycopg2://nobody@nowhere/none"])
def test_offline_sql_generation(url: str) -> None:
    """`alembic upgrade head --sql` (for DBAs who apply scripts by hand) works for both dialects."""
    import io

    from alembic import command

    config = alembic_config(url)
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    script = config.output_buffer.getvalue()
    assert script.count("CREATE TABLE") == len(Base.metadata.tables) + 1  # + alembic_version
    assert "fk_campaigns_champion_node_id_nodes" in script


def test_alembic_command_line_reads_database_url(tmp_path: Path) -> None:
    """`alembic upgrade head` from the repo root uses alembic.ini + DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert current_revision(url) == _head()


def test_comparison_would_catch_a_drifted_model(empty_url: str) -> None:
    """Guard for the guard: a column the migrations lack must show up as a difference."""
    from sqlalchemy import Column, Integer, MetaData

    upgrade_database(empty_url)
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["nodes"].append_column(Column("novelty", Integer, nullable=True))
    engine = make_engine(empty_url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), drifted)
    finally:
        engine.dispose()
    assert [d[0] for d in diff] == ["add_column"]
    assert diff[0][3].name == "novelty"


_UPGRADE_AT = """
import sys, time
sys.path.insert(0, sys.argv[3])
from app.db.session import upgrade_database
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # start together, after the slow imports
upgrade_database(sys.argv[1])
"""


@pytest.mark.slow  # three interpreter start-ups per back end: ~5 s idle, 10-15 s on a busy machine
def test_concurrent_start_up_upgrades(empty_url: str) -> None:
    """Processes starting together all call upgrade_database; none may fail or double-apply.

    (Separate processes, as in production: Alembic itself is not meant to run in several threads.)
    """
    import time

    start_at = str(time.time() + 3.0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _UPGRADE_AT, empty_url, start_at, str(REPO)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outcomes = [proc.communicate(timeout=90) for proc in procs]
    for proc, (_, stderr) in zip(procs, outcomes, strict=False):
        assert proc.returncode == 0, stderr
    assert current_revision(empty_url) == _head()
