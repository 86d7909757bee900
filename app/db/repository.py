"""The persistence operations the campaign engine needs, kept deliberately thin.

Conventions shared by every function here (and by ``events`` and ``work_queue``, re-exported below so
that ``from app.db import repository as repo`` is the one import a caller needs):

* The first argument is a ``Session``; nothing commits. Wrap calls in ``session_scope()`` and the
  whole step (node update + event + message) commits or rolls back together.
* Objects are flushed before they are returned, so database-generated ids are available at once.
* Counters on ``campaigns`` (usage, evaluations, best score) are changed with single ``UPDATE``
  statements computed by the database, never read-modify-write in Python, so concurrent workers
  cannot lose each other's increments.
* Missing rows raise :class:`~app.db.errors.NotFound`.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.orm import Session

from app.db.artifacts import ArtifactStore
from app.db.errors import NotFound
from app.db.events import (  # noqa: F401  (re-exported)
    EventRecord,
    append_event,
    last_event_seq,
    list_events,
    list_events_after_id,
    to_record,
)
from app.db.fingerprint import code_fingerprint
from app.db.models import (
    TERMINAL_CAMPAIGN_STATUSES,
    TERMINAL_NODE_STATUSES,
    ApiKey,
    Artifact,
    Campaign,
    CampaignStatus,
    DebugAttempt,
    KnowledgeLink,
    KnowledgeLinkKind,
    Message,
    Node,
    NodeStatus,
    Problem,
    ProblemSource,
    User,
)
from app.db.types import utcnow
from app.db.work_queue import (  # noqa: F401  (re-exported)
    Lease,
    LeaseLost,
    RequeueReport,
    assert_held,
    cancel_campaign_work,
    claim,
    complete,
    enqueue,
    fail,
    release,
    renew_lease,
    requeue_expired,
)

# Code longer than this (UTF-8 bytes) goes to the artifact store when a store is given.
INLINE_CODE_LIMIT = 64 * 1024
CODE_MEDIA_TYPE = "text/x-python"


def _require(session: Session, model: type, key: Any) -> Any:
    obj = session.get(model, key)
    if obj is None:
        raise NotFound(f"{model.__tablename__} {key!r}")  # type: ignore[attr-defined]
    return obj


# ------------------------------------------------------------------------------------- users, keys


def create_user(
    session: Session, username: str, *, display_name: str | None = None, is_admin: bool = False
) -> User:
    user = User(username=username, display_name=display_name, is_admin=is_admin)
    session.add(user)
    session.flush()
    return user


def add_api_key(
    session: Session,
    user_id: int,
    *,
    key_prefix: str,
    key_hash: str,
    scopes: Iterable[str] = ("read",),
    is_admin: bool = False,
    name: str = "",
    expires_at: datetime | None = None,
) -> ApiKey:
    """Store an API key that the caller has already hashed; the plaintext never reaches the database."""
    key = ApiKey(
        user_id=user_id,
        key_prefix=key_prefix,
        key_hash=key_hash,
        scopes=sorted(set(scopes)),
        is_admin=is_admin,
        name=name,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key


def get_api_key_by_prefix(session: Session, key_prefix: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.key_prefix == key_prefix))


# ----------------------------------------------------------------------------------------- problems


def upsert_problem(
    session: Session,
    name: str,
    *,
    kind: str,
    spec: dict[str, Any],
    source: ProblemSource | str = ProblemSource.BUILTIN,
    owner_id: int | None = None,
) -> Problem:
    """Create the problem or refresh its kind/spec/source (built-ins are re-registered at start-up)."""
    problem = session.scalar(select(Problem).where(Problem.name == name))
    if problem is None:
        problem = Problem(name=name, kind=kind, spec=spec, source=str(source), owner_id=owner_id)
        session.add(problem)
    else:
        problem.kind, problem.spec, problem.source = kind, spec, str(source)
        if owner_id is not None:
            problem.owner_id = owner_id
    session.flush()
    return problem


def get_problem_by_name(session: Session, name: str) -> Problem | None:
    return session.scalar(select(Problem).where(Problem.name == name))


# ---------------------------------------------------------------------------------------- campaigns


def new_campaign_id() -> str:
    """12 hex characters: short enough for URLs and logs, 48 random bits so collisions are negligible."""
    return secrets.token_hex(6)


def create_campaign(
    session: Session,
    problem_id: int,
    *,
    config: dict[str, Any] | None = None,
    seed: int = 0,
    owner_id: int | None = None,
    name: str | None = None,
    campaign_id: str | None = None,
    now: datetime | None = None,
) -> Campaign:
    now = now or utcnow()
    campaign = Campaign(
        id=campaign_id or new_campaign_id(),
        problem_id=problem_id,
        config=config or {},
        seed=seed,
        owner_id=owner_id,
        name=name,
        status=CampaignStatus.CREATED.value,
        created_at=now,
        updated_at=now,
    )
    session.add(campaign)
    session.flush()
    return campaign


def get_campaign(session: Session, campaign_id: str) -> Campaign | None:
    return session.get(Campaign, campaign_id)


def list_campaigns(
    session: Session,
    *,
    owner_id: int | None = None,
    statuses: Iterable[str] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Campaign]:
    """Newest first."""
    query = select(Campaign)
    if owner_id is not None:
        query = query.where(Campaign.owner_id == owner_id)
    if statuses is not None:
        query = query.where(Campaign.status.in_([str(s) for s in statuses]))
    query = query.order_by(Campaign.created_at.desc(), Campaign.id).limit(limit).offset(offset)
    return list(session.scalars(query))


def set_campaign_status(
    session: Session,
    campaign_id: str,
    status: CampaignStatus | str,
    *,
    error: str | None = None,
    now: datetime | None = None,
) -> Campaign:
    """Change status, stamping ``started_at`` on the first run and ``finished_at`` on a terminal state."""
    status = CampaignStatus(status)
    now = now or utcnow()
    campaign: Campaign = _require(session, Campaign, campaign_id)
    campaign.status = status.value
    if status is CampaignStatus.RUNNING and campaign.started_at is None:
        campaign.started_at = now
    if status in TERMINAL_CAMPAIGN_STATUSES:
        campaign.finished_at = now
    elif campaign.finished_at is not None:
        campaign.finished_at = None  # resumed
    if error is not None:
        campaign.error = error
    session.flush()
    return campaign


# Built once: composing ``column + value`` expressions costs more than running the statement on SQLite,
# and this runs for every LLM message.
_USAGE_FIELDS = {"tokens_in": "tokens_in", "tokens_out": "tokens_out", "cost_usd": "cost_usd",
                 "evaluations": "evaluations", "failures": "failures", "iterations": "iterations_done"}
_ADD_USAGE = (
    update(Campaign)
    .where(Campaign.id == bindparam("usage_campaign_id"))
    .values({column: getattr(Campaign, column) + bindparam(f"add_{column}") for column in _USAGE_FIELDS.values()})
    .execution_options(synchronize_session=False)
)


def add_campaign_usage(
    session: Session,
    campaign_id: str,
    *,
    tokens_in: int = 0,
    tokens_out: int = 0,
    cost_usd: float = 0.0,
    evaluations: int = 0,
    failures: int = 0,
    iterations: int = 0,
) -> None:
    """Atomically add to the campaign's running totals (safe with concurrent workers)."""
    given = {"tokens_in": tokens_in, "tokens_out": tokens_out, "cost_usd": cost_usd, "evaluations": evaluations,
             "failures": failures, "iterations": iterations}
    params = {f"add_{_USAGE_FIELDS[k]}": v for k, v in given.items()}
    session.execute(_ADD_USAGE, {"usage_campaign_id": campaign_id, **params})
    _refresh_loaded(
        session,
        Campaign,
        campaign_id,
        ["tokens_in", "tokens_out", "cost_usd", "evaluations", "failures", "iterations_done", "updated_at"],
    )


