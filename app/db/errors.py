"""Exceptions raised by the repository layer (kept apart so callers can catch them without SQLAlchemy)."""

from __future__ import annotations


class NotFound(LookupError):
    """The campaign, node, problem ... named by the caller does not exist."""
