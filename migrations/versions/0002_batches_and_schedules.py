"""Batches (groups of campaigns with a shared budget and a summary report) and cron schedules.

Four new tables and nothing changed in the old ones, so the upgrade is plain ``CREATE TABLE`` on both back
ends (no batch-mode table rebuild on SQLite) and the downgrade drops exactly these tables.

``schedule_firings`` carries UNIQUE (schedule_id, slot): the row is inserted in the same transaction that
advances ``schedules.next_run_at`` and creates the batch, so two scheduler instances that race on one slot
cannot both commit a firing (see ``app/scheduling/firing.py``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH_STATUSES = ("running", "completed", "cancelled")
RUN_MODES = ("queue", "local")
SOURCES = ("api", "cli")
MISSED_POLICIES = ("skip", "run_once")
OVERLAP_POLICIES = ("skip", "allow")
FIRING_STATUSES = ("fired", "missed", "overlapped", "failed")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    target_table = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{target_table}"), ondelete=ondelete
    )


def _one_of(table: str, column: str, values: Sequence[str]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=op.f(f"ck_{table}_{column}"))


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns), unique=False)


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("cron", sa.String(120), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("missed", sa.String(16), nullable=False),
        sa.Column("overlap", sa.String(16), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        _ts("next_run_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        _one_of("schedules", "missed", MISSED_POLICIES),
        _one_of("schedules", "overlap", OVERLAP_POLICIES),
        _one_of("schedules", "source", SOURCES),
        _fk("schedules", "owner_id", "users.id", "SET NULL"),
        sa.UniqueConstraint("name", name=op.f("uq_schedules_name")),
    )
    _index("schedules", "owner_id")
    _index("schedules", "paused", "next_run_at")

    op.create_table(
        "batches",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        _ts("slot", nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_mode", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("budget", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("finished_at", nullable=True),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
        _one_of("batches", "status", BATCH_STATUSES),
        _one_of("batches", "run_mode", RUN_MODES),
        _fk("batches", "owner_id", "users.id", "SET NULL"),
        _fk("batches", "schedule_id", "schedules.id", "SET NULL"),
    )
    _index("batches", "owner_id")
    _index("batches", "schedule_id")
    _index("batches", "status")

    op.create_table(
        "batch_campaigns",
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(36), nullable=True),
        sa.Column("problem", sa.String(1000), nullable=False),
        sa.Column("team", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "position", name=op.f("pk_batch_campaigns")),
        _fk("batch_campaigns", "batch_id", "batches.id", "CASCADE"),
        _fk("batch_campaigns", "campaign_id", "campaigns.id", "SET NULL"),
        sa.UniqueConstraint("campaign_id", name=op.f("uq_batch_campaigns_campaign_id")),
    )

    op.create_table(
        "schedule_firings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        _ts("slot"),
        _ts("fired_at"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("missed_slots", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=True),
        sa.Column("instance", sa.String(200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_firings")),
        _one_of("schedule_firings", "status", FIRING_STATUSES),
        _fk("schedule_firings", "schedule_id", "schedules.id", "CASCADE"),
        _fk("schedule_firings", "batch_id", "batches.id", "SET NULL"),
        sa.UniqueConstraint("schedule_id", "slot", name=op.f("uq_schedule_firings_schedule_id_slot")),
    )
    _index("schedule_firings", "batch_id")


def downgrade() -> None:
    # Indexes go with their tables; nothing older refers to these tables.
    for table in ("schedule_firings", "batch_campaigns", "batches", "schedules"):
        op.drop_table(table)