def _refresh_loaded(session: Session, model: type, key: Any, attributes: list[str]) -> None:
    """Expire columns changed by a Core UPDATE on an object this session has already loaded."""
    loaded = session.identity_map.get(session.identity_key(model, key))
    if loaded is not None:
        session.expire(loaded, attributes)


# -------------------------------------------------------------------------------------------- nodes


def add_node(
    session: Session,
    campaign_id: str,
    *,
    parent_id: int | None = None,
    code: str | None = None,
    proposal_text: str | None = None,
    proposal: dict[str, Any] | None = None,
    operation: str | None = None,
    iteration: int = 0,
    status: NodeStatus | str = NodeStatus.PENDING,
    code_hash: str | None = None,
    store: ArtifactStore | None = None,
    inline_limit: int = INLINE_CODE_LIMIT,
    now: datetime | None = None,
    **fields: Any,
) -> Node:
    """Add a node under ``parent_id`` (or as a root), with depth derived from the parent.

    ``code_hash`` defaults to :func:`code_fingerprint`. Code larger than ``inline_limit`` bytes goes to
    ``store`` (when given) and the node keeps only its hash; read it back with :func:`node_code`.
    The campaign's ``root_node_id`` is set by its first parentless node.
    """
    campaign: Campaign = _require(session, Campaign, campaign_id)
    depth = 0
    if parent_id is not None:
        parent: Node = _require(session, Node, parent_id)
        if parent.campaign_id != campaign_id:
            raise ValueError(f"parent node {parent_id} belongs to campaign {parent.campaign_id!r}")
        depth = parent.depth + 1
    _check_fields(fields)

    code_artifact = None
    if code is not None:
        code_hash = code_hash or code_fingerprint(code)
        encoded = code.encode("utf-8")
        if store is not None and len(encoded) > inline_limit:
            code_artifact = store_artifact(session, store, encoded, media_type=CODE_MEDIA_TYPE)
            code = None

    node = Node(
        campaign_id=campaign_id,
        parent_id=parent_id,
        depth=depth,
        iteration=iteration,
        operation=operation,
        status=NodeStatus(status).value,
        code=code,
        code_artifact=code_artifact,
        code_hash=code_hash,
        proposal_text=proposal_text,
        proposal=proposal,
        created_at=now or utcnow(),
        **fields,
    )
    session.add(node)
    session.flush()
    if parent_id is None and campaign.root_node_id is None:
        campaign.root_node_id = node.id
        session.flush()
    return node


