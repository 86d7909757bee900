"""Campaigns run by workers behind a real server: views, control, two workers, restarts, a killed worker."""

from __future__ import annotations

import collections
import signal
import time

import pytest

from app.db import repository as repo
from tests.api.harness import small_campaign, upload_example, wait_for

# The PostgreSQL runs of the longest scenarios are in the slow suite (the SQLite runs stay fast).
SLOW_ON_PG = ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])]


def evaluation_counts(stack, campaign_id: str, kind: str = "evaluation.finished") -> collections.Counter:
    return collections.Counter(e.node_id for e in stack.events(campaign_id) if e.type == kind)


def wait_status(client, campaign_id: str, statuses: tuple[str, ...], timeout: float = 60.0) -> dict:
    """The campaign once it reached one of ``statuses`` and its worker let go of the run item (which happens
    just after the engine records the final status)."""
    def settled():
        campaign = client.get(f"/v1/campaigns/{campaign_id}").json()
        return campaign if campaign["status"] in statuses and campaign["run"] is None else None

    return wait_for(settled, timeout=timeout, message=f"campaign {campaign_id} to reach {statuses}")


def start(client, **overrides) -> str:
    assert upload_example(client).status_code == 201
    response = client.post("/v1/campaigns", json=small_campaign(**overrides))
    assert response.status_code == 202, response.text
    return response.json()["id"]


def test_campaign_runs_and_every_node_view_works(stack):
    server = stack.serve(workers=1)
    with server.client(stack.key()) as c:
        cid = start(c)
        done = wait_status(c, cid, ("completed", "failed"))
        assert done["status"] == "completed", done
        assert done["progress"]["iterations_done"] == 2 and done["champion"] is not None
        assert done["best_score"] < done["root_score"] and done["run"] is None
        tree = c.get(f"/v1/campaigns/{cid}/tree").json()
        assert tree["champion_node_id"] == done["champion"]["node_id"]
        nodes = {n["node_id"]: n for n in tree["nodes"]}
        assert len(nodes) == done["progress"]["nodes"] >= 3
        child = next(n for n in tree["nodes"] if n["parent_id"] and n["status"] == "succeeded")
        base = f"/v1/campaigns/{cid}/nodes/{child['node_id']}"
        node = c.get(base).json()
        assert "def solve" in node["code"] and node["score"] == child["score"]
        diff = c.get(f"{base}/diff").json()["diff"]
        assert diff.startswith("---") and "-DEGREE = " in diff and "+DEGREE = " in diff
        assert c.get(f"{base}/proposal").json()["title"].startswith("polynomial of degree")
        transcript = c.get(f"{base}/messages").json()["items"]
        assert {m["role"] for m in transcript} >= {"proposer", "critic"}
        assert c.get(f"{base}/logs").text.startswith("fitted")
        assert "residual" in c.get(f"{base}/curves").json()["curves"]
        assert c.get(f"{base}/analyses").json()["analysis"].startswith(f"node {child['node_id']}")
        assert c.get(f"{base}/debug-attempts").status_code == 200
        assert c.get(f"/v1/campaigns/{cid}/nodes/{tree['nodes'][0]['node_id']}/diff").json()["diff"] == ""
        code = c.get(f"{base}/code")
        assert code.headers["content-type"].startswith("text/x-python") and "def solve" in code.text
        champion = c.get(f"/v1/campaigns/{cid}/champion.py")
        assert champion.status_code == 200 and f"champion_{cid}.py" in champion.headers["content-disposition"]
        assert champion.text == c.get(f"/v1/campaigns/{cid}/nodes/{done['champion']['node_id']}").json()["code"]
        debugged = [n for n in tree["nodes"] if c.get(f"/v1/campaigns/{cid}/nodes/{n['node_id']}/debug-attempts")
                    .json()["attempts"]]
        assert debugged, "the scripted team writes one crashing candidate the debugger repairs"
        assert c.get(f"/v1/campaigns/{cid}/nodes/999999").status_code == 404
        assert c.get(f"/v1/campaigns/{cid}/messages").json()["items"][0]["role"] == "data_analyst"
        # Every node was evaluated once (a debugged node's retry is part of its one evaluation).
        assert max(evaluation_counts(stack, cid).values()) == 1
        assert c.delete(f"/v1/campaigns/{cid}").status_code == 204
        assert c.get(f"/v1/campaigns/{cid}/tree").status_code == 404
    assert stack.nodes(cid) == {} and stack.events(cid) == []


