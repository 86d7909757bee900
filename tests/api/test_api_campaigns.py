"""Campaign resources without workers: validation, listing, the control state machine, limits, deletion."""

from __future__ import annotations

import pytest

from tests.api.harness import small_campaign

BAD_BODIES = {
    "negative iterations": ({"iterations": -1}, ["body", "iterations"]),
    "unknown field": ({"colour": "blue"}, ["body", "colour"]),
    "unknown problem": ({"problem": "navier_stokes9d"}, ["body", "problem"]),
    "path as problem": ({"problem": "/etc/passwd"}, ["body", "problem"]),
    "too much concurrency": ({"concurrency": 9}, ["body", "concurrency"]),
    "huge seed": ({"seed": 2**40}, ["body", "seed"]),
    "bad team": ({"team": "wizards"}, ["body", "team"]),
    "llm without providers": ({"team": "llm"}, ["body", "team"]),
    "providers file by a user": ({"providers_file": "/tmp/p.yaml"}, ["body", "providers_file"]),
    "wrong type": ({"parents": "two"}, ["body", "parents"]),
    "zero step budget": ({"candidate_steps": 0}, ["body", "candidate_steps"]),
    "unknown champion rule": ({"champion_by": "luck"}, ["body", "champion_by"]),
    "seed mean without extra seeds": ({"champion_by": "seed_mean", "reeval_seeds": [0]}, ["body"]),
}


@pytest.fixture
def api(stack):
    server = stack.serve(max_evaluations_in_flight=4, max_active_campaigns_per_user=3, max_active_campaigns=4)
    with server.client(stack.key("write", user="alice")) as client:
        client.stack = stack
        client.server = server
        yield client


def test_bad_campaign_bodies_name_the_field(api):
    for case, (overrides, loc) in BAD_BODIES.items():
        response = api.post("/v1/campaigns", json=small_campaign(**{"problem": "discontinuous_fit1d", **overrides}))
        assert response.status_code == 422, (case, response.text)
        assert response.json()["detail"][0]["loc"][: len(loc)] == loc, (case, response.json())
    assert api.get("/v1/campaigns").json()["total"] == 0


def test_create_list_filter_paginate(api):
    ids = [api.post("/v1/campaigns", json=small_campaign(p, name=f"c{i}")).json()["id"]
           for i, p in enumerate(["discontinuous_fit1d", "burgers1d", "discontinuous_fit1d"])]
    first = api.get(f"/v1/campaigns/{ids[0]}").json()
    assert first["status"] == "created" and first["state"] == "queued" and first["run"]["status"] == "queued"
    assert first["progress"]["iterations_planned"] == 2 and first["champion"] is None
    page = api.get("/v1/campaigns", params={"limit": 2}).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["next_offset"] == 2
    assert [c["id"] for c in page["items"]] == ids[::-1][:2]  # newest first
    rest = api.get("/v1/campaigns", params={"limit": 2, "offset": 2}).json()
    assert [c["id"] for c in rest["items"]] == [ids[0]] and rest["next_offset"] is None
    by_problem = api.get("/v1/campaigns", params={"problem": "discontinuous_fit1d"}).json()
    assert {c["id"] for c in by_problem["items"]} == {ids[0], ids[2]}
    api.post(f"/v1/campaigns/{ids[1]}/pause")
    paused = api.get("/v1/campaigns", params={"status": "paused"}).json()
    assert [c["id"] for c in paused["items"]] == [ids[1]]
    assert api.get("/v1/campaigns", params={"status": "exploded"}).status_code == 422
    assert api.get("/v1/campaigns", params={"limit": 0}).status_code == 422
    assert api.get("/v1/campaigns/does-not-exist").status_code == 404


def test_control_state_machine_and_delete(api):
    cid = api.post("/v1/campaigns", json=small_campaign("discontinuous_fit1d")).json()["id"]
    assert api.delete(f"/v1/campaigns/{cid}").status_code == 409  # queued
    paused = api.post(f"/v1/campaigns/{cid}/pause")
    assert paused.status_code == 200 and paused.json()["campaign"]["status"] == "paused"
    assert paused.json()["campaign"]["run"] is None
    assert api.post(f"/v1/campaigns/{cid}/pause").json()["message"] == "already paused"
    resumed = api.post(f"/v1/campaigns/{cid}/resume")
    assert resumed.status_code == 202 and resumed.json()["campaign"]["state"] == "queued"
    assert api.post(f"/v1/campaigns/{cid}/resume").json()["message"] == "already queued or running"
    cancelled = api.post(f"/v1/campaigns/{cid}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["campaign"]["status"] == "cancelled"
    assert api.post(f"/v1/campaigns/{cid}/resume").status_code == 409
    assert api.post(f"/v1/campaigns/{cid}/pause").status_code == 409
    types = [e["type"] for e in api.get(f"/v1/campaigns/{cid}/events/history").json()["items"]]
    assert types == ["campaign.queued", "campaign.paused", "campaign.queued", "campaign.cancelled"]
    assert api.delete(f"/v1/campaigns/{cid}").status_code == 204
    assert api.get(f"/v1/campaigns/{cid}").status_code == 404
    assert api.delete(f"/v1/campaigns/{cid}").status_code == 404


def test_active_campaign_limits_are_429(api):
    stack = api.stack
    for _ in range(3):
        assert api.post("/v1/campaigns", json=small_campaign("discontinuous_fit1d")).status_code == 202
    mine = api.post("/v1/campaigns", json=small_campaign("discontinuous_fit1d"))
    assert mine.status_code == 429 and "limit 3" in mine.json()["detail"]
    with api.server.client(stack.key("write", user="bob")) as bob:
        assert bob.post("/v1/campaigns", json=small_campaign("discontinuous_fit1d")).status_code == 202
        total = bob.post("/v1/campaigns", json=small_campaign("discontinuous_fit1d"))
        assert total.status_code == 429 and "limit 4" in total.json()["detail"]
    # Pausing one frees a slot; resuming it needs one.
    first = api.get("/v1/campaigns").json()["items"][0]["id"]
    api.post(f"/v1/campaigns/{first}/pause")
    assert api.post("/v1/campaigns", json=small_campaign("discontinuous_fit1d")).status_code == 202
    assert api.post(f"/v1/campaigns/{first}/resume").status_code == 429


def test_resume_refuses_a_campaign_run_outside_the_queue(api):
    """A campaign driven by `agentic-sciml run` has no run item; a resume must not start a second engine."""
    from app.db import repository as repo

    cid = api.post("/v1/campaigns", json=small_campaign("discontinuous_fit1d")).json()["id"]
    with api.stack.db.session_scope() as s:
        repo.cancel_campaign_work(s, cid)
        repo.set_campaign_status(s, cid, "running")
    refused = api.post(f"/v1/campaigns/{cid}/resume")
    assert refused.status_code == 409 and "outside" in refused.json()["detail"]
    assert api.delete(f"/v1/campaigns/{cid}").status_code == 409