def node_code(node: Node, store: ArtifactStore | None = None) -> str | None:
    """A node's code, whether stored inline or in the artifact store."""
    if node.code is not None or node.code_artifact is None:
        return node.code
    if store is None:
        raise ValueError(f"node {node.id} keeps its code in the artifact store; pass the store")
    return store.get_text(node.code_artifact)


def get_node(session: Session, node_id: int) -> Node | None:
    return session.get(Node, node_id)


def list_nodes(
    session: Session,
    campaign_id: str,
    *,
    statuses: Iterable[str] | None = None,
    parent_id: int | None = None,
) -> list[Node]:
    """A campaign's nodes in creation order (optionally only some statuses, or one node's children)."""
    query = select(Node).where(Node.campaign_id == campaign_id)
    if statuses is not None:
        query = query.where(Node.status.in_([str(s) for s in statuses]))
    if parent_id is not None:
        query = query.where(Node.parent_id == parent_id)
    return list(session.scalars(query.order_by(Node.id)))


def best_nodes(session: Session, campaign_id: str, *, limit: int = 10) -> list[Node]:
    """Scored, succeeded nodes, lowest error first."""
    query = (
        select(Node)
        .where(
            Node.campaign_id == campaign_id,
            Node.status == NodeStatus.SUCCEEDED.value,
            Node.score.is_not(None),
        )
        .order_by(Node.score, Node.id)
        .limit(limit)
    )
    return list(session.scalars(query))


_NODE_COLUMNS = frozenset(c.key for c in Node.__table__.columns) - {"id", "campaign_id"}


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - _NODE_COLUMNS
    if unknown:
        raise TypeError(f"unknown node fields: {sorted(unknown)}")


def update_node(session: Session, node_id: int, **fields: Any) -> Node:
    """Set any node columns by name (metrics, curves, logs, analysis, protections, timings, ...)."""
    _check_fields(fields)
    node: Node = _require(session, Node, node_id)
    if "status" in fields:
        fields["status"] = NodeStatus(fields["status"]).value
    for name, value in fields.items():
        setattr(node, name, value)
    session.flush()
    return node


def set_node_status(
    session: Session,
    node_id: int,
    status: NodeStatus | str,
    *,
    now: datetime | None = None,
    **fields: Any,
) -> Node:
    """Change status; stamps ``started_at`` on running and ``finished_at``/``wall_seconds`` when terminal.
    One UPDATE with the other ``fields`` (and with a score set just before, see :func:`record_node_score`)."""
    status = NodeStatus(status)
    now = now or utcnow()
    node: Node = _require(session, Node, node_id)
    stamps: dict[str, Any] = {}
    if status is NodeStatus.RUNNING and node.started_at is None:
        stamps["started_at"] = now
    if status in TERMINAL_NODE_STATUSES:
        stamps["finished_at"] = now
        if node.started_at is not None and node.wall_seconds is None:
            stamps["wall_seconds"] = (now - node.started_at).total_seconds()
    return update_node(session, node_id, status=status, **{**stamps, **fields})


