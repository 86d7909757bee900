"""What a fake LLM server should do for each request, in order.

A script is a list of items; each incoming request consumes one. Plain strings are answers. Callables
receive the ``RecordedRequest`` and return an item, for answers that depend on the prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reply:
    """A successful completion. ``usage=False`` omits the usage object (as some local servers do)."""

    text: str
    input_tokens: int = 10
    output_tokens: int | None = None  # default: ~len(text)/4
    usage: bool = True
    finish_reason: str | None = None  # protocol default ("stop" / "end_turn") when None
    model: str | None = None  # echoes the requested model when None
    delay_s: float = 0.0  # think time before answering (for concurrency tests)


@dataclass(frozen=True)
class ToolCall:
    """An answer given as a tool call (``tool_calls`` on OpenAI, a ``tool_use`` block on Anthropic), the way
    models answer when a tool is offered or forced. ``arguments``: an object, or a raw (maybe broken) string."""

    arguments: dict[str, Any] | str
    name: str = "answer"
    input_tokens: int = 10
    output_tokens: int | None = None  # default: ~len(arguments as JSON)/4
    delay_s: float = 0.0


@dataclass(frozen=True)
class SlowStart:
    """``reply`` sent after ``first_byte_s`` of silence (a loaded server's queue, a local model reading
    the prompt), then its body in ``chunks`` pieces ``gap_s`` apart."""

    reply: Reply
    first_byte_s: float
    chunks: int = 1
    gap_s: float = 0.0


@dataclass(frozen=True)
class Status:
    """An HTTP error with the protocol's error body (or ``body`` verbatim when given)."""

    code: int
    message: str = "fake server error"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    delay_s: float = 0.0


@dataclass(frozen=True)
class Hang:
    """Accept the request, say nothing for ``seconds``, then drop the connection."""

    seconds: float


@dataclass(frozen=True)
class Disconnect:
    """Drop the connection without any response."""


@dataclass(frozen=True)
class Malformed:
    """A response whose body is not valid JSON (or not the protocol's shape)."""

    body: bytes = b'{"choices": [{"message": {"content": "trunc'
    status: int = 200


def rate_limited(retry_after: str | None = "1", message: str = "rate limit reached") -> Status:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Status(429, message=message, headers=headers)


def overloaded(status: int = 503, retry_after: str | None = None) -> Status:
    """A 5xx as busy servers send it (Anthropic: 529 overloaded_error), optionally with Retry-After."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Status(status, message="server overloaded, try again later", headers=headers)


def no_usage(text: str) -> Reply:
    return Reply(text, usage=False)


ScriptItem = str | Reply | ToolCall | SlowStart | Status | Hang | Disconnect | Malformed | Callable[[Any], Any]
