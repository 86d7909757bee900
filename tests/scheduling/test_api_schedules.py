"""``/v1/schedules`` over real HTTP (uvicorn on loopback), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tests.api.harness import upload_example, wait_for

SMALL = {"iterations": 1, "parents": 1, "smoke_seconds": 0, "debug_attempts": 1, "debate_rounds": 2, "memory": "none"}


def batch(problems=("discontinuous_fit1d",), teams=1, **extra):
    return {"name": "nightly", "problems": list(problems),
            "teams": [{"name": f"t{i}", **SMALL} for i in range(teams)], **extra}


def test_schedule_lifecycle_and_list_shape(api_stack):
    server = api_stack.serve()
    writer, reader, other = api_stack.key("write", user="alice"), api_stack.key("read", user="alice"), \
        api_stack.key("write", user="bob")
    with server.client(writer) as alice, server.client(reader) as alice_ro, server.client(other) as bob:
        created = alice.post("/v1/schedules", json={"name": "paris", "cron": "0 3 * * *", "timezone": "Europe/Paris",
                                                    "missed": "run_once", "batch": batch()})
        assert created.status_code == 201, created.text
        body = created.json()
        next_run = datetime.fromisoformat(body["next_run_at"])
        assert next_run.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M") == "03:00"
        assert (body["missed"], body["overlap"], body["paused"], body["last_run"]) == ("run_once", "skip", False, None)
        assert body["batch"]["problems"] == [{"problem": "discontinuous_fit1d"}] and body["recent_firings"] == []
        sid = body["id"]

        listed = alice_ro.get("/v1/schedules").json()
        assert listed["total"] == 1
        item = listed["items"][0]
        assert {"id", "name", "cron", "timezone", "paused", "next_run_at", "last_run"} <= set(item)
        assert (item["id"], item["name"], item["cron"], item["timezone"]) == (sid, "paris", "0 3 * * *", "Europe/Paris")

        assert alice.post(f"/v1/schedules/{sid}/pause").json()["paused"] is True
        resumed = alice.post(f"/v1/schedules/{sid}/resume").json()
        assert resumed["paused"] is False and resumed["next_run_at"] is not None

        second = {"name": "paris", "cron": "0 4 * * *", "batch": batch()}
        assert alice.post("/v1/schedules", json=second).status_code == 409
        assert alice_ro.post("/v1/schedules", json={**second, "name": "x"}).status_code == 403
        assert alice_ro.post(f"/v1/schedules/{sid}/pause").status_code == 403
        # another user neither sees nor touches it
        assert bob.get("/v1/schedules").json()["items"] == []
        assert bob.get(f"/v1/schedules/{sid}").status_code == 404
        assert bob.delete(f"/v1/schedules/{sid}").status_code == 404

        assert alice.delete(f"/v1/schedules/{sid}").status_code == 204
        assert alice.get(f"/v1/schedules/{sid}").status_code == 404
        assert alice.get("/v1/schedules").json()["total"] == 0


def _loc(response):
    assert response.status_code == 422, response.text
    return response.json()["detail"][0]["loc"], response.json()["detail"][0]["msg"]


def test_bad_schedules_are_refused_with_the_field_named(api_stack, monkeypatch):
    monkeypatch.setenv("AGENTIC_SCIML_SCHEDULE_MIN_INTERVAL_SECONDS", "60")
    api_stack.settings = api_stack.settings.model_copy(update={"schedule_min_interval_seconds": 60.0})
    server = api_stack.serve()
    with server.client(api_stack.key("write")) as c:
        good = {"name": "n", "cron": "0 3 * * *", "batch": batch()}
        assert _loc(c.post("/v1/schedules", json={**good, "cron": "61 * * * *"}))[0] == ["body", "cron"]
        loc, msg = _loc(c.post("/v1/schedules", json={**good, "cron": "* * * * * *"}))
        assert loc == ["body", "cron"] and "at most one run per 60 s" in msg
        loc, msg = _loc(c.post("/v1/schedules", json={**good, "timezone": "Mars/Olympus"}))
        assert loc == ["body", "timezone"] and "unknown timezone" in msg
        assert _loc(c.post("/v1/schedules", json={**good, "missed": "sometimes"}))[0] == ["body", "missed"]
        assert _loc(c.post("/v1/schedules", json={**good, "name": "../x"}))[0] == ["body", "name"]
        loc, msg = _loc(c.post("/v1/schedules", json={**good, "batch": batch(["nope"])}))
        assert loc == ["body", "batch", "problems", 0, "problem"] and "unknown problem 'nope'" in msg
        bad_team = batch()
        bad_team["teams"][0]["iterations"] = -1
        loc, _ = _loc(c.post("/v1/schedules", json={**good, "batch": bad_team}))
        assert loc == ["body", "batch", "teams", 0, "iterations"]
        loc, msg = _loc(c.post("/v1/schedules", json={**good, "batch": batch(["/etc"])}))
        assert loc == ["body", "batch", "problems", 0, "problem"]
        assert c.get("/v1/schedules/0").status_code == 422
        assert c.get("/v1/schedules/abc").status_code == 422
        assert c.get("/v1/schedules/99999999999").status_code == 422
        assert c.get("/v1/schedules/12345").status_code == 404
        assert c.get("/v1/schedules").json()["total"] == 0  # nothing was stored


def test_a_schedule_fires_in_the_server_and_its_batch_runs_on_the_workers(api_stack):
    server = api_stack.serve(workers=1)
    with server.client(api_stack.key("write", user="carol")) as c:
        assert upload_example(c, "oscillator").status_code == 201
        created = c.post("/v1/schedules", json={"name": "every-second", "cron": "* * * * * *", "overlap": "skip",
                                                "batch": batch(["oscillator"], teams=2,
                                                               budget={"max_wall_seconds": 600})})
        assert created.status_code == 201, created.text
        sid = created.json()["id"]

        started = wait_for(lambda: c.get(f"/v1/batches?schedule_id={sid}").json()["items"], timeout=60,
                           interval=0.1, message="the first slot to fire")
        # Slots that come while this batch runs are recorded as overlapped, and pausing stops the rest.
        assert c.post(f"/v1/schedules/{sid}/pause").json()["paused"] is True
        batch_id = started[0]["id"]
        assert started[0]["status"] == "running" and started[0]["summary"]["final"] is False

        def finished_run():
            last = c.get("/v1/schedules").json()["items"][0]["last_run"]
            return last if last["status"] == "completed" else None

        last = wait_for(finished_run, timeout=120, interval=0.2, message="the scheduled batch to finish")
        assert last["batch_id"] == batch_id and last["summary"].startswith("2/2 campaigns completed")

        done = c.get(f"/v1/batches/{batch_id}").json()
        assert done["status"] == "completed" and done["schedule_id"] == sid and done["summary"]["final"] is True
        rows = done["summary"]["rows"]
        assert [r["team"] for r in rows] == ["t0", "t1"] and {r["status"] for r in rows} == {"completed"}
        for row in rows:
            assert row["champion_score"] <= row["root_score"]
            campaign = c.get(row["link"].removeprefix(server.base_url)).json()
            assert campaign["status"] == "completed" and campaign["config"]["max_wall_seconds"] == 300
        report = c.get(f"/v1/batches/{batch_id}/report")
        assert report.headers["content-type"].startswith("text/markdown")
        assert all(f"[{r['campaign_id']}](/v1/campaigns/{r['campaign_id']})" in report.text for r in rows)
        assert (api_stack.data_dir / "batches" / batch_id / "report.md").read_text() == report.text

        detail = c.get(f"/v1/schedules/{sid}").json()
        assert detail["paused"] is True
        fired = [f for f in detail["recent_firings"] if f["status"] == "fired"]
        assert batch_id in {f["batch_id"] for f in fired}
        # slots that came before the pause, while the batch ran, were skipped rather than stacking up batches
        assert len(fired) == len(c.get(f"/v1/batches?schedule_id={sid}").json()["items"]) == 1
        assert {f["status"] for f in detail["recent_firings"]} <= {"fired", "overlapped"}


def test_a_schedule_is_edited_in_place_keeping_its_id(api_stack):
    server = api_stack.serve()
    with server.client(api_stack.key("write", user="alice")) as alice, \
            server.client(api_stack.key("write", user="bob")) as bob:
        sid = alice.post("/v1/schedules", json={"name": "nightly", "cron": "0 3 * * *", "batch": batch()}).json()["id"]
        alice.post("/v1/schedules", json={"name": "taken", "cron": "0 4 * * *", "batch": batch()})

        changed = alice.patch(f"/v1/schedules/{sid}", json={"cron": "30 5 * * 1", "timezone": "Asia/Tokyo",
                                                            "overlap": "allow", "batch": batch(teams=2)})
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert (body["id"], body["name"], body["cron"], body["timezone"], body["overlap"], body["missed"]) == (
            sid, "nightly", "30 5 * * 1", "Asia/Tokyo", "allow", "skip")
        local = datetime.fromisoformat(body["next_run_at"]).astimezone(ZoneInfo("Asia/Tokyo"))
        assert (local.weekday(), local.strftime("%H:%M")) == (0, "05:30")
        assert [t["name"] for t in body["batch"]["teams"]] == ["t0", "t1"]
        only_zone = alice.patch(f"/v1/schedules/{sid}", json={"timezone": "UTC"}).json()
        assert (only_zone["cron"], only_zone["timezone"]) == ("30 5 * * 1", "UTC")
        assert alice.patch(f"/v1/schedules/{sid}", json={"name": "weekly"}).json()["name"] == "weekly"

        # Refused, naming the field, and nothing changed.
        assert alice.patch(f"/v1/schedules/{sid}", json={"name": "taken"}).status_code == 409
        assert _loc(alice.patch(f"/v1/schedules/{sid}", json={"cron": "61 * * * *"}))[0] == ["body", "cron"]
        assert _loc(alice.patch(f"/v1/schedules/{sid}", json={"timezone": "Mars/Olympus"}))[0] == ["body", "timezone"]
        loc, msg = _loc(alice.patch(f"/v1/schedules/{sid}", json={"batch": batch(["nope"])}))
        assert loc == ["body", "batch", "problems", 0, "problem"] and "unknown problem 'nope'" in msg
        assert "nothing to change" in _loc(alice.patch(f"/v1/schedules/{sid}", json={}))[1]
        assert "cannot be null" in _loc(alice.patch(f"/v1/schedules/{sid}", json={"cron": None}))[1]
        assert _loc(alice.patch(f"/v1/schedules/{sid}", json={"every": "day"}))[0] == ["body", "every"]
        assert bob.patch(f"/v1/schedules/{sid}", json={"name": "mine"}).status_code == 404
        final = alice.get(f"/v1/schedules/{sid}").json()
        assert (final["name"], final["cron"], final["timezone"]) == ("weekly", "30 5 * * 1", "UTC")