@pytest.mark.parametrize("backend", SLOW_ON_PG)
def test_pause_and_resume_through_the_api(stack):
    server = stack.serve(workers=1, delay=0.4)
    with server.client(stack.key()) as c:
        cid = start(c, iterations=2)
        wait_for(lambda: sum(s == "succeeded" for s, _ in stack.nodes(cid).values()) >= 1
                 and any(s == "running" for s, _ in stack.nodes(cid).values()), message="a node in training")
        before = {n: v for n, v in stack.nodes(cid).items() if v[0] == "succeeded"}
        paused = c.post(f"/v1/campaigns/{cid}/pause")
        assert paused.status_code == 200 and "requested" in paused.json()["message"]
        wait_for(lambda: not any(s == "running" for s, _ in stack.nodes(cid).values())
                 and stack.status(cid) == "paused" and not server.pool.active_campaigns(), timeout=20,
                 message="the running campaign to stop")
        assert any(s == "pending" for s, _ in stack.nodes(cid).values())  # interrupted node goes back to pending
        assert c.get(f"/v1/campaigns/{cid}").json()["state"] == "paused"
        time.sleep(0.5)
        assert stack.status(cid) == "paused"  # nobody picks a paused campaign up
        assert c.post(f"/v1/campaigns/{cid}/resume").status_code == 202
        done = wait_status(c, cid, ("completed", "failed"))
        assert done["status"] == "completed"
    after = stack.nodes(cid)
    assert all(after[n] == v for n, v in before.items())  # finished nodes kept, not retrained
    assert max(evaluation_counts(stack, cid).values()) == 1


def test_cancel_reaches_a_running_campaign(sqlite_stack):
    stack = sqlite_stack
    server = stack.serve(workers=1, delay=2.0)
    with server.client(stack.key()) as c:
        cid = start(c, iterations=5)
        wait_for(lambda: any(s == "running" for s, _ in stack.nodes(cid).values()), message="training")
        t0 = time.monotonic()
        assert c.post(f"/v1/campaigns/{cid}/cancel").status_code == 200
        wait_for(lambda: not server.pool.active_campaigns(), timeout=10, message="the worker to let go")
        assert time.monotonic() - t0 < 2.0  # the 2 s evaluation was interrupted, not waited for
        final = c.get(f"/v1/campaigns/{cid}").json()
        assert final["status"] == "cancelled" and final["run"] is None
        assert "campaign.cancelled" in [e["type"] for e in c.get(f"/v1/campaigns/{cid}/events/history").json()["items"]]


def test_two_workers_never_run_one_campaign_twice(stack):
    server = stack.serve(workers=0)
    first, second = stack.pool(name="w1", delay=0.2), stack.pool(name="w2", delay=0.2)
    with server.client(stack.key()) as c:
        assert upload_example(c).status_code == 201
        ids = [c.post("/v1/campaigns", json=small_campaign()).json()["id"] for _ in range(2)]
        # A duplicate run of the first campaign, as a racing resume on another node could leave behind.
        with stack.db.session_scope() as s:
            duplicate = repo.enqueue(s, "campaign.run", {"reason": "test duplicate"}, campaign_id=ids[0]).id
        first.start()
        second.start()
        try:
            for cid in ids:
                assert wait_status(c, cid, ("completed", "failed"))["status"] == "completed"
            wait_for(lambda: len(first.finished) + len(second.finished) >= 3, message="all three items settled")
        finally:
            first.stop()
            second.stop()
    outcomes = first.finished + second.finished
    assert {o["worker"].split("/")[0] for o in outcomes if o["outcome"] == "completed"} == {"w1", "w2"}
    skipped = [o for o in outcomes if o["outcome"] == "skipped"]
    assert [o["item_id"] for o in skipped] == [duplicate] or [o["campaign_id"] for o in skipped] == [ids[0]]
    for cid in ids:
        assert max(evaluation_counts(stack, cid).values()) == 1
        claims = [e for e in stack.events(cid) if e.type == "worker.claimed"]
        assert len(claims) == 1


