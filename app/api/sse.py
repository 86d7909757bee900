"""Server-sent events: live campaign events read from the event log, resumable with ``Last-Event-ID``.

Two streams:

* per campaign: the SSE id is the campaign's ``seq`` (1, 2, 3, ... without gaps, in commit order; see
  :mod:`app.db.events`), so resuming after ``Last-Event-ID: n`` means "every event with seq > n": nothing
  missed, nothing twice. Without the header the stream replays the campaign from its first event.
* global: the SSE id is the global event ``id``. Ids are unique but, on PostgreSQL, two campaigns can
  commit out of id order (id 11 visible before id 10). The stream therefore only moves its cursor over a
  contiguous run of ids; at a hole it waits up to ``sse_gap_grace_seconds`` for the missing id to commit,
  then skips it as an id that will never appear (a rolled-back append, or a deleted campaign's event).
  Without the header it starts at the newest event, i.e. "from now on".

Nothing is pushed from the writers (they may be other processes). One :class:`EventHub` per process polls
the log for new events, keeps the recent ones of each campaign in memory (serialised once), and wakes the
open streams. A campaign stream serves itself from that memory as long as it holds a gapless run of seqs
after the stream's cursor, and reads the database otherwise (catching up, or after a hole), so a thousand
clients of one campaign cost one query per poll, and correctness never depends on the cache. Comment lines
(``: keep-alive``) go out every ``sse_heartbeat_seconds`` so proxies and clients can tell a quiet stream from
a dead one; each heartbeat also re-reads the database, a safety net for anything the cache could miss.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
from sqlalchemy import func, select

from app.db.events import EventRecord
from app.db.models import Campaign, Event
from app.db.session import Database

log = logging.getLogger(__name__)
PAGE = 500
RETRY_MS = 1000
KEEP_PER_CAMPAIGN = 2000
KEEP_CAMPAIGNS = 256


@dataclass(frozen=True)
class Cached:
    """An event as it goes on the wire: its ids and its JSON, serialised once for every stream."""

    id: int
    seq: int
    campaign_id: str
    type: str
    data: str

    @classmethod
    def of(cls, record: EventRecord) -> "Cached":
        return cls(id=record.id, seq=record.seq, campaign_id=record.campaign_id, type=record.type,
                   data=record.model_dump_json())


class EventHub:
    """Polls the event log once for the whole process and fans new events out to the open streams.

    Holes in the ids it has read (an append with a smaller id that had not committed yet) are re-checked on
    the following polls for ``gap_grace`` seconds, so late commits reach the cache too.
    """

    def __init__(self, db: Database, poll_seconds: float, gap_grace: float = 2.0) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self.gap_grace = gap_grace
        self.version = 0
        self.subscribers = 0
        self._last_id: int | None = None
        self._holes: dict[int, float] = {}  # missing id -> when first noticed
        self._recent: OrderedDict[str, list[Cached]] = OrderedDict()  # campaign -> events sorted by seq
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sse-event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping anyway
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            if self.subscribers:
                try:
                    fresh = await anyio.to_thread.run_sync(self._poll)
                except Exception:  # the database may be restarting; try again
                    log.warning("event hub: cannot read the event log", exc_info=True)
                    fresh = []
                if fresh:
                    for event in fresh:
                        self._remember(event)
                    self.version += 1
                    self._changed.set()
                    self._changed = asyncio.Event()
            else:
                self._last_id = None  # nobody listens: start from the head again when someone does
                self._holes.clear()
            await asyncio.sleep(self.poll_seconds)

    def _poll(self) -> list[Cached]:
        with self.db.session_scope(readonly=True) as s:
            if self._last_id is None:
                self._last_id = int(s.scalar(select(func.max(Event.id))) or 0)
                return []
            now = time.monotonic()
            self._holes = {i: t for i, t in self._holes.items() if now - t < self.gap_grace}
            rows = list(s.scalars(select(Event).where(Event.id > self._last_id).order_by(Event.id).limit(PAGE)))
            if self._holes:
                rows += list(s.scalars(select(Event).where(Event.id.in_(list(self._holes)))))
            fresh = []
            for row in rows:
                self._holes.pop(row.id, None)
                fresh.append(Cached.of(EventRecord.model_validate(row)))
            expected = self._last_id + 1
            for row in sorted(r.id for r in rows if r.id > self._last_id):
                for missing in range(expected, min(row, expected + 1000)):
                    self._holes.setdefault(missing, now)
                expected = row + 1
                self._last_id = row
            return fresh

    def _remember(self, event: Cached) -> None:
        events = self._recent.get(event.campaign_id)
        if events is None:
            events = self._recent[event.campaign_id] = []
            while len(self._recent) > KEEP_CAMPAIGNS:
                self._recent.popitem(last=False)
        self._recent.move_to_end(event.campaign_id)
        position = bisect.bisect_left([e.seq for e in events], event.seq)
        if position < len(events) and events[position].seq == event.seq:
            return
        events.insert(position, event)
        if len(events) > KEEP_PER_CAMPAIGN:
            del events[: len(events) - KEEP_PER_CAMPAIGN]

    def after(self, campaign_id: str, after_seq: int) -> list[Cached] | None:
        """Cached events with seq after_seq+1, +2, ... (gapless); None if the cache cannot tell (read the db)."""
        events = self._recent.get(campaign_id)
        if not events:
            return []
        if events[0].seq > after_seq + 1:
            return None  # the cache starts later than the stream: catch up from the database
        start = bisect.bisect_right([e.seq for e in events], after_seq)
        run: list[Cached] = []
        for event in events[start:]:
            if event.seq != after_seq + len(run) + 1:
                return None if not run else run  # a hole: deliver up to it, the next look reads the db
            run.append(event)
        return run

    async def wait(self, seen: int, timeout: float) -> int:
        """Return at once if something arrived since ``seen``; else wait up to ``timeout`` seconds."""
        if self.version != seen:
            return self.version
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), timeout=max(0.0, timeout))
        except TimeoutError:
            pass
        return self.version


def format_event(sse_id: int, data: str) -> str:
    return f"id: {sse_id}\ndata: {data}\n\n"


def format_control(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


# -- reads (run in worker threads) ----------------------------------------------------------------------------
def read_campaign_slice(db: Database, campaign_id: str, after_seq: int) -> tuple[list[Cached], bool]:
    """Events with seq > after_seq (one page), and whether the campaign still exists."""
    with db.session_scope(readonly=True) as s:
        exists = s.scalar(select(Campaign.id).where(Campaign.id == campaign_id)) is not None
        rows = s.scalars(select(Event).where(Event.campaign_id == campaign_id, Event.seq > after_seq)
                         .order_by(Event.seq).limit(PAGE))
        return [Cached.of(EventRecord.model_validate(r)) for r in rows], exists


def read_global_slice(db: Database, after_id: int) -> list[tuple[Cached, int | None]]:
    """Events of every campaign with id > after_id (one page), each with its campaign's owner."""
    with db.session_scope(readonly=True) as s:
        rows = s.execute(select(Event, Campaign.owner_id).join(Campaign, Campaign.id == Event.campaign_id)
                         .where(Event.id > after_id).order_by(Event.id).limit(PAGE))
        return [(Cached.of(EventRecord.model_validate(e)), owner) for e, owner in rows]


