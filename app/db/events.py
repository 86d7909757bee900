"""The append-only event log behind the live campaign stream.

Ordering guarantee, and why it holds on both back ends: ``append_event`` first bumps
``campaigns.last_event_seq`` with ``UPDATE ... RETURNING``. On PostgreSQL that UPDATE takes the
campaign row's lock, which is held until the transaction ends, so concurrent appenders for one
campaign queue up and each reads the value its predecessor committed (READ COMMITTED re-reads the
row after waiting). On SQLite every write transaction holds the database write lock (the session
layer begins with ``BEGIN IMMEDIATE``). Either way, within a campaign:

* ``seq`` is 1, 2, 3, ... without gaps or duplicates (a rolled-back append also rolls back its bump);
* the global ``id`` is drawn after the lock is taken, so ``id`` increases with ``seq`` and with commit
  order. A client that resumes a campaign stream from ``Last-Event-ID: <id>`` therefore misses nothing.

Across campaigns ids are only unique, not commit-ordered (two campaigns append in parallel), so a
stream spanning every campaign should resume per campaign, not from one global id.

Keep the transaction that appends an event short: it blocks the campaign's other appenders.

On PostgreSQL the bump and the insert travel as one statement (a data-modifying CTE, ``_APPEND_PG``):
the engine appends about a dozen events per node and each statement is a round trip to the server, so
this halves the cost of an event there. The UPDATE inside the CTE takes the same row lock before the
INSERT draws its ``id``, so the guarantees above hold unchanged. SQLite allows no UPDATE inside a CTE and
pays no network round trip, so it keeps the two statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import bindparam, cast, insert, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from app.db.errors import NotFound
from app.db.models import Campaign, Event
from app.db.types import utcnow

DEFAULT_PAGE = 500


class EventRecord(BaseModel):
    """An event as it leaves the database (for SSE and the API); ``id`` is the SSE event id."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: int
    campaign_id: str
    seq: int
    type: str
    node_id: int | None
    role: str | None
    payload: dict[str, Any]
    created_at: datetime


# Built once (it runs for every event); the row lock it takes orders concurrent appenders.
_NEXT_SEQ = (
    update(Campaign)
    .where(Campaign.id == bindparam("seq_campaign_id"))
    .values(last_event_seq=Campaign.last_event_seq + 1)
    .returning(Campaign.last_event_seq)
    .execution_options(synchronize_session=False)
)
# The same bump adding an LLM message's usage to the campaign's totals: a message's row, usage and event
# are then two statements instead of three (the campaign row is locked and updated once, not twice).
USAGE_COLUMNS = ("tokens_in", "tokens_out", "cost_usd")
_NEXT_SEQ_WITH_USAGE = _NEXT_SEQ.values(
    {column: getattr(Campaign, column) + bindparam(f"add_{column}") for column in USAGE_COLUMNS})


def _param(column: str) -> Any:
    """A bound value in the INSERT's SELECT list, cast to its column's type: PostgreSQL resolves an untyped
    literal there as text, which a JSON or timestamp column would refuse."""
    type_ = Event.__table__.c[column].type
    return cast(bindparam(f"ev_{column}", type_=type_), type_)


_APPENDED_COLUMNS = ("campaign_id", "type", "node_id", "role", "payload", "created_at")
_EVENTS = Event.__table__


def _append_pg(bump: Any) -> Any:
    """One round trip on PostgreSQL: bump the sequence (row lock) and insert the event that takes it. No
    campaign row, no bumped row, nothing inserted: the caller sees no result and raises NotFound.
    (Core, on the table: the ORM's bulk INSERT does not take a SELECT.)"""
    bumped = bump.cte("bumped")
    return (insert(_EVENTS)
            .from_select(["seq", *_APPENDED_COLUMNS],
                         select(bumped.c.last_event_seq, *(_param(c) for c in _APPENDED_COLUMNS)))
            .returning(_EVENTS.c.id, _EVENTS.c.seq))


_APPEND_PG = _append_pg(_NEXT_SEQ)
_APPEND_PG_WITH_USAGE = _append_pg(_NEXT_SEQ_WITH_USAGE)


def append_event(
    session: Session,
    campaign_id: str,
    type: str,
    payload: dict[str, Any] | None = None,
    *,
    node_id: int | None = None,
    role: str | None = None,
    now: datetime | None = None,
    usage: Mapping[str, float] | None = None,
) -> Event:
    """Append one event with the campaign's next ``seq``; the row is flushed, so ``id`` is set.

    ``usage`` (``tokens_in``, ``tokens_out``, ``cost_usd``) is added to the campaign's totals by the
    same UPDATE that bumps the sequence. Raises :class:`NotFound` if the campaign does not exist.
    Commit is the caller's job.
    """
    values: dict[str, Any] = {"campaign_id": campaign_id, "type": type, "node_id": node_id, "role": role,
                              "payload": payload if payload is not None else {}, "created_at": now or utcnow()}
    added = {f"add_{c}": usage.get(c, 0) for c in USAGE_COLUMNS} if usage else {}
    if session.get_bind().dialect.name == "postgresql":
        event = _append_in_one_statement(session, values, added)
    else:
        bump = _NEXT_SEQ_WITH_USAGE if added else _NEXT_SEQ
        seq = session.execute(bump, {"seq_campaign_id": campaign_id, **added}).scalar_one_or_none()
        if seq is None:
            raise NotFound(f"campaign {campaign_id!r}")
        event = Event(seq=seq, **values)
        session.add(event)
        session.flush()
    # Keep an already-loaded Campaign consistent with the row without another round trip.
    loaded = session.identity_map.get(session.identity_key(Campaign, campaign_id))
    if loaded is not None:
        set_committed_value(loaded, "last_event_seq", event.seq)
        session.expire(loaded, ["updated_at", *(USAGE_COLUMNS if added else ())])
    return event


