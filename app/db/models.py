"""The relational schema: one class per table, SQLAlchemy 2.0 typed declarative style.

Design choices worth knowing before adding a column:

* Portable types only (``JSON``, ``String``, ``Text``, ``Float``, ``Integer``, ``BigInteger``,
  ``Boolean`` and :class:`~app.db.types.UTCDateTime`) so one migration serves SQLite and PostgreSQL.
* Status columns are plain strings guarded by a named CHECK constraint rather than native enums:
  adding a status is then an ordinary migration on both back ends, with no ``ALTER TYPE`` dance.
* Every constraint and index has a deterministic name (see ``NAMING_CONVENTION``), which is what lets
  SQLite batch migrations and ``compare_metadata`` line up the migration with these models.
* JSON columns are not mutation-tracked: assign a new object (``node.metrics = {**node.metrics, ...}``)
  instead of editing one in place.
* Large blobs (long code, predictions, logs, plots) live in the content-addressed
  :class:`~app.db.artifacts.ArtifactStore`; rows keep the sha256 and ``artifacts`` keeps its size and
  media type, with a foreign key so that an artifact row cannot vanish under a node that needs it.
* ``campaigns.root_node_id`` / ``champion_node_id`` and ``nodes.campaign_id`` form a cycle; the
  campaign side is created by ALTER (``use_alter``) after both tables exist.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.db.types import UTCDateTime, utcnow

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

HASH_LEN = 64  # hex sha256


class CampaignStatus(enum.StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class NodeStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED_DUPLICATE = "skipped_duplicate"
    CANCELLED = "cancelled"


class WorkStatus(enum.StrEnum):
    QUEUED = "queued"
    LEASED = "leased"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ProblemSource(enum.StrEnum):
    BUILTIN = "builtin"
    USER = "user"


class KnowledgeLinkKind(enum.StrEnum):
    RETRIEVED = "retrieved"  # a card the retriever put in front of the agents for this node
    DISCOVERED = "discovered"  # a card written from what this campaign learned


TERMINAL_CAMPAIGN_STATUSES = frozenset(
    {CampaignStatus.COMPLETED, CampaignStatus.FAILED, CampaignStatus.CANCELLED}
)
TERMINAL_NODE_STATUSES = frozenset(
    {NodeStatus.SUCCEEDED, NodeStatus.FAILED, NodeStatus.SKIPPED_DUPLICATE, NodeStatus.CANCELLED}
)


def _one_of(column: str, values: type[enum.StrEnum], name: str | None = None) -> CheckConstraint:
    """CHECK that keeps a string column inside an enum's values (named ``ck_<table>_<name>``)."""
    allowed = ", ".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name or column)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


# --------------------------------------------------------------------------------------------- users


class User(Base):
    """Someone who owns campaigns and API keys. Authentication itself is by API key."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]

    api_keys: Mapped[list[ApiKey]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class ApiKey(Base):
    """An API key, stored only as a hash; ``key_prefix`` is the public part used to find the row."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    key_prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(default=lambda: ["read"])
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="api_keys")


# ------------------------------------------------------------------------------------------ problems


class Problem(Base):
    """A problem definition; ``spec`` is the problem's own JSON description (task, budgets, scorer)."""

    __tablename__ = "problems"
    __table_args__ = (_one_of("source", ProblemSource),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(50))
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(16), default=ProblemSource.BUILTIN.value)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ----------------------------------------------------------------------------------------- artifacts


class Artifact(Base):
    """Bookkeeping for a blob in the artifact store; the bytes themselves live on disk."""

    __tablename__ = "artifacts"

    hash: Mapped[str] = mapped_column(String(HASH_LEN), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(200), default="application/octet-stream")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ----------------------------------------------------------------------------------------- campaigns


class Campaign(Base):
    """One search run on one problem; running totals are kept here so dashboards need no aggregates."""

    __tablename__ = "campaigns"
    __table_args__ = (_one_of("status", CampaignStatus),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id", ondelete="RESTRICT"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.CREATED.value, index=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seed: Mapped[int] = mapped_column(Integer, default=0)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    root_node_id: Mapped[int | None] = mapped_column(
        ForeignKey("nodes.id", ondelete="SET NULL", use_alter=True)
    )
    champion_node_id: Mapped[int | None] = mapped_column(
        ForeignKey("nodes.id", ondelete="SET NULL", use_alter=True)
    )
    best_score: Mapped[float | None] = mapped_column(Float)

    iterations_done: Mapped[int] = mapped_column(Integer, default=0)
    evaluations: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    tokens_in: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens_out: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    # Highest event seq handed out; bumped by UPDATE ... RETURNING so the row lock orders appends.
    last_event_seq: Mapped[int] = mapped_column(BigInteger, default=0)

    problem: Mapped[Problem] = relationship()
    nodes: Mapped[list[Node]] = relationship(
        back_populates="campaign",
        foreign_keys="Node.campaign_id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Node.id",
    )


