"""Cron expressions evaluated in a time zone (croniter does the parsing and the calendar arithmetic).

Slots are computed in the schedule's zone and stored in UTC, so "09:00 Europe/Paris" stays at 09:00 local
time across daylight-saving changes. Two corner cases of local time, and what happens:

* spring forward: a time that does not exist that day (02:30 when clocks jump from 02:00 to 03:00) fires
  at the first moment after the gap (croniter's choice, and what most cron daemons do);
* fall back: a wall time that occurs twice (02:30 when clocks go from 03:00 back to 02:00) fires once, at
  its first occurrence, when the expression names fixed hours. An expression that fires every hour keeps
  both occurrences, because they are genuinely an hour apart.

Accepted syntax is croniter's: five fields (minute hour day-of-month month day-of-week), an optional sixth
field of seconds, or a nickname (``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

TIMEZONE_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")
MAX_EXPRESSION_LENGTH = 120


class CronError(ValueError):
    """A cron expression or time zone that cannot be used; ``field`` is ``"cron"`` or ``"timezone"``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_timezone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not TIMEZONE_PATTERN.match(name) or len(name) > 64:
        raise CronError("timezone", f"timezone {name!r} is not an IANA zone name such as 'UTC' or 'Europe/Paris'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError("timezone", f"unknown timezone {name!r} (use an IANA name such as 'Europe/Paris')") from None


class CronSchedule:
    """One expression in one zone; every datetime it takes and returns is timezone-aware."""

    def __init__(self, expression: str, tz: str = "UTC") -> None:
        text = " ".join(str(expression).split())
        if not text:
            raise CronError("cron", "the cron expression is empty")
        if len(text) > MAX_EXPRESSION_LENGTH:
            raise CronError("cron", f"the cron expression is longer than {MAX_EXPRESSION_LENGTH} characters")
        self.zone = parse_timezone(tz)
        try:
            # Syntax and ranges only: whether it ever fires (not on 30 February, not in a past year) depends
            # on when you ask, which next_after answers (store.validate_cron asks for "now").
            parsed = croniter(text, datetime(2000, 1, 1, tzinfo=self.zone))
        except (CroniterError, ValueError, KeyError, TypeError, OverflowError) as exc:
            raise CronError("cron", f"invalid cron expression {text!r}: {exc}") from None
        self.expression = text
        self.timezone = tz
        hours = parsed.expanded[1] if len(parsed.expanded) > 1 else ["*"]
        self._fixed_hours = not (hours == ["*"] or len(hours) >= 24)

    # -- slots ------------------------------------------------------------------------------------------------
    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment``, in UTC; CronError if there is none (a past year)."""
        local = _aware(moment).astimezone(self.zone)
        try:
            it = croniter(self.expression, local)
            candidate = it.get_next(datetime)
            while self._repeats_wall_time(candidate):
                candidate = it.get_next(datetime)
        except (CroniterError, ValueError, OverflowError):
            raise CronError("cron", f"{self.expression!r} has no slot after {moment.isoformat()}") from None
        return candidate.astimezone(timezone.utc)

    def latest_at_or_before(self, moment: datetime) -> datetime:
        """The last slot at or before ``moment``, in UTC (slots fall on whole seconds); CronError if none."""
        local = _aware(moment).astimezone(self.zone).replace(microsecond=0) + timedelta(seconds=1)
        try:
            it = croniter(self.expression, local)
            candidate = it.get_prev(datetime)
            while self._repeats_wall_time(candidate):
                candidate = it.get_prev(datetime)
        except (CroniterError, ValueError, OverflowError):
            raise CronError("cron", f"{self.expression!r} has no slot before {moment.isoformat()}") from None
        return candidate.astimezone(timezone.utc)

    def slots_after(self, moment: datetime) -> Iterator[datetime]:
        """Slots strictly after ``moment``, in order, in UTC (an endless iterator)."""
        current = moment
        while True:
            current = self.next_after(current)
            yield current

    def count_between(self, start: datetime, end: datetime, cap: int) -> int:
        """How many slots lie in [start, end), counting at most ``cap`` (croniter is slow: ~0.1 ms a step)."""
        count = 0
        current = _aware(start) - timedelta(microseconds=1)
        while count < cap:
            current = self.next_after(current)
            if current >= end:
                break
            count += 1
        return count

    def shortest_interval(self, after: datetime, samples: int = 12) -> timedelta:
        """The smallest gap between consecutive slots among the next ``samples``: how often it really fires
        (``timedelta.max`` for an expression with at most one slot left)."""
        slots = [self.next_after(after)]
        for _ in range(samples - 1):
            try:
                slots.append(self.next_after(slots[-1]))
            except CronError:  # the expression runs out (a year field)
                break
        return min((b - a for a, b in zip(slots, slots[1:])), default=timedelta.max)

    def _repeats_wall_time(self, slot: datetime) -> bool:
        """True for the second occurrence of a wall time on a fall-back day, for fixed-hour expressions."""
        if not self._fixed_hours:
            return False
        try:
            earlier = croniter(self.expression, slot).get_prev(datetime)
        except (CroniterError, ValueError, OverflowError):  # no slot before this one
            return False
        return earlier.replace(tzinfo=None) == slot.replace(tzinfo=None) and earlier.utcoffset() != slot.utcoffset()


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"naive datetime {moment!r}; pass an aware one")
    return moment
