"""Errors raised by the problem registry and the user-problem loader."""

from __future__ import annotations


class ProblemNotFound(LookupError):
    """No built-in problem has that name and no user-problem directory/file exists at that path."""


class ProblemValidationError(ValueError):
    """A user-defined problem is malformed; the message names the file, field or array at fault."""