# --------------------------------------------------------------------------------------------- nodes


class Node(Base):
    """A candidate solution in a campaign's tree, from proposal to score."""

    __tablename__ = "nodes"
    __table_args__ = (
        _one_of("status", NodeStatus),
        Index("ix_nodes_campaign_id_iteration", "campaign_id", "iteration"),
        Index("ix_nodes_campaign_id_code_hash", "campaign_id", "code_hash"),
        Index("ix_nodes_campaign_id_status", "campaign_id", "status"),
        Index("ix_nodes_campaign_id_score", "campaign_id", "score"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="SET NULL"), index=True)
    iteration: Mapped[int] = mapped_column(Integer, default=0)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    operation: Mapped[str | None] = mapped_column(String(32))  # draft / improve / debug / ...
    status: Mapped[str] = mapped_column(String(24), default=NodeStatus.PENDING.value)

    # Code is inline when small, otherwise in the artifact store (then ``code`` is NULL).
    code: Mapped[str | None] = mapped_column(Text)
    code_artifact: Mapped[str | None] = mapped_column(ForeignKey("artifacts.hash", ondelete="RESTRICT"))
    code_hash: Mapped[str | None] = mapped_column(String(HASH_LEN))

    proposal_text: Mapped[str | None] = mapped_column(Text)
    proposal: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    score: Mapped[float | None] = mapped_column(Float)  # relative L2 error, lower is better
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    curves: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    logs: Mapped[str | None] = mapped_column(Text)
    logs_artifact: Mapped[str | None] = mapped_column(ForeignKey("artifacts.hash", ondelete="RESTRICT"))
    predictions_artifact: Mapped[str | None] = mapped_column(
        ForeignKey("artifacts.hash", ondelete="RESTRICT")
    )
    extra_artifacts: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # e.g. {"plot.png": sha256}
    analysis: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    protections: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # isolation active for the run

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    wall_seconds: Mapped[float | None] = mapped_column(Float)
    timings: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # per-phase seconds

    tokens_in: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens_out: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)

    campaign: Mapped[Campaign] = relationship(back_populates="nodes", foreign_keys=[campaign_id])
    parent: Mapped[Node | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Node]] = relationship(back_populates="parent", passive_deletes=True)
    attempts: Mapped[list[DebugAttempt]] = relationship(
        back_populates="node",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="DebugAttempt.attempt",
    )