def _append_in_one_statement(session: Session, values: dict[str, Any], added: dict[str, Any]) -> Event:
    """PostgreSQL: bump and insert in one statement; the row comes back as a persistent ``Event``, as
    if it had been added and flushed (``id`` and ``seq`` set), without a SELECT to load it."""
    session.flush()  # a node or message added just before may be what the event's foreign key names
    params = {"seq_campaign_id": values["campaign_id"], **added, **{f"ev_{k}": v for k, v in values.items()}}
    row = session.execute(_APPEND_PG_WITH_USAGE if added else _APPEND_PG, params).first()
    if row is None:
        raise NotFound(f"campaign {values['campaign_id']!r}")
    event = Event(id=row.id, seq=row.seq, **values)
    make_transient_to_detached(event)
    session.add(event)
    return event


# Several events at once: the sequence moves by their number in one UPDATE, then one multi-row INSERT.
_NEXT_SEQS = (
    update(Campaign)
    .where(Campaign.id == bindparam("seq_campaign_id"))
    .values(last_event_seq=Campaign.last_event_seq + bindparam("seq_count"))
    .returning(Campaign.last_event_seq)
    .execution_options(synchronize_session=False)
)
_NEXT_SEQS_WITH_USAGE = _NEXT_SEQS.values(
    {column: getattr(Campaign, column) + bindparam(f"add_{column}") for column in USAGE_COLUMNS})


@dataclass(frozen=True)
class NewEvent:
    type: str
    payload: dict[str, Any]
    node_id: int | None = None
    role: str | None = None


def append_events(
    session: Session,
    campaign_id: str,
    events: Sequence[NewEvent],
    *,
    now: datetime | None = None,
    usage: Mapping[str, float] | None = None,
) -> None:
    """Append events with consecutive ``seq`` numbers in two statements, however many there are: for a
    step that stores several LLM messages at once (each has an event), where one ``append_event`` per
    message would cost a statement each. ``usage`` is their summed usage, added to the campaign's totals
    by the sequence UPDATE. No ORM objects are made. Raises :class:`NotFound` if the campaign does not
    exist. Commit is the caller's job."""
    if not events:
        return
    added = {f"add_{c}": usage.get(c, 0) for c in USAGE_COLUMNS} if usage else {}
    session.flush()  # a row added just before may be what an event's foreign key names
    bump = _NEXT_SEQS_WITH_USAGE if added else _NEXT_SEQS
    last = session.execute(bump, {"seq_campaign_id": campaign_id, "seq_count": len(events), **added}
                           ).scalar_one_or_none()
    if last is None:
        raise NotFound(f"campaign {campaign_id!r}")
    first, created = last - len(events) + 1, now or utcnow()
    session.execute(insert(_EVENTS), [
        {"campaign_id": campaign_id, "seq": first + i, "type": e.type, "node_id": e.node_id, "role": e.role,
         "payload": e.payload, "created_at": created} for i, e in enumerate(events)])
    loaded = session.identity_map.get(session.identity_key(Campaign, campaign_id))
    if loaded is not None:
        set_committed_value(loaded, "last_event_seq", last)
        session.expire(loaded, ["updated_at", *(USAGE_COLUMNS if added else ())])


def list_events(
    session: Session,
    campaign_id: str,
    *,
    after_seq: int | None = None,
    after_id: int | None = None,
    types: Iterable[str] | None = None,
    limit: int = DEFAULT_PAGE,
) -> list[Event]:
    """A campaign's events in order, after a ``seq`` and/or after an event ``id`` (SSE resume)."""
    query = select(Event).where(Event.campaign_id == campaign_id)
    if after_seq is not None:
        query = query.where(Event.seq > after_seq)
    if after_id is not None:
        query = query.where(Event.id > after_id)
    if types is not None:
        query = query.where(Event.type.in_(list(types)))
    return list(session.scalars(query.order_by(Event.seq).limit(limit)))


def list_events_after_id(session: Session, after_id: int = 0, *, limit: int = DEFAULT_PAGE) -> list[Event]:
    """Events of every campaign by global id (admin views; see the module note on cross-campaign order)."""
    return list(session.scalars(select(Event).where(Event.id > after_id).order_by(Event.id).limit(limit)))


def last_event_seq(session: Session, campaign_id: str) -> int:
    """The highest seq handed out for the campaign (0 before its first event)."""
    value = session.scalar(select(Campaign.last_event_seq).where(Campaign.id == campaign_id))
    if value is None:
        raise NotFound(f"campaign {campaign_id!r}")
    return int(value)


def to_record(event: Event) -> EventRecord:
    return EventRecord.model_validate(event)
