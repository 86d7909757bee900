"""Retry policy: which failures are worth retrying, how long to wait, and per-provider concurrency.

Waiting uses exponential back-off with *full jitter* (a uniform draw in ``[0, base * 2**k]``), which
spreads out many agents that failed at the same moment instead of having them retry in lock-step. A
server's ``Retry-After`` (seconds or HTTP-date) or ``retry-after-ms`` header overrides the draw, capped
so one misbehaving proxy cannot park a campaign for an hour.
"""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType

from pydantic import BaseModel, ConfigDict, Field

SleepFn = Callable[[float], Awaitable[None]]
NowFn = Callable[[], datetime]

# 408 request timeout, 409 conflict (transient lock on the server side), 425 too early, 429 rate limit.
RETRYABLE_4XX = frozenset({408, 409, 425, 429})


class RetryPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=4, ge=1, description="Total tries, the first one included.")
    base_delay_s: float = Field(default=1.0, ge=0.0)
    max_delay_s: float = Field(default=30.0, ge=0.0, description="Cap on one jittered back-off.")
    retry_after_cap_s: float = Field(default=60.0, ge=0.0, description="Cap on a server's Retry-After.")
    connect_timeout_s: float = Field(default=10.0, gt=0.0)
    read_timeout_s: float = Field(default=120.0, gt=0.0, description="Max silence while awaiting bytes.")


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_4XX or 500 <= status <= 599


def backoff_delay(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Full-jitter delay before retry number ``attempt`` (1 = the first retry)."""
    ceiling = min(policy.max_delay_s, policy.base_delay_s * (2 ** (attempt - 1)))
    return rng.uniform(0.0, ceiling)


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the server asks us to wait, or ``None`` when it gives no usable hint.

    ``retry-after-ms`` (sent by OpenAI) is preferred for its precision; ``Retry-After`` may be a number
    of seconds or an HTTP-date (RFC 9110 section 10.2.3). Dates in the past mean "now" (0 s).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0.0:
            return value
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0.0 else None
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def retry_delay(
    attempt: int,
    policy: RetryPolicy,
    rng: random.Random,
    retry_after: float | None,
) -> float:
    if retry_after is not None:
        return min(retry_after, policy.retry_after_cap_s)
    return backoff_delay(attempt, policy, rng)


class ConcurrencyLimiter:
    """An ``asyncio.Semaphore`` per event loop, plus a high-water mark of requests in flight.

    asyncio primitives bind to the loop that first waits on them; keeping one per loop lets a provider
    object survive being used from several ``asyncio.run`` calls (CLI commands, tests) without errors.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("concurrency limit must be >= 1")
        self.limit = limit
        self.in_flight = 0
        self.max_in_flight = 0
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = asyncio.Semaphore(self.limit)
            self._semaphores[loop] = sem
        return sem

    async def __aenter__(self) -> ConcurrencyLimiter:
        await self._semaphore().acquire()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.in_flight -= 1
        self._semaphore().release()


class ConcurrencyRegistry:
    """Shares one limiter per endpoint, so two roles pointing at the same server share its slots."""

    def __init__(self) -> None:
        self._limiters: dict[str, ConcurrencyLimiter] = {}

    def get(self, key: str, limit: int) -> ConcurrencyLimiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = ConcurrencyLimiter(limit)
            self._limiters[key] = limiter
        return limiter
