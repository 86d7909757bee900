"""Cron evaluation in time zones: slots, daylight-saving corners, validation messages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import islice
from zoneinfo import ZoneInfo

import pytest

from app.scheduling.cron import CronError, CronSchedule
from app.scheduling.store import validate_cron

UTC = timezone.utc


def local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).isoformat()


def test_slots_are_read_in_the_zone_and_returned_in_utc():
    cron = CronSchedule("0 9 * * 1-5", "America/New_York")
    start = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)  # Thursday 07:00 in New York (EST, UTC-5)
    slots = list(islice(cron.slots_after(start), 4))
    assert all(s.tzinfo == UTC for s in slots)
    # Thu 9:00 EST, Fri 9:00 EST, then Monday after the change to EDT (UTC-4): still 09:00 local.
    assert [s.isoformat() for s in slots] == [
        "2026-03-05T14:00:00+00:00", "2026-03-06T14:00:00+00:00", "2026-03-09T13:00:00+00:00",
        "2026-03-10T13:00:00+00:00"]
    assert {local(s, "America/New_York")[11:19] for s in slots} == {"09:00:00"}


def test_next_after_is_strict_and_latest_at_or_before_is_inclusive():
    cron = CronSchedule("*/5 * * * *")
    slot = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert cron.next_after(slot) == slot + timedelta(minutes=5)
    assert cron.next_after(slot - timedelta(microseconds=1)) == slot
    assert cron.latest_at_or_before(slot) == slot
    assert cron.latest_at_or_before(slot + timedelta(seconds=299)) == slot
    assert cron.latest_at_or_before(slot - timedelta(microseconds=1)) == slot - timedelta(minutes=5)


def test_spring_forward_runs_after_the_gap_once():
    cron = CronSchedule("30 2 * * *", "Europe/Berlin")  # 2026-03-29: 02:00 -> 03:00, 02:30 does not exist
    slots = list(islice(cron.slots_after(datetime(2026, 3, 28, 12, tzinfo=UTC)), 3))
    assert [local(s, "Europe/Berlin") for s in slots] == [
        "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"]


def test_fall_back_runs_a_fixed_time_once_but_keeps_every_hour():
    daily = CronSchedule("30 2 * * *", "Europe/Berlin")  # 2026-10-25: 03:00 -> 02:00, 02:30 happens twice
    slots = list(islice(daily.slots_after(datetime(2026, 10, 24, 12, tzinfo=UTC)), 3))
    assert [local(s, "Europe/Berlin") for s in slots] == [
        "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00", "2026-10-27T02:30:00+01:00"]
    # Looking back from after the second 02:30 finds the first one (the second is not a slot).
    assert local(daily.latest_at_or_before(datetime(2026, 10, 25, 2, 0, tzinfo=UTC)), "Europe/Berlin") == \
        "2026-10-25T02:30:00+02:00"

    hourly = CronSchedule("0 * * * *", "Europe/Berlin")
    slots = list(islice(hourly.slots_after(datetime(2026, 10, 24, 23, 30, tzinfo=UTC)), 4))
    assert [s - slots[0] for s in slots] == [timedelta(hours=h) for h in range(4)]  # 02:00 twice, an hour apart


def test_count_between_and_shortest_interval():
    cron = CronSchedule("*/5 * * * *")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert cron.count_between(start, start + timedelta(hours=1), cap=100) == 12
    assert cron.count_between(start, start + timedelta(hours=1), cap=5) == 5
    assert cron.shortest_interval(start) == timedelta(minutes=5)
    assert CronSchedule("* * * * * */10").shortest_interval(start) == timedelta(seconds=10)
    assert CronSchedule("@daily", "Asia/Tokyo").shortest_interval(start) == timedelta(days=1)


@pytest.mark.parametrize(("expression", "zone", "field", "fragment"), [
    ("* * * *", "UTC", "cron", "invalid cron expression"),
    ("61 * * * *", "UTC", "cron", "out of range"),
    ("", "UTC", "cron", "empty"),
    ("@reboot", "UTC", "cron", "invalid cron expression"),
    ("0 3 * * *", "Mars/Olympus", "timezone", "unknown timezone"),
    ("0 3 * * *", "../../etc/passwd", "timezone", "not an IANA zone name"),
    ("0 3 * * *", "", "timezone", "not an IANA zone name"),
])
def test_bad_expressions_and_zones_name_the_field(expression, zone, field, fragment):
    with pytest.raises(CronError) as info:
        CronSchedule(expression, zone)
    assert info.value.field == field
    assert fragment in info.value.message


def test_minimum_interval_is_enforced():
    with pytest.raises(CronError) as info:
        validate_cron("* * * * * *", "UTC", min_interval_seconds=60)
    assert info.value.field == "cron" and "fires every 1 s" in info.value.message
    assert validate_cron("*/2 * * * *", "UTC", min_interval_seconds=60).expression == "*/2 * * * *"
    assert validate_cron("  0   3 * * *  ", "UTC").expression == "0 3 * * *"  # whitespace normalised

    # expressions that never fire (again): 30 February, a year field in the past
    for never in ("0 0 30 2 *", "0 0 1 1 * 0 2001"):
        with pytest.raises(CronError) as info:
            validate_cron(never, "UTC")
        assert info.value.field == "cron" and "has no slot after" in info.value.message
    assert validate_cron("0 0 1 1 * 0 2040", "UTC", min_interval_seconds=60).expression == "0 0 1 1 * 0 2040"
