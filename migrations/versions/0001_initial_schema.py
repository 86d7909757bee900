"""Initial schema: users, API keys, problems, artifacts, campaigns, nodes, debug attempts, messages,
events, knowledge links and the work queue.

Written from an autogenerate draft and reviewed by hand. The one non-mechanical part is the cycle
between ``campaigns`` (root and champion node) and ``nodes`` (campaign). PostgreSQL checks that a
referenced table exists, so there ``campaigns`` is created without its two node foreign keys and they
are added by ALTER once ``nodes`` exists. SQLite cannot ALTER a constraint in (it would rebuild the
table, which also breaks ``--sql`` mode) but happily accepts a forward reference, so there the keys
are declared inline.

Every name is wrapped in ``op.f``: env.py hands Alembic the models' naming convention, and an unwrapped
CHECK name would otherwise be run through it a second time (``ck_t_ck_t_status``).

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _pk(table: str, column: str = "id") -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(column, name=op.f(f"pk_{table}"))


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    target_table = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{target_table}"), ondelete=ondelete
    )


def _one_of(table: str, column: str, values: Sequence[str]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=op.f(f"ck_{table}_{column}"))


def _index(table: str, *columns: str, name: str | None = None) -> None:
    op.create_index(op.f(name or f"ix_{table}_{'_'.join(columns)}"), table, list(columns), unique=False)


def _sqlite() -> bool:
    return op.get_context().dialect.name == "sqlite"


_CAMPAIGN_NODE_COLUMNS = ("root_node_id", "champion_node_id")


def _campaign_node_fks() -> list[sa.ForeignKeyConstraint]:
    return [_fk("campaigns", column, "nodes.id", "SET NULL") for column in _CAMPAIGN_NODE_COLUMNS]


CAMPAIGN_STATUSES = ("created", "running", "paused", "completed", "failed", "cancelled")
NODE_STATUSES = ("pending", "running", "succeeded", "failed", "skipped_duplicate", "cancelled")
WORK_STATUSES = ("queued", "leased", "done", "failed", "cancelled")


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(200), nullable=False),
        _ts("created_at"),
        _pk("artifacts", "hash"),
    )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _ts("disabled_at", nullable=True),
        _pk("users"),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("key_prefix", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(128), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _ts("last_used_at", nullable=True),
        _ts("expires_at", nullable=True),
        _ts("revoked_at", nullable=True),
        _pk("api_keys"),
        _fk("api_keys", "user_id", "users.id", "CASCADE"),
        sa.UniqueConstraint("key_prefix", name=op.f("uq_api_keys_key_prefix")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    _index("api_keys", "user_id")

    op.create_table(
        "problems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        _ts("created_at"),
        _pk("problems"),
        _one_of("problems", "source", ("builtin", "user")),
        _fk("problems", "owner_id", "users.id", "SET NULL"),
        sa.UniqueConstraint("name", name=op.f("uq_problems_name")),
    )
    _index("problems", "owner_id")

    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("started_at", nullable=True),
        _ts("finished_at", nullable=True),
        _ts("updated_at"),
        sa.Column("root_node_id", sa.Integer(), nullable=True),
        sa.Column("champion_node_id", sa.Integer(), nullable=True),
        sa.Column("best_score", sa.Float(), nullable=True),
        sa.Column("iterations_done", sa.Integer(), nullable=False),
        sa.Column("evaluations", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("tokens_in", sa.BigInteger(), nullable=False),
        sa.Column("tokens_out", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("last_event_seq", sa.BigInteger(), nullable=False),
        _pk("campaigns"),
        _one_of("campaigns", "status", CAMPAIGN_STATUSES),
        _fk("campaigns", "problem_id", "problems.id", "RESTRICT"),
        _fk("campaigns", "owner_id", "users.id", "SET NULL"),
        *(_campaign_node_fks() if _sqlite() else ()),
    )
    _index("campaigns", "problem_id")
    _index("campaigns", "owner_id")
    _index("campaigns", "status")

    op.create_table(
        "nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("operation", sa.String(32), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("code_artifact", sa.String(64), nullable=True),
        sa.Column("code_hash", sa.String(64), nullable=True),
        sa.Column("proposal_text", sa.Text(), nullable=True),
        sa.Column("proposal", sa.JSON(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.Column("curves", sa.JSON(), nullable=True),
        sa.Column("logs", sa.Text(), nullable=True),
        sa.Column("logs_artifact", sa.String(64), nullable=True),
        sa.Column("predictions_artifact", sa.String(64), nullable=True),
        sa.Column("extra_artifacts", sa.JSON(), nullable=True),
        sa.Column("analysis", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("protections", sa.JSON(), nullable=True),
        _ts("created_at"),
        _ts("started_at", nullable=True),
        _ts("finished_at", nullable=True),
        sa.Column("wall_seconds", sa.Float(), nullable=True),
        sa.Column("timings", sa.JSON(), nullable=True),
        sa.Column("tokens_in", sa.BigInteger(), nullable=False),
        sa.Column("tokens_out", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        _pk("nodes"),
        _one_of("nodes", "status", NODE_STATUSES),
        _fk("nodes", "campaign_id", "campaigns.id", "CASCADE"),
        _fk("nodes", "parent_id", "nodes.id", "SET NULL"),
        _fk("nodes", "code_artifact", "artifacts.hash", "RESTRICT"),
        _fk("nodes", "logs_artifact", "artifacts.hash", "RESTRICT"),
        _fk("nodes", "predictions_artifact", "artifacts.hash", "RESTRICT"),
    )
    _index("nodes", "parent_id")
    _index("nodes", "campaign_id", "iteration")
    _index("nodes", "campaign_id", "code_hash")
    _index("nodes", "campaign_id", "status")
    _index("nodes", "campaign_id", "score")

    if not _sqlite():  # close the campaigns <-> nodes cycle now that both tables exist
        for column in _CAMPAIGN_NODE_COLUMNS:
            name = op.f(f"fk_campaigns_{column}_nodes")
            op.create_foreign_key(name, "campaigns", "nodes", [column], ["id"], ondelete="SET NULL")

    op.create_table(
        "debug_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("diagnosis", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(24), nullable=True),
        _ts("created_at"),
        _pk("debug_attempts"),
        _fk("debug_attempts", "node_id", "nodes.id", "CASCADE"),
        sa.UniqueConstraint("node_id", "attempt", name=op.f("uq_debug_attempts_node_id_attempt")),
    )

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=True),
        sa.Column("iteration", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=True),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("prompt_version", sa.String(64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("latency_s", sa.Float(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        _ts("created_at"),
        _pk("messages"),
        _fk("messages", "campaign_id", "campaigns.id", "CASCADE"),
        _fk("messages", "node_id", "nodes.id", "SET NULL"),
    )
    _index("messages", "campaign_id", "id")
    _index("messages", "node_id")

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(32), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        _ts("created_at"),
        _pk("events"),
        _fk("events", "campaign_id", "campaigns.id", "CASCADE"),
        _fk("events", "node_id", "nodes.id", "SET NULL"),
        sa.UniqueConstraint("campaign_id", "seq", name=op.f("uq_events_campaign_id_seq")),
        sqlite_autoincrement=True,  # never reuse an id: ids are SSE Last-Event-IDs
    )
    _index("events", "campaign_id", "id")

    op.create_table(
        "knowledge_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=True),
        sa.Column("card_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        _ts("created_at"),
        _pk("knowledge_links"),
        _one_of("knowledge_links", "kind", ("retrieved", "discovered")),
        _fk("knowledge_links", "campaign_id", "campaigns.id", "CASCADE"),
        _fk("knowledge_links", "node_id", "nodes.id", "CASCADE"),
        sa.UniqueConstraint(
            "node_id", "card_id", "kind", name=op.f("uq_knowledge_links_node_id_card_id_kind")
        ),
    )
    _index("knowledge_links", "campaign_id", "kind")
    _index("knowledge_links", "card_id")

    op.create_table(
        "work_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        _ts("available_at"),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("lease_token", sa.String(64), nullable=True),
        _ts("lease_expires_at", nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("finished_at", nullable=True),
        _pk("work_items"),
        _one_of("work_items", "status", WORK_STATUSES),
        _fk("work_items", "campaign_id", "campaigns.id", "CASCADE"),
    )
    _index("work_items", "campaign_id")
    _index("work_items", "status", "lease_expires_at")
    _index("work_items", "status", "priority", "id")


def downgrade() -> None:
    # Indexes go with their tables. On PostgreSQL the cycle must be cut first; SQLite migrations run
    # with foreign-key enforcement off (see env.py), so plain drops in reverse order suffice there.
    if not _sqlite():
        for column in _CAMPAIGN_NODE_COLUMNS:
            op.drop_constraint(op.f(f"fk_campaigns_{column}_nodes"), "campaigns", type_="foreignkey")
    for table in (
        "work_items",
        "knowledge_links",
        "events",
        "messages",
        "debug_attempts",
        "nodes",
        "campaigns",
        "problems",
        "api_keys",
        "users",
        "artifacts",
    ):
        op.drop_table(table)
