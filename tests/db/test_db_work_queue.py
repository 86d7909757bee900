"""Work-item leases: exclusive claims under concurrency, expiry and takeover, fencing, retries."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from app.db import repository as repo
from app.db.models import WorkItem, WorkStatus
from app.db.session import Database
from app.db.work_queue import DEFAULT_LEASE_S

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def _campaign(db: Database) -> str:
    with db.session_scope() as s:
        problem = repo.upsert_problem(s, "p", kind="pde", spec={})
        return repo.create_campaign(s, problem.id).id


def test_claim_order_kinds_and_availability(db: Database) -> None:
    with db.session_scope() as s:
        low = repo.enqueue(s, "evaluate", {"n": 1}, now=T0).id
        high = repo.enqueue(s, "evaluate", {"n": 2}, priority=5, now=T0).id
        repo.enqueue(s, "evaluate", {"n": 3}, priority=9, available_at=T0 + timedelta(minutes=5), now=T0)
        other = repo.enqueue(s, "analyse", now=T0).id
    with db.session_scope() as s:
        lease = repo.claim(s, "w1", kinds=["evaluate"], now=T0)
        assert lease is not None and lease.item_id == high and lease.payload == {"n": 2}
        assert lease.attempts == 1 and lease.claimed_by == "w1"
        assert lease.lease_expires_at == T0 + timedelta(seconds=DEFAULT_LEASE_S)
    with db.session_scope() as s:
        assert repo.claim(s, "w1", kinds=["evaluate"], now=T0).item_id == low  # type: ignore[union-attr]
        assert repo.claim(s, "w1", kinds=["evaluate"], now=T0) is None  # the last one is not due yet
        assert repo.claim(s, "w1", now=T0).item_id == other  # type: ignore[union-attr]
    with db.session_scope() as s:
        due = repo.claim(s, "w1", now=T0 + timedelta(minutes=6))
        assert due is not None and due.payload == {"n": 3}


def test_two_claimers_never_share_an_item(db: Database) -> None:
    n_items, n_workers = 40, 4
    with db.session_scope() as s:
        for i in range(n_items):
            repo.enqueue(s, "evaluate", {"i": i}, priority=i % 3)
    claimed: dict[str, list[int]] = {f"w{k}": [] for k in range(n_workers)}
    errors: list[BaseException] = []
    start = threading.Barrier(n_workers)

    def worker(name: str) -> None:
        try:
            start.wait()
            while True:
                with db.session_scope() as s:
                    lease = repo.claim(s, name, lease_seconds=300)
                if lease is None:
                    return
                claimed[name].append(lease.item_id)
                with db.session_scope() as s:
                    assert repo.complete(s, lease.item_id, lease.lease_token, result={"by": name})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    every = [item for items in claimed.values() for item in items]
    assert len(every) == n_items and len(set(every)) == n_items
    with db.session_scope(readonly=True) as s:
        items = s.query(WorkItem).all()
        assert {i.status for i in items} == {WorkStatus.DONE}
        assert all(i.result == {"by": i.claimed_by} for i in items)


@pytest.mark.postgres
def test_postgres_skip_locked_does_not_block(pg_db: Database) -> None:
    """While one transaction holds a claimed row, a second claimer skips it instead of waiting.

    (SQLite has no row locks: there the second claimer waits for the write lock, see the thread test.)
    """
    db = pg_db
    with db.session_scope() as s:
        first = repo.enqueue(s, "evaluate").id
        second = repo.enqueue(s, "evaluate").id
    holder = db.session()
    try:
        lease_a = repo.claim(holder, "a")  # not committed: row lock still held
        assert lease_a is not None and lease_a.item_id == first
        with db.session_scope() as s:
            s.connection().exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            lease_b = repo.claim(s, "b")
        assert lease_b is not None and lease_b.item_id == second
        holder.commit()
    finally:
        holder.close()


def test_expired_lease_is_taken_over_and_old_holder_is_fenced(db: Database) -> None:
    with db.session_scope() as s:
        item_id = repo.enqueue(s, "evaluate", max_attempts=3, now=T0).id
    with db.session_scope() as s:
        old = repo.claim(s, "crashed", lease_seconds=10, now=T0)
    assert old is not None
    with db.session_scope() as s:
        assert repo.claim(s, "w2", lease_seconds=10, now=T0 + timedelta(seconds=5)) is None  # still held
        renewed = repo.renew_lease(
            s, item_id, old.lease_token, lease_seconds=10, now=T0 + timedelta(seconds=5)
        )
        assert renewed == T0 + timedelta(seconds=15)
    with db.session_scope() as s:
        assert repo.claim(s, "w2", now=T0 + timedelta(seconds=14)) is None  # renewal counted
        new = repo.claim(s, "w2", lease_seconds=10, now=T0 + timedelta(seconds=16))
    assert new is not None and new.item_id == item_id
    assert new.lease_token != old.lease_token and new.attempts == 2 and new.claimed_by == "w2"
    with db.session_scope() as s:
        later = T0 + timedelta(seconds=17)
        assert repo.renew_lease(s, item_id, old.lease_token, now=later) is None
        assert repo.complete(s, item_id, old.lease_token, now=later) is False
        assert repo.fail(s, item_id, old.lease_token, error="late", now=later) is None
        assert repo.release(s, item_id, old.lease_token, now=later) is False
        assert repo.complete(s, item_id, new.lease_token, result={"ok": True}, now=later) is True
    with db.session_scope(readonly=True) as s:
        item = s.get(WorkItem, item_id)
        assert item is not None and item.status == WorkStatus.DONE and item.claimed_by == "w2"
        assert item.finished_at == T0 + timedelta(seconds=17) and item.lease_token is None


def test_requeue_expired_and_exhausted_attempts(db: Database) -> None:
    with db.session_scope() as s:
        retry_id = repo.enqueue(s, "evaluate", max_attempts=2, now=T0).id
        once_id = repo.enqueue(s, "evaluate", max_attempts=1, now=T0).id
    with db.session_scope() as s:
        assert repo.claim(s, "w", lease_seconds=5, now=T0) is not None
        assert repo.claim(s, "w", lease_seconds=5, now=T0) is not None
    with db.session_scope() as s:
        report = repo.requeue_expired(s, now=T0 + timedelta(seconds=1))
        assert (report.requeued, report.failed) == (0, 0)
        report = repo.requeue_expired(s, now=T0 + timedelta(seconds=6))
        assert (report.requeued, report.failed) == (1, 1)
    with db.session_scope(readonly=True) as s:
        retry, once = s.get(WorkItem, retry_id), s.get(WorkItem, once_id)
        assert retry is not None and retry.status == WorkStatus.QUEUED and retry.claimed_by is None
        assert (
            once is not None
            and once.status == WorkStatus.FAILED
            and "lease expired" in (once.last_error or "")
        )
    with db.session_scope() as s:
        again = repo.claim(s, "w", lease_seconds=5, now=T0 + timedelta(seconds=7))
        assert again is not None and again.item_id == retry_id and again.attempts == 2
        # Attempts exhausted: an expired lease is no longer claimable, only failable.
        assert repo.claim(s, "w", now=T0 + timedelta(seconds=20)) is None
        assert repo.requeue_expired(s, now=T0 + timedelta(seconds=20)).failed == 1


def test_fail_retries_with_delay_then_gives_up(db: Database) -> None:
    campaign_id = _campaign(db)
    with db.session_scope() as s:
        item_id = repo.enqueue(s, "evaluate", campaign_id=campaign_id, max_attempts=2, now=T0).id
    with db.session_scope() as s:
        lease = repo.claim(s, "w", campaign_id=campaign_id, now=T0)
        assert lease is not None
        status = repo.fail(s, item_id, lease.lease_token, error="oom", retry_delay_s=30, now=T0)
        assert status == WorkStatus.QUEUED
        assert repo.claim(s, "w", now=T0 + timedelta(seconds=10)) is None  # backing off
        lease = repo.claim(s, "w", now=T0 + timedelta(seconds=31))
        assert lease is not None and lease.attempts == 2
        assert repo.fail(s, item_id, lease.lease_token, error="oom again", now=T0) == WorkStatus.FAILED
    with db.session_scope(readonly=True) as s:
        item = s.get(WorkItem, item_id)
        assert item is not None and item.status == WorkStatus.FAILED and item.last_error == "oom again"


def test_release_does_not_use_an_attempt_and_cancel(db: Database) -> None:
    campaign_id = _campaign(db)
    with db.session_scope() as s:
        item_id = repo.enqueue(s, "evaluate", campaign_id=campaign_id, max_attempts=1).id
        repo.enqueue(s, "evaluate", campaign_id=campaign_id)
    with db.session_scope() as s:
        lease = repo.claim(s, "w")
        assert lease is not None and lease.item_id == item_id
        assert repo.release(s, item_id, lease.lease_token)
    with db.session_scope() as s:
        lease = repo.claim(s, "w")
        assert lease is not None and lease.item_id == item_id and lease.attempts == 1
        assert repo.cancel_campaign_work(s, campaign_id) == 2
        assert repo.renew_lease(s, item_id, lease.lease_token) is None  # the worker learns it is cancelled
        assert repo.claim(s, "w") is None


def test_a_write_fence_stops_a_stalled_holder_but_not_a_paused_one(db: Database) -> None:
    campaign_id = _campaign(db)
    with db.session_scope() as s:
        item_id = repo.enqueue(s, "campaign.run", campaign_id=campaign_id, max_attempts=3, now=T0).id
    with db.session_scope() as s:
        stalled = repo.claim(s, "stalled", lease_seconds=10, now=T0)
    with db.session_scope() as s:
        repo.assert_held(s, item_id, stalled.lease_token)  # holds it: may write

    # Paused through the API: the item is cancelled, but its engine may still record how it stopped.
    with db.session_scope() as s:
        assert repo.cancel_campaign_work(s, campaign_id) == 1
    with db.session_scope() as s:
        repo.assert_held(s, item_id, stalled.lease_token)
    # ... until the campaign is resumed and another worker claims the new run item.
    with db.session_scope() as s:
        resumed = repo.enqueue(s, "campaign.run", campaign_id=campaign_id, now=T0).id
        assert repo.claim(s, "w2", lease_seconds=10, now=T0).item_id == resumed
    with db.session_scope() as s, pytest.raises(repo.LeaseLost, match=f"work item {resumed}"):
        repo.assert_held(s, item_id, stalled.lease_token)

    # An expired lease taken over by a new claim, or put back in the queue, fences its old holder too.
    with db.session_scope() as s:
        other = repo.enqueue(s, "evaluate", max_attempts=3, now=T0).id
    with db.session_scope() as s:
        first = repo.claim(s, "stalled", kinds=["evaluate"], lease_seconds=10, now=T0)
    with db.session_scope() as s:
        assert repo.requeue_expired(s, now=T0 + timedelta(seconds=11)).requeued >= 1
    with db.session_scope() as s, pytest.raises(repo.LeaseLost, match="taken over"):
        repo.assert_held(s, other, first.lease_token)
    with db.session_scope() as s:
        second = repo.claim(s, "w3", kinds=["evaluate"], lease_seconds=10, now=T0 + timedelta(seconds=12))
    with db.session_scope() as s:
        repo.assert_held(s, other, second.lease_token)
        with pytest.raises(repo.LeaseLost):
            repo.assert_held(s, other, first.lease_token)


def test_a_pause_meeting_a_fenced_engine_write_does_not_deadlock(db: Database) -> None:
    """The engine's write locks its run item (the fence), then the campaign row; a pause must take them in
    the same order, or PostgreSQL kills one side with a deadlock (the user's 500, or a failed campaign)."""
    import time

    from app.db.events import append_event
    from app.workers import control

    campaign_id = _campaign(db)
    with db.session_scope() as s:
        repo.enqueue(s, "campaign.run", campaign_id=campaign_id)
    with db.session_scope() as s:
        lease = repo.claim(s, "w")
    outcome: dict[str, str] = {}

    def engine_write() -> None:
        try:
            with db.session_scope() as s:
                repo.assert_held(s, lease.item_id, lease.lease_token)
                time.sleep(0.5)  # the pause arrives while this transaction holds the item
                append_event(s, campaign_id, "training.log", {})
            outcome["engine"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["engine"] = f"{type(exc).__name__}: {exc}"

    def pause() -> None:
        time.sleep(0.2)
        try:
            with db.session_scope() as s:
                control.request(s, campaign_id, "pause", by="alice")
            outcome["pause"] = "ok"
        except Exception as exc:  # noqa: BLE001
            outcome["pause"] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=engine_write), threading.Thread(target=pause)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcome == {"engine": "ok", "pause": "ok"}
    with db.session_scope(readonly=True) as s:
        assert repo.get_campaign(s, campaign_id).status == "paused"
        assert s.get(WorkItem, lease.item_id).status == WorkStatus.CANCELLED
    with db.session_scope() as s:
        repo.assert_held(s, lease.item_id, lease.lease_token)  # paused, not taken over: it may still record that


def test_a_duplicate_run_item_does_not_fence_the_run_that_holds_the_campaign(db: Database) -> None:
    """Two live run items for one campaign (two resumes racing): the later one stands down
    (``defer_to_earlier``); until it does, the earlier one's writes must go on."""
    from app.workers.queue import defer_to_earlier

    campaign_id = _campaign(db)
    with db.session_scope() as s:
        repo.enqueue(s, "campaign.run", campaign_id=campaign_id)
        repo.enqueue(s, "campaign.run", campaign_id=campaign_id)
    with db.session_scope() as s:
        first = repo.claim(s, "w1")
    with db.session_scope() as s:
        second = repo.claim(s, "w2")
    with db.session_scope() as s:
        assert defer_to_earlier(s, campaign_id, second.item_id)
        repo.assert_held(s, first.item_id, first.lease_token)
