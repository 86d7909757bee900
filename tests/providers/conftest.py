"""Helpers for provider tests: instant, recorded sleeps and fast retry policies."""

from __future__ import annotations

import random

import pytest

from agents.providers.retry import RetryPolicy


class SleepRecorder:
    """Stands in for ``asyncio.sleep``: records the requested delay and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)


def fast_policy(**overrides: float) -> RetryPolicy:
    values: dict = dict(
        max_attempts=3, base_delay_s=0.5, max_delay_s=8.0, connect_timeout_s=1.0, read_timeout_s=2.0
    )
    values.update(overrides)
    return RetryPolicy(**values)
