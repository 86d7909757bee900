"""Column types shared by the models.

SQLite has no time-zone-aware timestamp: it stores whatever text it is given and hands back naive
datetimes. ``UTCDateTime`` normalises at the boundary so that every value that leaves the database is
aware and in UTC on both back ends, and so that a naive datetime (almost always a bug: local time or a
``datetime.utcnow()`` leftover) is refused instead of being stored with a silent offset.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator


def utcnow() -> datetime:
    """Current time, aware, in UTC: the only clock the persistence layer uses."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE`` on PostgreSQL, naive-UTC text on SQLite; always aware in Python."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column; use an aware datetime")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            # Stored as text; dropping the offset keeps the format uniform so that string comparison
            # in WHERE clauses (lease expiry, for instance) orders correctly.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