@pytest.mark.parametrize("backend", SLOW_ON_PG)
def test_server_restart_mid_campaign(stack):
    server = stack.serve(workers=1, delay=0.5)
    key = stack.key()
    with server.client(key) as c:
        cid = start(c, iterations=3)
        wait_for(lambda: sum(s == "succeeded" for s, _ in stack.nodes(cid).values()) >= 2
                 and any(s == "running" for s, _ in stack.nodes(cid).values()), message="mid-campaign")
    server.stop()  # graceful, like SIGTERM: the evaluation is interrupted and the lease handed back
    before = stack.nodes(cid)
    assert not any(s == "running" for s, _ in before.values())
    types = [e.type for e in stack.events(cid)]
    assert types[-1] == "campaign.requeued"
    restarted = stack.serve(workers=1, delay=0.0)
    with restarted.client(key) as c:
        assert c.get(f"/v1/campaigns/{cid}").json()["state"] in ("queued", "running", "completed")
        assert wait_status(c, cid, ("completed", "failed"))["status"] == "completed"
    after = stack.nodes(cid)
    assert all(after[n] == v for n, v in before.items() if v[0] in ("succeeded", "failed", "skipped_duplicate"))
    assert max(evaluation_counts(stack, cid).values()) == 1
    claims = [e.payload["worker"] for e in stack.events(cid) if e.type == "worker.claimed"]
    assert len(claims) == 2 and claims[0] != claims[1]


@pytest.mark.parametrize("backend", SLOW_ON_PG)
def test_killed_worker_is_taken_over_after_its_lease(stack):
    """kill -9 of a worker process mid-evaluation: another worker resumes the campaign once the lease expires,
    keeps what was finished and redoes only the interrupted node."""
    lease = 2.0
    victim = stack.spawn_worker("victim", lease=lease, beat=0.25, delay=0.5)
    server = stack.serve(workers=0)
    with server.client(stack.key()) as c:
        cid = start(c, iterations=2)
        try:
            wait_for(lambda: mid_evaluation(stack, cid, 2), timeout=60, message="the victim mid-evaluation")
        except AssertionError:
            victim.kill()
            raise AssertionError(victim.communicate()[0].decode()[-3000:]) from None
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        killed = stack.nodes(cid)
        assert any(s == "running" for s, _ in killed.values())  # left behind by the dead worker
        rescuer = stack.pool(name="rescuer")
        rescuer.start()
        try:
            assert wait_status(c, cid, ("completed", "failed"), timeout=60)["status"] == "completed"
        finally:
            rescuer.stop()
    history = claims(stack, cid)
    assert [h["worker"].split("/")[0] for h in history] == ["victim", "rescuer"] and history[1]["attempt"] == 2
    assert (history[1]["at"] - history[0]["at"]).total_seconds() >= lease  # waited for the lease to expire
    after = stack.nodes(cid)
    assert all(after[n] == v for n, v in killed.items() if v[0] == "succeeded")  # finished nodes kept
    assert max(evaluation_counts(stack, cid).values()) == 1


def test_a_stalled_worker_is_fenced_once_its_campaign_is_taken_over(stack):
    """A worker whose heartbeat stalls (a frozen VM, a starved thread) loses its lease while its engine goes
    on; once another worker claims the campaign, the stalled one's writes are refused (no node recorded
    twice, no status overwritten) and it lets go without touching the campaign."""
    stalled = stack.pool(name="stalled", delay=0.4)
    stalled.start()
    server = stack.serve(workers=0)
    with server.client(stack.key()) as c:
        cid = start(c, iterations=3)
        wait_for(lambda: mid_evaluation(stack, cid, 1), timeout=60, message="the first worker at work")
        stalled._beat_stop.set()  # no more renewals, and no more lost-lease checks: only the fence is left
        rescuer = stack.pool(name="rescuer")
        rescuer.start()
        try:
            assert wait_status(c, cid, ("completed", "failed"), timeout=90)["status"] == "completed"
            wait_for(lambda: any(f["outcome"] == "taken over" for f in stalled.finished), timeout=30,
                     message="the stalled worker to find out")
        finally:
            rescuer.stop()
            stalled.stop()
    assert [h["worker"].split("/")[0] for h in claims(stack, cid)] == ["stalled", "rescuer"]
    assert max(evaluation_counts(stack, cid).values()) == 1  # nothing recorded by both workers
    assert [f["outcome"] for f in stalled.finished] == ["taken over"]