def record_node_score(
    session: Session,
    node_id: int,
    score: float,
    *,
    metrics: dict[str, Any] | None = None,
) -> bool:
    """Store a node's score (lower is better) and make it champion if it beats the campaign's best.

    The champion update is one conditional UPDATE, so two workers finishing at once cannot both win
    or overwrite a better score with a worse one. Returns True if this node became champion.
    Non-finite scores are stored but never crowned; NaN is refused.
    """
    if math.isnan(score):
        raise ValueError("score is NaN")
    node: Node = _require(session, Node, node_id)
    node.score = float(score)
    if metrics is not None:
        node.metrics = metrics
    # Not flushed here: the champion UPDATE below touches the campaign only, and the status change that
    # follows a score writes the node's row once for both (or the commit does).
    if not math.isfinite(score):
        return False
    with session.no_autoflush:
        result = session.execute(
            update(Campaign)
            .where(
                Campaign.id == node.campaign_id,
                or_(Campaign.best_score.is_(None), Campaign.best_score > score),
            )
            .values(best_score=float(score), champion_node_id=node.id)
            .execution_options(synchronize_session=False)
        )
    _refresh_loaded(session, Campaign, node.campaign_id, ["best_score", "champion_node_id", "updated_at"])
    return result.rowcount == 1


def find_node_by_code_hash(
    session: Session,
    campaign_id: str,
    code_hash: str,
    *,
    exclude_node_id: int | None = None,
) -> Node | None:
    """The earliest node of the campaign with this code fingerprint (duplicates themselves excluded)."""
    query = select(Node).where(
        Node.campaign_id == campaign_id,
        Node.code_hash == code_hash,
        Node.status != NodeStatus.SKIPPED_DUPLICATE.value,
    )
    if exclude_node_id is not None:
        query = query.where(Node.id != exclude_node_id)
    return session.scalar(query.order_by(Node.id).limit(1))


def add_debug_attempt(
    session: Session,
    node_id: int,
    code: str,
    *,
    traceback: str | None = None,
    diagnosis: str | None = None,
    outcome: str | None = None,
) -> DebugAttempt:
    """Record the next debugger attempt (numbered from 1) for a node."""
    _require(session, Node, node_id)
    last = session.scalar(select(func.max(DebugAttempt.attempt)).where(DebugAttempt.node_id == node_id))
    attempt = DebugAttempt(
        node_id=node_id,
        attempt=(last or 0) + 1,
        code=code,
        code_hash=code_fingerprint(code),
        traceback=traceback,
        diagnosis=diagnosis,
        outcome=outcome,
    )
    session.add(attempt)
    session.flush()
    return attempt


# ----------------------------------------------------------------------------------------- messages


_ADD_NODE_USAGE = (
    update(Node)
    .where(Node.id == bindparam("usage_node_id"))
    .values({column: getattr(Node, column) + bindparam(f"add_{column}")
             for column in ("tokens_in", "tokens_out", "cost_usd")})
    .execution_options(synchronize_session=False)
)


def add_message(
    session: Session,
    campaign_id: str,
    role: str,
    text: str,
    *,
    node_id: int | None = None,
    iteration: int | None = None,
    kind: str | None = None,
    model: str | None = None,
    prompt_version: str | None = None,
    payload: dict[str, Any] | None = None,
    tokens_in: int = 0,
    tokens_out: int = 0,
    latency_s: float | None = None,
    cost_usd: float = 0.0,
    count_usage: bool = True,
    now: datetime | None = None,
) -> Message:
    """Store an agent message; with ``count_usage`` its tokens and cost are added to campaign and node."""
    message = Message(
        campaign_id=campaign_id,
        node_id=node_id,
        iteration=iteration,
        role=role,
        kind=kind,
        model=model,
        prompt_version=prompt_version,
        text=text,
        payload=payload,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        latency_s=latency_s,
        cost_usd=cost_usd,
        created_at=now or utcnow(),
    )
    session.add(message)
    session.flush()
    if count_usage and (tokens_in or tokens_out or cost_usd):
        add_campaign_usage(
            session, campaign_id, tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost_usd
        )
        if node_id is not None:
            add_node_usage(session, node_id, tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost_usd)
    return message


_INSERT_MESSAGE = insert(Message.__table__).returning(Message.__table__.c.id)


