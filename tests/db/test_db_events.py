"""Event log: gapless per-campaign seq, id order consistent with seq, resumable listing, under threads."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import timedelta

import pytest

from app.db import repository as repo
from app.db.errors import NotFound
from app.db.events import EventRecord, to_record
from app.db.session import Database


def _campaigns(db: Database, n: int) -> list[str]:
    with db.session_scope() as s:
        problem = repo.upsert_problem(s, "p", kind="pde", spec={})
        return [repo.create_campaign(s, problem.id).id for _ in range(n)]


def test_sequential_appends_and_listing(db: Database) -> None:
    (campaign_id,) = _campaigns(db, 1)
    with db.session_scope() as s:
        for i in range(5):
            event = repo.append_event(s, campaign_id, "tick", {"i": i}, role="engine")
            assert event.seq == i + 1 and event.id is not None
    with db.session_scope(readonly=True) as s:
        events = repo.list_events(s, campaign_id)
        assert [e.seq for e in events] == [1, 2, 3, 4, 5]
        assert [e.payload["i"] for e in events] == [0, 1, 2, 3, 4]
        assert [e.seq for e in repo.list_events(s, campaign_id, after_seq=3)] == [4, 5]
        assert [e.seq for e in repo.list_events(s, campaign_id, after_id=events[1].id)] == [3, 4, 5]
        assert [e.seq for e in repo.list_events(s, campaign_id, limit=2)] == [1, 2]
        assert repo.last_event_seq(s, campaign_id) == 5
        record = to_record(events[0])
        assert isinstance(record, EventRecord) and record.campaign_id == campaign_id
        assert record.created_at.utcoffset() == timedelta(0)


def test_type_filter_and_global_listing(db: Database) -> None:
    one, two = _campaigns(db, 2)
    with db.session_scope() as s:
        repo.append_event(s, one, "a")
        repo.append_event(s, two, "b")
        repo.append_event(s, one, "b")
    with db.session_scope(readonly=True) as s:
        assert [e.seq for e in repo.list_events(s, one, types=["b"])] == [2]
        every = repo.list_events_after_id(s)
        assert [(e.campaign_id, e.seq) for e in every] == [(one, 1), (two, 1), (one, 2)]
        assert len(repo.list_events_after_id(s, every[0].id)) == 2


def test_rolled_back_append_leaves_no_gap(db: Database) -> None:
    (campaign_id,) = _campaigns(db, 1)
    with db.session_scope() as s:
        repo.append_event(s, campaign_id, "kept")
    with pytest.raises(RuntimeError):
        with db.session_scope() as s:
            repo.append_event(s, campaign_id, "lost")
            raise RuntimeError("step failed")
    with db.session_scope() as s:
        repo.append_event(s, campaign_id, "kept")
    with db.session_scope(readonly=True) as s:
        assert [(e.seq, e.type) for e in repo.list_events(s, campaign_id)] == [(1, "kept"), (2, "kept")]


def test_append_to_missing_campaign(db: Database) -> None:
    with pytest.raises(NotFound):
        with db.session_scope() as s:
            repo.append_event(s, "no-such-campaign", "x")


def test_concurrent_appends_are_gapless_and_ordered(db: Database) -> None:
    """Threads append to two campaigns at once; each campaign must see seq 1..N with ids rising."""
    campaigns = _campaigns(db, 2)
    threads_per_campaign, per_thread = 3, 15
    errors: list[BaseException] = []
    start = threading.Barrier(threads_per_campaign * len(campaigns))

    def worker(campaign_id: str, worker_no: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with db.session_scope() as s:
                    repo.append_event(s, campaign_id, "tick", {"worker": worker_no, "i": i})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=worker, args=(campaign_id, n))
        for campaign_id in campaigns
        for n in range(threads_per_campaign)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors

    total = threads_per_campaign * per_thread
    with db.session_scope(readonly=True) as s:
        for campaign_id in campaigns:
            events = repo.list_events(s, campaign_id, limit=10_000)
            assert [e.seq for e in events] == list(range(1, total + 1))
            ids = [e.id for e in events]
            assert ids == sorted(ids) and len(set(ids)) == total
            # Each worker's own events keep their order.
            by_worker: dict[int, list[int]] = defaultdict(list)
            for e in events:
                by_worker[e.payload["worker"]].append(e.payload["i"])
            assert all(seen == list(range(per_thread)) for seen in by_worker.values())
            assert repo.last_event_seq(s, campaign_id) == total


def test_append_is_one_statement_on_postgresql(db: Database) -> None:
    """The engine appends about a dozen events per node: on PostgreSQL the seq bump and the insert are one
    round trip (a CTE), on SQLite two; either way a Campaign already loaded sees the new ``last_event_seq``."""
    from sqlalchemy import event as sa_event

    (campaign_id,) = _campaigns(db, 1)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with db.session_scope() as s:
        campaign = repo.get_campaign(s, campaign_id)
        sa_event.listen(db.engine, "after_cursor_execute", count)
        try:
            first = repo.append_event(s, campaign_id, "one", {"n": 1}, role="engine")
            second = repo.append_event(s, campaign_id, "two")
        finally:
            sa_event.remove(db.engine, "after_cursor_execute", count)
        assert (first.seq, second.seq) == (1, 2) and second.id > first.id
        assert campaign.last_event_seq == 2
        assert first in s and first.payload == {"n": 1} and first.role == "engine"
    assert len(statements) == (2 if db.dialect_name == "postgresql" else 4)
    with db.session_scope(readonly=True) as s:
        stored = repo.list_events(s, campaign_id)
        assert [(e.seq, e.type, e.payload, e.role) for e in stored] == [(1, "one", {"n": 1}, "engine"),
                                                                        (2, "two", {}, None)]
        assert stored[0].created_at.utcoffset() == timedelta(0)


def test_an_event_can_carry_a_messages_usage_into_the_campaign_totals(db: Database) -> None:
    """The engine adds an LLM message's usage with its event's sequence bump (one UPDATE, not two)."""
    (campaign_id,) = _campaigns(db, 1)
    with db.session_scope() as s:
        campaign = repo.get_campaign(s, campaign_id)  # loaded: its totals must not go stale in this session
        message_id = repo.insert_message(s, {"campaign_id": campaign_id, "role": "critic", "text": "no",
                                             "tokens_in": 7, "tokens_out": 3, "cost_usd": 0.25})
        first = repo.append_event(s, campaign_id, "message", {"message_id": message_id},
                                  usage={"tokens_in": 7, "tokens_out": 3, "cost_usd": 0.25})
        second = repo.append_event(s, campaign_id, "message", usage={"tokens_in": 1})
        repo.append_event(s, campaign_id, "tick")  # no usage: totals unchanged
        assert (campaign.tokens_in, campaign.tokens_out, campaign.cost_usd) == (8, 3, 0.25)
        assert (first.seq, second.seq) == (1, 2)
    with db.session_scope(readonly=True) as s:
        campaign = repo.get_campaign(s, campaign_id)
        assert (campaign.tokens_in, campaign.tokens_out, campaign.cost_usd, campaign.last_event_seq) == (8, 3, 0.25, 3)
        (message,) = repo.list_messages(s, campaign_id)
        assert (message.id, message.role, message.text, message.tokens_in) == (message_id, "critic", "no", 7)
        assert message.created_at.utcoffset() == timedelta(0) and message.node_id is None
    with db.session_scope() as s, pytest.raises(NotFound):
        repo.append_event(s, "no-such-campaign", "message", usage={"tokens_in": 1})


def test_a_batch_of_messages_and_their_events_costs_three_statements(db: Database) -> None:
    """A step storing several LLM messages at once on PostgreSQL: one multi-row INSERT for the rows (ids in
    order), one sequence bump carrying their summed usage, one multi-row INSERT for the events, whatever their number."""
    from sqlalchemy import event as sa_event

    from app.db.events import NewEvent, append_events

    (campaign_id,) = _campaigns(db, 1)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with db.session_scope() as s:
        repo.append_event(s, campaign_id, "before")
        campaign = repo.get_campaign(s, campaign_id)
        sa_event.listen(db.engine, "after_cursor_execute", count)
        try:
            ids = repo.insert_messages(s, [{"campaign_id": campaign_id, "role": role, "text": text, "tokens_in": n}
                                           for role, text, n in [("proposer", "a", 1), ("critic", "b", 2),
                                                                 ("proposer", "c", 4)]])
            append_events(s, campaign_id, [NewEvent("message", {"message_id": i}, role="x") for i in ids],
                          usage={"tokens_in": 7, "cost_usd": 0.5})
        finally:
            sa_event.remove(db.engine, "after_cursor_execute", count)
        assert campaign.last_event_seq == 4 and campaign.tokens_in == 7
    # SQLite does not promise RETURNING order for a multi-row INSERT, so SQLAlchemy sends it row by row
    # there (no round trip to save); the events' INSERT is one executemany on both.
    assert len(statements) == (3 if db.dialect_name == "postgresql" else 5), statements
    with db.session_scope(readonly=True) as s:
        assert [(m.id, m.text) for m in repo.list_messages(s, campaign_id)] == list(zip(ids, "abc"))
        events = repo.list_events(s, campaign_id)
        assert [(e.seq, e.type, e.payload.get("message_id")) for e in events] == [
            (1, "before", None), (2, "message", ids[0]), (3, "message", ids[1]), (4, "message", ids[2])]
        campaign = repo.get_campaign(s, campaign_id)
        assert (campaign.tokens_in, campaign.cost_usd, campaign.last_event_seq) == (7, 0.5, 4)
    with db.session_scope() as s, pytest.raises(NotFound):
        append_events(s, "no-such-campaign", [NewEvent("message", {})])