def claims(stack, campaign_id: str) -> list[dict]:
    return [{**e.payload, "at": e.created_at} for e in stack.events(campaign_id) if e.type == "worker.claimed"]


def mid_evaluation(stack, campaign_id: str, scored_at_least: int) -> bool:
    nodes = stack.nodes(campaign_id).values()
    return sum(s == "succeeded" for s, _ in nodes) >= scored_at_least and any(s == "running" for s, _ in nodes)


@pytest.mark.slow
def test_sigterm_then_kill_9_three_workers_one_campaign(stack):
    """Worker processes on one campaign: the first is stopped with SIGTERM (it hands the run back at once), the
    second is killed with SIGKILL (its run is taken over once the lease expires); nothing is redone."""
    lease = 3.0
    server = stack.serve(workers=0)
    procs = {name: stack.spawn_worker(name, lease=lease, beat=0.25, delay=0.7) for name in ("alpha", "beta")}
    with server.client(stack.key()) as c:
        cid = start(c, iterations=3)
        try:
            wait_for(lambda: mid_evaluation(stack, cid, 1), timeout=60, message="the first worker mid-evaluation")
        except AssertionError:
            raise AssertionError("\n".join(p.communicate()[0].decode()[-2000:] for p in procs.values())) from None
        first = claims(stack, cid)[0]["worker"].split("/")[0]
        second = "beta" if first == "alpha" else "alpha"
        terminated_at = time.monotonic()
        procs[first].send_signal(signal.SIGTERM)
        assert procs[first].wait(20) == 0
        assert time.monotonic() - terminated_at < 15  # a stop waits for nothing long (bound loose for busy CI)
        wait_for(lambda: len(claims(stack, cid)) == 2, timeout=10, message="the second worker to take over")
        handover = claims(stack, cid)
        assert (handover[1]["at"] - handover[0]["at"]).total_seconds() > 0
        requeued = [e for e in stack.events(cid) if e.type == "campaign.requeued"]
        # Claimed again before the lease could have expired: the run was handed back, not abandoned.
        assert len(requeued) == 1 and (handover[1]["at"] - requeued[0].created_at).total_seconds() < lease
        assert handover[1]["attempt"] == 1  # a release does not use up an attempt

        before_kill = {n: v for n, v in stack.nodes(cid).items() if v[0] == "succeeded"}
        wait_for(lambda: mid_evaluation(stack, cid, len(before_kill) + 1), timeout=60,
                 message="the second worker mid-evaluation")
        procs[second].send_signal(signal.SIGKILL)
        procs[second].wait(10)
        killed = stack.nodes(cid)
        assert any(s == "running" for s, _ in killed.values())  # left behind by the dead worker
        rescuer = stack.pool(name="rescuer")
        rescuer.start()
        try:
            assert wait_status(c, cid, ("completed", "failed"), timeout=60)["status"] == "completed"
        finally:
            rescuer.stop()
    history = claims(stack, cid)
    assert [h["worker"].split("/")[0] for h in history] == [first, second, "rescuer"]
    assert history[2]["attempt"] == 2
    assert (history[2]["at"] - history[1]["at"]).total_seconds() >= lease  # waited for the lease to expire
    after = stack.nodes(cid)
    assert all(after[n] == v for n, v in killed.items() if v[0] == "succeeded")  # finished nodes kept
    assert max(evaluation_counts(stack, cid).values()) == 1
