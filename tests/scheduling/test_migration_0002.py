"""Migration 0002 (batches and schedules) on both back ends: from empty, from 0001 with data, and back down.

(``tests/db/test_db_migrations.py`` already checks that head matches the models, constraints included.)
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from app.db import repository as repo
from app.db.models import Schedule, ScheduleFiring
from app.db.session import Database, current_revision, downgrade_database, make_engine, upgrade_database

NEW_TABLES = {"schedules", "batches", "batch_campaigns", "schedule_firings"}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version", "sqlite_sequence"}
    finally:
        engine.dispose()


def test_upgrade_from_0001_keeps_data_and_downgrade_removes_only_the_new_tables(empty_url):
    upgrade_database(empty_url, "0001")
    assert current_revision(empty_url) == "0001" and not (_tables(empty_url) & NEW_TABLES)
    db = Database(empty_url)
    try:
        with db.session_scope() as s:
            problem = repo.upsert_problem(s, "p", kind="regression", spec={})
            campaign_id = repo.create_campaign(s, problem.id, config={"problem": "p"}).id
        upgrade_database(empty_url, "0002")
        assert current_revision(empty_url) == "0002"
        assert NEW_TABLES <= _tables(empty_url)
        with db.session_scope(readonly=True) as s:
            assert repo.get_campaign(s, campaign_id) is not None

        downgrade_database(empty_url, "0001")
        assert current_revision(empty_url) == "0001"
        assert not (_tables(empty_url) & NEW_TABLES)
        with db.session_scope(readonly=True) as s:
            assert repo.get_campaign(s, campaign_id) is not None
        upgrade_database(empty_url, "0002")
        assert current_revision(empty_url) == "0002"
    finally:
        db.dispose()


def test_one_firing_row_per_slot_is_enforced_by_the_database(db: Database):
    slot = datetime(2026, 1, 1, 3, tzinfo=timezone.utc)
    with db.session_scope() as s:
        schedule = Schedule(name="n", cron="0 3 * * *", timezone="UTC", spec={}, source="cli", next_run_at=slot)
        s.add(schedule)
        s.flush()
        s.add(ScheduleFiring(schedule_id=schedule.id, slot=slot, status="fired", instance="a"))
        schedule_id = schedule.id
    with pytest.raises(IntegrityError):
        with db.session_scope() as s:
            s.add(ScheduleFiring(schedule_id=schedule_id, slot=slot, status="fired", instance="b"))
    with pytest.raises(IntegrityError):  # the CHECK on status
        with db.session_scope() as s:
            s.add(ScheduleFiring(schedule_id=schedule_id, slot=datetime(2026, 1, 2, tzinfo=timezone.utc),
                                 status="maybe"))