class DebugAttempt(Base):
    """One debugger round on a failing node: the code it ran and how it failed (or that it passed)."""

    __tablename__ = "debug_attempts"
    __table_args__ = (UniqueConstraint("node_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(Text)
    code_hash: Mapped[str | None] = mapped_column(String(HASH_LEN))
    traceback: Mapped[str | None] = mapped_column(Text)
    diagnosis: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    node: Mapped[Node] = relationship(back_populates="attempts")


# ------------------------------------------------------------------------------------------ messages


class Message(Base):
    """One agent utterance (proposal, critique, vote, analysis ...) with its accounting."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_campaign_id_id", "campaign_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="SET NULL"), index=True)
    iteration: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(100))
    prompt_version: Mapped[str | None] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    latency_s: Mapped[float | None] = mapped_column(Float)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# -------------------------------------------------------------------------------------------- events


class Event(Base):
    """An append-only log entry. ``seq`` is gapless per campaign; ``id`` doubles as SSE Last-Event-ID.

    ``sqlite_autoincrement`` stops SQLite from ever reusing an id after deletes, which would
    otherwise confuse a client resuming a stream.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("campaign_id", "seq"),
        Index("ix_events_campaign_id_id", "campaign_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="SET NULL"))
    role: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ----------------------------------------------------------------------------------------- knowledge


class KnowledgeLink(Base):
    """Ties a knowledge-base card to a campaign/node, either as retrieved context or as a discovery."""

    __tablename__ = "knowledge_links"
    __table_args__ = (
        _one_of("kind", KnowledgeLinkKind),
        UniqueConstraint("node_id", "card_id", "kind"),
        Index("ix_knowledge_links_campaign_id_kind", "campaign_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"))
    card_id: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)  # retrieval similarity
    rank: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ------------------------------------------------------------------------------------------ work queue


class WorkItem(Base):
    """A unit of work for a worker process, handed out under a time-limited lease.

    ``lease_token`` changes on every claim and acts as a fencing token: renewing, completing or
    failing requires it, so a worker whose lease was taken over cannot clobber the new holder.
    """

    __tablename__ = "work_items"
    __table_args__ = (
        _one_of("status", WorkStatus),
        Index("ix_work_items_status_lease_expires_at", "status", "lease_expires_at"),
        Index("ix_work_items_status_priority_id", "status", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=WorkStatus.QUEUED.value)
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher first
    available_at: Mapped[datetime] = mapped_column(default=utcnow)  # not claimable before
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    lease_token: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]


# ------------------------------------------------------------------------------- batches and schedules


class BatchStatus(enum.StrEnum):
    RUNNING = "running"  # some campaign is not finished yet
    COMPLETED = "completed"  # every campaign reached a terminal status; the summary is final
    CANCELLED = "cancelled"


class BatchRunMode(enum.StrEnum):
    QUEUE = "queue"  # campaigns are queued for the workers (API, schedules)
    LOCAL = "local"  # campaigns are driven by the process that created them (`agentic-sciml batch run`)


class ScheduleSource(enum.StrEnum):
    API = "api"  # problems are names of built-ins or of the owner's uploads; no server paths
    CLI = "cli"  # trusted: problems may also be directories on this machine


class MissedRunPolicy(enum.StrEnum):
    SKIP = "skip"
    RUN_ONCE = "run_once"


class OverlapPolicy(enum.StrEnum):
    SKIP = "skip"  # a slot that comes while the previous batch still runs is recorded as skipped
    ALLOW = "allow"


class FiringStatus(enum.StrEnum):
    FIRED = "fired"  # a batch was started
    MISSED = "missed"  # too late after downtime, under the 'skip' missed-run policy
    OVERLAPPED = "overlapped"  # the previous batch still ran, under the 'skip' overlap policy
    FAILED = "failed"  # the batch could not be planned (a problem gone, say)


class Schedule(Base):
    """A batch to start on a cron schedule. ``next_run_at`` is the next slot (UTC) not yet handled."""

    __tablename__ = "schedules"
    __table_args__ = (
        _one_of("missed", MissedRunPolicy),
        _one_of("overlap", OverlapPolicy),
        _one_of("source", ScheduleSource),
        Index("ix_schedules_paused_next_run_at", "paused", "next_run_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    cron: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    missed: Mapped[str] = mapped_column(String(16), default=MissedRunPolicy.SKIP.value)
    overlap: Mapped[str] = mapped_column(String(16), default=OverlapPolicy.SKIP.value)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the batch, as a BatchSpec
    source: Mapped[str] = mapped_column(String(8), default=ScheduleSource.API.value)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    next_run_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Batch(Base):
    """A group of campaigns with a shared budget; ``summary``/``report`` are filled when all have finished."""

    __tablename__ = "batches"
    __table_args__ = (
        _one_of("status", BatchStatus),
        _one_of("run_mode", BatchRunMode),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="SET NULL"), index=True)
    slot: Mapped[datetime | None]  # the schedule slot that started it
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.RUNNING.value, index=True)
    run_mode: Mapped[str] = mapped_column(String(16), default=BatchRunMode.QUEUE.value)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    budget: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the group's caps and each campaign's share
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    report: Mapped[str | None] = mapped_column(Text)  # the summary as markdown
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set in the transaction that cancels the campaigns, so whoever closes the batch closes it as cancelled.
    cancel_requested_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BatchCampaign(Base):
    """One campaign of a batch: which problem and team configuration it stands for.

    ``campaign_id`` is set to NULL when the campaign is deleted, so the batch's report can say so.
    """

    __tablename__ = "batch_campaigns"
    __table_args__ = (UniqueConstraint("campaign_id"),)

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    problem: Mapped[str] = mapped_column(String(1000))
    team: Mapped[str] = mapped_column(String(100))


class ScheduleFiring(Base):
    """What happened at one slot of a schedule. UNIQUE (schedule_id, slot) makes a second firing of the
    same slot, by whichever scheduler instance, fail to commit."""

    __tablename__ = "schedule_firings"
    __table_args__ = (
        _one_of("status", FiringStatus),
        UniqueConstraint("schedule_id", "slot"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    slot: Mapped[datetime]
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    missed_slots: Mapped[int] = mapped_column(Integer, default=0)  # earlier slots coalesced or dropped
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id", ondelete="SET NULL"), index=True)
    instance: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)


ALL_TABLES = tuple(Base.metadata.sorted_tables)
