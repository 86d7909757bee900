"""Server-sent events: a client that drops and reconnects with Last-Event-ID misses nothing and sees nothing twice."""

from __future__ import annotations

import json
import threading
import time

import pytest

from app.db.events import append_event
from tests.api.harness import read_sse, small_campaign, upload_example, wait_for

SLOW_ON_PG = ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])]


def collect(client, url: str, *, headers=None, stop_after: int | None = None, until_type: str | None = None,
            want_comment: bool = False, timeout: float = 60.0) -> tuple[list[dict], list[str]]:
    """Read an SSE stream: events (parsed data with the SSE id) and comments, until a condition holds."""
    events, comments = [], []
    deadline = time.monotonic() + timeout
    with client.stream("GET", url, headers=headers or {}, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for message in read_sse(response):
            if "comment" in message:
                comments.append(message["comment"])
            elif "data" in message and "id" in message:
                events.append({**json.loads(message["data"]), "sse_id": int(message["id"])})
            done_events = stop_after is not None and len(events) >= stop_after
            done_type = until_type is not None and any(e["type"] == until_type for e in events)
            if (done_events or done_type) and (not want_comment or comments):
                break
            if done_type and want_comment and comments and comments[-1] == "keep-alive":
                break
            assert time.monotonic() < deadline, "stream condition not reached in time"
    return events, comments


@pytest.fixture
def running(stack):
    server = stack.serve(workers=1, delay=0.15)
    client = server.client(stack.key())
    assert upload_example(client).status_code == 201
    yield stack, server, client
    client.close()


def test_campaign_stream_resumes_exactly_after_last_event_id(running):
    stack, server, c = running
    cid = c.post("/v1/campaigns", json=small_campaign()).json()["id"]
    url = f"/v1/campaigns/{cid}/events"
    first, _ = collect(c, url, stop_after=5)
    assert [e["sse_id"] for e in first] == [1, 2, 3, 4, 5] and all(e["seq"] == e["sse_id"] for e in first)
    time.sleep(0.5)  # events keep coming while the client is away
    rest, comments = collect(c, url, headers={"Last-Event-ID": "5"}, until_type="campaign.completed",
                             want_comment=True)
    seqs = [e["seq"] for e in first + rest]
    stored = stack.events(cid)
    assert seqs == list(range(1, len(seqs) + 1)) == [e.seq for e in stored]
    assert [e["type"] for e in first + rest] == [e.type for e in stored]
    assert "keep-alive" in comments  # heartbeats on the idle stream after the campaign ended
    # `after` works like the header; follow=false returns the backlog and closes.
    tail, _ = collect(c, f"{url}?after={len(seqs) - 2}&follow=false")
    assert [e["seq"] for e in tail] == seqs[-2:]
    history = c.get(f"/v1/campaigns/{cid}/events/history", params={"after_seq": 3, "limit": 2}).json()
    assert [e["seq"] for e in history["items"]] == [4, 5] and history["last_seq"] == len(seqs)


@pytest.mark.parametrize("backend", SLOW_ON_PG)
def test_global_stream_resumes_exactly_after_last_event_id(running):
    stack, server, c = running
    with c.stream("GET", "/v1/events", timeout=30) as response:
        messages = read_sse(response)
        next(messages)  # the stream's starting point is fixed once its first message arrives
        cid = c.post("/v1/campaigns", json=small_campaign()).json()["id"]
        first = []
        for message in messages:
            if "data" in message:
                first.append({**json.loads(message["data"]), "sse_id": int(message["id"])})
                if len(first) == 4:
                    break
    rest, _ = collect(c, "/v1/events", headers={"Last-Event-ID": str(first[-1]["sse_id"])},
                      until_type="campaign.completed")
    ids = [e["sse_id"] for e in first + rest]
    stored = stack.events(cid)
    assert ids == [e["id"] for e in first + rest] == [e.id for e in stored]
    assert len(set(ids)) == len(ids)
    replay, _ = collect(c, "/v1/events?after=0&follow=false")
    assert [e["id"] for e in replay] == ids


@pytest.mark.parametrize("backend", ["sqlite"])
def test_streams_respect_visibility_and_bad_cursors(running):
    stack, server, c = running
    cid = c.post("/v1/campaigns", json=small_campaign(iterations=0)).json()["id"]
    wait_for(lambda: stack.status(cid) == "completed", message="campaign done")
    with server.client(stack.key("read", user="mallory")) as other:
        assert other.get(f"/v1/campaigns/{cid}/events").status_code == 404
        seen, _ = collect(other, "/v1/events?after=0&follow=false")
        assert seen == []  # global stream: only the caller's campaigns
    bad = c.get(f"/v1/campaigns/{cid}/events", headers={"Last-Event-ID": "yesterday"})
    assert bad.status_code == 400 and "Last-Event-ID" in bad.json()["detail"]


@pytest.mark.postgres
@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_global_stream_waits_for_an_earlier_id_still_committing(stack):
    """On PostgreSQL ids are drawn before commit: id n+1 can be visible while id n is not yet. The global stream
    must hold n+1 back until n commits (within the grace period), or it would skip n for good."""
    server = stack.serve(sse_gap_grace_seconds=5.0)
    client = server.client(stack.key(admin=True))
    ids = [client.post("/v1/campaigns", json=small_campaign("discontinuous_fit1d")).json()["id"] for _ in range(2)]
    start = max(e.id for cid in ids for e in stack.events(cid))
    slow = stack.db.session()
    early = append_event(slow, ids[0], "test.early", {}).id  # drawn first, committed last
    with stack.db.session_scope() as s:
        late = append_event(s, ids[1], "test.late", {}).id
    assert late > early

    def commit_later() -> None:
        time.sleep(1.0)
        slow.commit()
        slow.close()

    committer = threading.Thread(target=commit_later)
    committer.start()
    events, _ = collect(client, f"/v1/events?after={start}", stop_after=2, timeout=20)
    committer.join()
    assert [e["id"] for e in events] == [early, late]
    client.close()


@pytest.mark.parametrize("backend", SLOW_ON_PG)
def test_many_clients_of_one_campaign_each_get_every_event_once(running):
    """Twenty streams on one running campaign: each sees exactly the event log (served mostly from the hub)."""
    import asyncio

    import httpx

    stack, server, c = running
    cid = c.post("/v1/campaigns", json=small_campaign()).json()["id"]
    key = c.headers["Authorization"]

    async def follow() -> list[int]:
        seqs = []
        async with httpx.AsyncClient(base_url=server.base_url, headers={"Authorization": key}, timeout=60) as client:
            async with client.stream("GET", f"/v1/campaigns/{cid}/events") as response:
                data = None
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        data = json.loads(line[6:])
                    elif line == "" and data is not None:
                        seqs.append(data["seq"])
                        if data["type"] == "campaign.completed":
                            return seqs
                        data = None
        return seqs

    async def all_clients() -> list[list[int]]:
        return await asyncio.gather(*(follow() for _ in range(20)))

    results = asyncio.run(all_clients())
    expected = [e.seq for e in stack.events(cid)]
    assert all(r == expected for r in results)


def test_hub_serves_only_gapless_runs():
    from app.api.sse import Cached, EventHub

    hub = EventHub(db=None, poll_seconds=1)  # type: ignore[arg-type]
    for seq in (3, 4, 5, 7, 8):
        hub._remember(Cached(id=seq, seq=seq, campaign_id="c", type="t", data="{}"))
    hub._remember(Cached(id=4, seq=4, campaign_id="c", type="t", data="{}"))  # a repeat is ignored
    assert hub.after("c", 1) is None  # the cache starts after the cursor: read the database
    assert [e.seq for e in hub.after("c", 2)] == [3, 4, 5]  # up to the hole
    assert hub.after("c", 5) is None  # right at the hole
    assert [e.seq for e in hub.after("c", 6)] == [7, 8]
    assert hub.after("c", 8) == [] and hub.after("other", 0) == []