def newest_event_id(db: Database) -> int:
    with db.session_scope(readonly=True) as s:
        return int(s.scalar(select(func.max(Event.id))) or 0)


# -- streams --------------------------------------------------------------------------------------------------
class _Beat:
    def __init__(self, every: float) -> None:
        self.every = every
        self.last = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self.last >= self.every

    def reset(self) -> None:
        self.last = time.monotonic()

    def remaining(self) -> float:
        return max(0.0, self.every - (time.monotonic() - self.last))


async def campaign_stream(ctx: Any, campaign_id: str, after_seq: int, *, follow: bool) -> AsyncIterator[str]:
    hub: EventHub = ctx.events
    beat = _Beat(ctx.service.sse_heartbeat_seconds)
    hub.subscribers += 1
    try:
        yield f"retry: {RETRY_MS}\n\n"
        seen = hub.version
        from_db = True  # catch up from the database first
        while True:
            if from_db:
                batch, exists = await anyio.to_thread.run_sync(read_campaign_slice, ctx.db, campaign_id, after_seq)
                if not exists:
                    yield format_control("end", {"reason": "campaign deleted"})
                    return
                for event in batch:
                    yield format_event(event.seq, event.data)
                    after_seq = event.seq
                from_db = len(batch) == PAGE  # a full page: there may be more
                if from_db:
                    continue
            else:
                cached = hub.after(campaign_id, after_seq)
                if cached is None:  # the cache has a hole or starts too late: ask the database
                    from_db = True
                    continue
                if cached:
                    for event in cached:
                        yield format_event(event.seq, event.data)
                        after_seq = event.seq
                    beat.reset()
                    continue
            if not follow:
                return
            seen = await hub.wait(seen, beat.remaining())
            if beat.due():
                yield ": keep-alive\n\n"
                beat.reset()
                from_db = True  # the safety net: once a heartbeat, ask the database itself
    finally:
        hub.subscribers -= 1


async def global_stream(ctx: Any, principal: Any, after_id: int | None, *, follow: bool) -> AsyncIterator[str]:
    hub: EventHub = ctx.events
    beat = _Beat(ctx.service.sse_heartbeat_seconds)
    grace = ctx.service.sse_gap_grace_seconds
    hub.subscribers += 1
    try:
        if after_id is None:
            after_id = await anyio.to_thread.run_sync(newest_event_id, ctx.db)
        yield f"retry: {RETRY_MS}\n\n"
        seen = hub.version
        hole_since: float | None = None
        while True:
            rows = await anyio.to_thread.run_sync(read_global_slice, ctx.db, after_id)
            sent = False
            for event, owner in rows:
                if event.id != after_id + 1:
                    # A hole: an append with a smaller id may still be committing. Wait for it, a little.
                    now = time.monotonic()
                    if hole_since is None:
                        hole_since = now
                    if now - hole_since < grace:
                        break
                hole_since = None
                after_id = event.id
                if principal.can_see(owner):
                    yield format_event(event.id, event.data)
                    sent = True
            if sent:
                beat.reset()
            if len(rows) == PAGE and hole_since is None:
                continue
            if not follow and hole_since is None:
                return
            timeout = beat.remaining() if hole_since is None else min(beat.remaining(), ctx.service.sse_poll_seconds)
            seen = await hub.wait(seen, timeout)
            if beat.due():
                yield ": keep-alive\n\n"
                beat.reset()
    finally:
        hub.subscribers -= 1
