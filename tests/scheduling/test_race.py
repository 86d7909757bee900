"""Two scheduler processes (``agentic-sciml schedule daemon``) racing on the same due slots: one firing each.

Both daemons start against one database and wait; then many schedules become due at once (their
``next_run_at`` moved into the past in one transaction) next to a schedule that fires every second. Each
daemon ticks every 50 ms, so both reach for the same rows at the same moments. Every slot must have been
handled exactly once, every firing that ran must have exactly one batch, and (on PostgreSQL, where SKIP LOCKED
lets both work side by side) both processes must have fired some slots, or there was no race to speak of.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app.db.models import Batch, Schedule, ScheduleFiring
from app.db.session import Database
from app.db.types import utcnow
from app.scheduling import store
from app.scheduling.cron import CronSchedule
from app.scheduling.spec import parse_spec

REPO = Path(__file__).resolve().parents[2]
SCRIPT = shutil.which("agentic-sciml", path=os.path.dirname(sys.executable)) or "agentic-sciml"
HOURLY = 30
SPEC = {"name": "race", "problems": ["discontinuous_fit1d"], "teams": [{"name": "t", "iterations": 1}]}


def start_daemon(url: str, data_dir: Path) -> subprocess.Popen:
    # No workers run here, so every fired campaign stays queued: lift the active-campaign limits that would
    # otherwise (rightly) refuse the later slots.
    env = {**os.environ, "DATABASE_URL": url, "AGENTIC_SCIML_DATA_DIR": str(data_dir),
           "AGENTIC_SCIML_MAX_ACTIVE_CAMPAIGNS": "100000", "AGENTIC_SCIML_MAX_ACTIVE_CAMPAIGNS_PER_USER": "100000"}
    return subprocess.Popen([SCRIPT, "schedule", "daemon", "--tick-seconds", "0.05"], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_ready(proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(f"daemon exited early: {seen[-2000:]}")
        seen += line
        if " ready (tick" in line:
            return
    raise AssertionError(f"daemon not ready: {seen[-2000:]}")


def stop(proc: subprocess.Popen) -> dict:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    line = [x for x in err.splitlines() if "scheduler stopped:" in x][-1]
    return json.loads(line.split("scheduler stopped:", 1)[1])


def race(url: str, data_dir: Path, *, both_must_fire: bool = True) -> None:
    db = Database(url)
    procs: list[subprocess.Popen] = []
    try:
        now = utcnow()
        with db.session_scope() as s:
            spec = parse_spec(SPEC)
            hourly = [store.create_schedule(s, name=f"h{i}", cron=CronSchedule("0 * * * *"), spec=spec, source="cli",
                                            owner_id=None, missed="run_once", paused=True, now=now).id
                      for i in range(HOURLY)]
            every_second = store.create_schedule(s, name="s", cron=CronSchedule("* * * * * *"), spec=spec, source="cli",
                                                 owner_id=None, missed="run_once", overlap="allow", paused=True,
                                                 now=now).id
        procs = [start_daemon(url, data_dir), start_daemon(url, data_dir)]
        for proc in procs:
            wait_ready(proc)
        with db.session_scope() as s:  # everything becomes due at once
            start = utcnow()
            s.execute(update(Schedule).where(Schedule.id.in_(hourly))
                      .values(paused=False, next_run_at=CronSchedule("0 * * * *").latest_at_or_before(start)
                              - timedelta(hours=3)))
            s.execute(update(Schedule).where(Schedule.id == every_second)
                      .values(paused=False, next_run_at=CronSchedule("* * * * * *").next_after(start)))

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with db.session_scope(readonly=True) as s:
                fired = s.scalar(select(func.count()).select_from(ScheduleFiring)
                                 .where(ScheduleFiring.schedule_id.in_(hourly)))
                seconds = s.scalar(select(func.count()).select_from(ScheduleFiring)
                                   .where(ScheduleFiring.schedule_id == every_second))
            if fired == HOURLY and seconds >= 3:
                break
            time.sleep(0.2)
        totals = [stop(proc) for proc in procs]

        with db.session_scope(readonly=True) as s:
            rows = s.execute(select(ScheduleFiring.schedule_id, ScheduleFiring.slot, ScheduleFiring.status,
                                    ScheduleFiring.batch_id, ScheduleFiring.instance,
                                    ScheduleFiring.missed_slots)).all()
            batches = s.execute(select(Batch.id, Batch.schedule_id, Batch.slot)).all()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        db.dispose()

    # every due hourly schedule: one firing, for its latest slot (three missed ones coalesced), one batch
    hourly_rows = [r for r in rows if r.schedule_id in hourly]
    assert sorted(r.schedule_id for r in hourly_rows) == sorted(hourly)
    assert {r.status for r in hourly_rows} == {"fired"} and {r.missed_slots for r in hourly_rows} == {3}
    # the every-second schedule: distinct slots, each accounted for once (fired, or coalesced into the next)
    second_rows = sorted((r for r in rows if r.schedule_id == every_second), key=lambda r: r.slot)
    assert len(second_rows) >= 3
    slots = [r.slot for r in second_rows]
    assert len(set(slots)) == len(slots)
    span = int((slots[-1] - slots[0]).total_seconds()) + 1
    assert len(second_rows) + sum(r.missed_slots for r in second_rows[1:]) == span
    # one batch per firing that ran, tied to its schedule and slot
    fired = {(r.schedule_id, r.slot): r.batch_id for r in rows if r.status == "fired"}
    assert len(fired) == len(rows)
    assert sorted((b.schedule_id, b.slot) for b in batches) == sorted(fired)
    assert {b.id for b in batches} == set(fired.values())
    # both processes took part, and what they report adds up to what the database holds
    instances = {r.instance for r in rows}
    if both_must_fire:
        assert len(instances) == 2, f"only {instances} fired: the daemons did not race"
    assert sum(t["fired"] for t in totals) == len(fired)
    print("race:", totals, {i: sum(1 for r in rows if r.instance == i) for i in instances})


@pytest.mark.postgres
def test_two_daemons_fire_each_slot_once_on_postgresql(pg_url, tmp_path):
    race(pg_url, tmp_path / "data")


@pytest.mark.slow  # the same on SQLite, where the write lock (BEGIN IMMEDIATE) serialises the two
def test_two_daemons_fire_each_slot_once_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'race.db'}"
    from app.db.session import upgrade_database

    upgrade_database(url)
    # SQLite hands its write lock to whoever asks first, so one daemon may win nearly every slot; the other
    # still contends for each one (it waits on the lock, then finds the slot taken).
    race(url, tmp_path / "data", both_must_fire=False)