def insert_message(session: Session, values: dict[str, Any]) -> int:
    """Store one agent message with a single Core ``INSERT ... RETURNING id`` and no usage accounting.

    For the engine's hot path, which writes a message per LLM answer: the ORM's unit of work costs more
    CPU than the statement itself, and the engine adds the usage to the campaign with the message's event
    (``append_event(usage=...)``) and to the node with :func:`add_node_usage`. ``values`` are Message
    columns; the columns' own defaults fill the rest (``created_at``: now).
    """
    return int(session.execute(_INSERT_MESSAGE, values).scalar_one())


_INSERT_MESSAGES = insert(Message.__table__).returning(Message.__table__.c.id, sort_by_parameter_order=True)


def insert_messages(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Several messages in one multi-row ``INSERT ... RETURNING id`` (ids in the order of ``rows``); see
    :func:`insert_message`. Every row must name the same columns."""
    if len(rows) == 1:
        return [insert_message(session, rows[0])]
    return [int(i) for i in session.execute(_INSERT_MESSAGES, rows).scalars()]


def add_node_usage(session: Session, node_id: int, *, tokens_in: int = 0, tokens_out: int = 0,
                   cost_usd: float = 0.0) -> None:
    """Atomically add an LLM call's usage to a node's totals."""
    session.execute(_ADD_NODE_USAGE, {"usage_node_id": node_id, "add_tokens_in": tokens_in,
                                      "add_tokens_out": tokens_out, "add_cost_usd": cost_usd})
    _refresh_loaded(session, Node, node_id, ["tokens_in", "tokens_out", "cost_usd"])


def list_messages(
    session: Session,
    campaign_id: str,
    *,
    node_id: int | None = None,
    roles: Iterable[str] | None = None,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[Message]:
    query = select(Message).where(Message.campaign_id == campaign_id)
    if node_id is not None:
        query = query.where(Message.node_id == node_id)
    if roles is not None:
        query = query.where(Message.role.in_(list(roles)))
    if after_id is not None:
        query = query.where(Message.id > after_id)
    query = query.order_by(Message.id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


# ---------------------------------------------------------------------------------------- knowledge


def link_knowledge(
    session: Session,
    campaign_id: str,
    card_id: str,
    kind: KnowledgeLinkKind | str,
    *,
    node_id: int | None = None,
    score: float | None = None,
    rank: int | None = None,
    payload: dict[str, Any] | None = None,
) -> KnowledgeLink:
    link = KnowledgeLink(
        campaign_id=campaign_id,
        card_id=card_id,
        kind=KnowledgeLinkKind(kind).value,
        node_id=node_id,
        score=score,
        rank=rank,
        payload=payload,
    )
    session.add(link)
    session.flush()
    return link


def list_knowledge_links(
    session: Session,
    *,
    campaign_id: str | None = None,
    node_id: int | None = None,
    card_id: str | None = None,
    kind: KnowledgeLinkKind | str | None = None,
) -> list[KnowledgeLink]:
    query = select(KnowledgeLink)
    if campaign_id is not None:
        query = query.where(KnowledgeLink.campaign_id == campaign_id)
    if node_id is not None:
        query = query.where(KnowledgeLink.node_id == node_id)
    if card_id is not None:
        query = query.where(KnowledgeLink.card_id == card_id)
    if kind is not None:
        query = query.where(KnowledgeLink.kind == KnowledgeLinkKind(kind).value)
    return list(session.scalars(query.order_by(KnowledgeLink.id)))


# ---------------------------------------------------------------------------------------- artifacts


def store_artifact(
    session: Session,
    store: ArtifactStore,
    data: bytes | Any,
    *,
    media_type: str = "application/octet-stream",
) -> str:
    """Put bytes (or a ``Path``) in the store and record it in ``artifacts``; returns the sha256.

    The row is inserted with ON CONFLICT DO NOTHING, so storing the same content twice, even from two
    processes at once, is harmless.
    """
    digest = store.put(data)
    values = {
        "hash": digest,
        "size_bytes": store.size(digest),
        "media_type": media_type,
        "created_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(pg_dialect.insert(Artifact).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite_dialect.insert(Artifact).values(**values).on_conflict_do_nothing())
    elif session.get(Artifact, digest) is None:
        session.add(Artifact(**values))
        session.flush()
    return digest


def get_artifact(session: Session, digest: str) -> Artifact | None:
    return session.get(Artifact, digest)
