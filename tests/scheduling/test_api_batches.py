"""``/v1/batches`` over real HTTP (uvicorn on loopback), on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from tests.api.harness import upload_example, wait_for

EXAMPLE_BATCH = Path(__file__).resolve().parents[2] / "examples" / "batch.yaml"

SMALL = {"iterations": 1, "parents": 1, "smoke_seconds": 0, "debug_attempts": 1, "debate_rounds": 2, "memory": "none"}


def batch(problems=("oscillator",), teams=2, **extra):
    return {"name": "pair", "problems": list(problems), "teams": [{"name": f"t{i}", **SMALL} for i in range(teams)],
            **extra}


def test_a_batch_is_queued_run_by_the_workers_and_reported(api_stack):
    server = api_stack.serve(workers=1)
    with server.client(api_stack.key("write", user="dana")) as c:
        assert upload_example(c, "oscillator").status_code == 201
        started = time.monotonic()
        created = c.post("/v1/batches", json=batch(budget={"max_wall_seconds": 100, "max_cost_usd": 2}))
        assert created.status_code == 202, created.text
        assert time.monotonic() - started < 10  # the request does not wait for training
        body = created.json()
        assert body["status"] == "running" and body["run_mode"] == "queue" and body["summary"]["final"] is False
        assert [r["status"] for r in body["summary"]["rows"]] == ["created", "created"]
        assert [s["max_wall_seconds"] for s in body["budget"]["shares"]] == [50, 50]
        batch_id = body["id"]

        done = wait_for(lambda: (b := c.get(f"/v1/batches/{batch_id}").json())["status"] == "completed" and b,
                        timeout=120, interval=0.2, message="the batch to complete")
        summary = done["summary"]
        assert summary["final"] is True and done["finished_at"] is not None
        assert summary["totals"]["by_status"] == {"completed": 2}
        assert summary["totals"]["budget"] == {"max_wall_seconds": 100, "max_cost_usd": 2}
        for row in summary["rows"]:
            campaign = c.get(f"/v1/campaigns/{row['campaign_id']}").json()
            assert campaign["config"]["max_wall_seconds"] == 50 and campaign["config"]["max_cost_usd"] == 1
            assert row["root_score"] == campaign["root_score"] and row["champion_score"] == campaign["best_score"]
            assert row["improvement_factor"] == campaign["improvement_factor"] > 1
        factors = [r["improvement_factor"] for r in summary["rows"]]
        assert summary["totals"]["best_improvement"] == max(factors)
        report = c.get(f"/v1/batches/{batch_id}/report").text
        assert report.startswith("# Batch pair") and "provisional" not in report
        assert (api_stack.data_dir / "batches" / batch_id / "report.md").is_file()
        listed = c.get("/v1/batches").json()
        assert listed["total"] == 1 and listed["items"][0]["id"] == batch_id
        assert c.get("/v1/batches?status=running").json()["total"] == 0
        assert c.post(f"/v1/batches/{batch_id}/cancel").status_code == 409


def _loc(response):
    assert response.status_code == 422, response.text
    return response.json()["detail"][0]["loc"]


def test_batch_validation_limits_visibility_and_cancel(api_stack):
    server = api_stack.serve(max_active_campaigns=3)  # no workers: campaigns stay queued
    with server.client(api_stack.key("write", user="erin")) as c, \
            server.client(api_stack.key("read", user="erin")) as reader, \
            server.client(api_stack.key("write", user="finn")) as other:
        assert upload_example(c, "oscillator").status_code == 201
        assert _loc(c.post("/v1/batches", json=batch(["nope"]))) == ["body", "problems", 0, "problem"]
        bad = batch()
        bad["teams"][1]["parents"] = 0
        assert _loc(c.post("/v1/batches", json=bad)) == ["body", "teams", 1, "parents"]
        assert _loc(c.post("/v1/batches", json={**batch(), "colour": "red"})) == ["body", "colour"]
        assert _loc(c.post("/v1/batches", json=batch(budget={"max_tokens": -1}))) == ["body", "budget", "max_tokens"]
        # another user's uploaded problem is not theirs to use
        assert _loc(other.post("/v1/batches", json=batch())) == ["body", "problems", 0, "problem"]
        too_many = c.post("/v1/batches", json=batch(teams=4))
        assert too_many.status_code == 429 and "limit 3" in too_many.json()["detail"]
        assert reader.post("/v1/batches", json=batch()).status_code == 403

        created = c.post("/v1/batches", json=batch())
        assert created.status_code == 202
        batch_id = created.json()["id"]
        assert other.get(f"/v1/batches/{batch_id}").status_code == 404
        assert other.get("/v1/batches").json()["total"] == 0
        assert other.post(f"/v1/batches/{batch_id}/cancel").status_code == 404
        assert c.get("/v1/batches/nope").status_code == 404
        assert c.get("/v1/batches/bad%20id").status_code == 422

        cancelled = c.post(f"/v1/batches/{batch_id}/cancel")
        assert cancelled.status_code == 200
        body = cancelled.json()
        assert body["status"] == "cancelled" and {r["status"] for r in body["summary"]["rows"]} == {"cancelled"}
        for row in body["summary"]["rows"]:
            campaign = c.get(f"/v1/campaigns/{row['campaign_id']}").json()
            assert campaign["status"] == "cancelled" and campaign["run"] is None


def test_the_example_batch_file_is_accepted_as_json(api_stack):
    spec = yaml.safe_load(EXAMPLE_BATCH.read_text())
    server = api_stack.serve()  # no workers: the campaigns stay queued until cancelled
    with server.client(api_stack.key("write", user="gus")) as c:
        created = c.post("/v1/batches", json=spec)
        assert created.status_code == 202, created.text
        body = created.json()
        assert [(r["problem"], r["team"]) for r in body["summary"]["rows"]] == [
            ("discontinuous_fit1d", "quick"), ("discontinuous_fit1d", "wide"),
            ("antiderivative", "quick"), ("antiderivative", "wide")]
        shares = [s["max_wall_seconds"] for s in body["budget"]["shares"]]
        assert sum(shares) == spec["budget"]["max_wall_seconds"] and shares[2] == 2 * shares[0]
        queued = [c.get(f"/v1/campaigns/{r['campaign_id']}").json() for r in body["summary"]["rows"]]
        assert {q["state"] for q in queued} == {"queued"}
        assert c.post(f"/v1/batches/{body['id']}/cancel").json()["status"] == "cancelled"
