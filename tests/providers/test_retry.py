"""Retries, timeouts, Retry-After and concurrency, exercised over real HTTP against the fake server."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from agents.providers import (
    ChatMessage,
    ChatRequest,
    ConcurrencyRegistry,
    OpenAICompatProvider,
    ProviderRequestError,
    ProviderUnavailable,
)
from agents.providers.retry import RetryPolicy, backoff_delay, parse_retry_after
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.script import Disconnect, Hang, Malformed, Reply, Status, rate_limited
from tests.providers.conftest import fast_policy

REQ = ChatRequest(messages=[ChatMessage(role="user", content="hello")])
NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def _provider(url: str, sleeps=None, rng=None, **policy) -> OpenAICompatProvider:
    return OpenAICompatProvider(
        base_url=url,
        model="gpt-4o-mini",
        policy=fast_policy(**policy),
        sleep=sleeps,
        rng=rng,
        now=lambda: NOW,
    )


def _complete(provider: OpenAICompatProvider):
    return asyncio.run(provider.complete(REQ))


# --------------------------------------------------------------------------------------- 429 / 5xx


def test_429_retry_after_seconds_is_honoured(sleeps, rng) -> None:
    with FakeOpenAIServer(script=[rate_limited("2"), "ok"]) as srv:
        resp = _complete(_provider(srv.base_url, sleeps, rng))
    assert resp.text == "ok" and resp.attempts == 2
    assert sleeps.calls == [2.0]
    assert len(srv.requests) == 2


def test_429_retry_after_http_date_is_honoured(sleeps, rng) -> None:
    when = format_datetime(NOW + timedelta(seconds=7), usegmt=True)
    with FakeOpenAIServer(script=[rate_limited(when), "ok"]) as srv:
        _complete(_provider(srv.base_url, sleeps, rng))
    assert sleeps.calls == [pytest.approx(7.0)]


def test_retry_after_is_capped(sleeps, rng) -> None:
    with FakeOpenAIServer(script=[rate_limited("3600"), "ok"]) as srv:
        _complete(_provider(srv.base_url, sleeps, rng, retry_after_cap_s=45.0))
    assert sleeps.calls == [45.0]


def test_retry_after_ms_header_wins(sleeps, rng) -> None:
    script = [Status(429, headers={"retry-after-ms": "1500", "Retry-After": "2"}), "ok"]
    with FakeOpenAIServer(script=script) as srv:
        _complete(_provider(srv.base_url, sleeps, rng))
    assert sleeps.calls == [1.5]


def test_500_then_success_uses_jittered_backoff(sleeps) -> None:
    with FakeOpenAIServer(script=[Status(500, "boom"), Status(503, "busy"), "ok"]) as srv:
        resp = _complete(_provider(srv.base_url, sleeps, random.Random(7), base_delay_s=0.5))
    assert resp.text == "ok" and resp.attempts == 3
    expected = random.Random(7)
    assert sleeps.calls == [expected.uniform(0, 0.5), expected.uniform(0, 1.0)]


def test_persistent_429_ends_in_unavailable_with_server_message(sleeps, rng) -> None:
    with FakeOpenAIServer(default=rate_limited("1", "Rate limit reached for gpt-4o-mini")) as srv:
        with pytest.raises(ProviderUnavailable) as info:
            _complete(_provider(srv.base_url, sleeps, rng))
    err = info.value
    assert err.status == 429 and err.attempts == 3
    assert "Rate limit reached for gpt-4o-mini" in str(err)
    assert sleeps.calls == [1.0, 1.0]  # no sleep after the last attempt
    assert len(srv.requests) == 3


# ---------------------------------------------------------------------------- timeouts, connections


def test_hung_connection_times_out_then_retry_succeeds(sleeps, rng) -> None:
    with FakeOpenAIServer(script=[Hang(5.0), "recovered"]) as srv:
        started = time.monotonic()
        resp = _complete(_provider(srv.base_url, sleeps, rng, read_timeout_s=0.2))
        elapsed = time.monotonic() - started
    assert resp.text == "recovered" and resp.attempts == 2
    assert len(sleeps.calls) == 1
    assert elapsed < 2.0  # gave up on the hang after ~0.2 s, not 5 s


def test_hung_connection_every_time_is_unavailable_with_readable_message(sleeps, rng) -> None:
    with FakeOpenAIServer(default=Hang(5.0)) as srv:
        with pytest.raises(ProviderUnavailable) as info:
            _complete(_provider(srv.base_url, sleeps, rng, read_timeout_s=0.2, max_attempts=2))
    message = str(info.value)
    assert "openai" in message and "gpt-4o-mini" in message
    assert "unavailable after 2 attempts" in message
    assert "read timeout (0.2 s)" in message
    assert srv.base_url in message
    assert info.value.status is None
    assert len(srv.requests) == 2


def test_connection_refused_is_unavailable(sleeps, rng) -> None:
    with socket.socket() as s:  # find a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ProviderUnavailable) as info:
        _complete(_provider(f"http://127.0.0.1:{port}/v1", sleeps, rng))
    assert "connection error" in str(info.value) and "ConnectError" in str(info.value)
    assert len(sleeps.calls) == 2


def test_dropped_connection_is_retried(sleeps, rng) -> None:
    with FakeOpenAIServer(script=[Disconnect(), "ok"]) as srv:
        resp = _complete(_provider(srv.base_url, sleeps, rng))
    assert resp.text == "ok" and resp.attempts == 2


# ------------------------------------------------------------------------------- malformed bodies


def test_malformed_json_is_retried(sleeps, rng) -> None:
    with FakeOpenAIServer(script=[Malformed(), "ok"]) as srv:
        resp = _complete(_provider(srv.base_url, sleeps, rng))
    assert resp.text == "ok" and resp.attempts == 2


def test_malformed_json_every_time_is_unavailable_with_readable_message(sleeps, rng) -> None:
    with FakeOpenAIServer(default=Malformed(b"<html>Bad gateway</html>")) as srv:
        with pytest.raises(ProviderUnavailable) as info:
            _complete(_provider(srv.base_url, sleeps, rng))
    assert "malformed JSON" in str(info.value) and "<html>Bad gateway" in str(info.value)


def test_wrong_shape_is_retried(sleeps, rng) -> None:
    with FakeOpenAIServer(script=[Malformed(b'{"object": "list", "data": []}'), "ok"]) as srv:
        resp = _complete(_provider(srv.base_url, sleeps, rng))
    assert resp.text == "ok"


# --------------------------------------------------------------------------------- non-retryable


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(status, sleeps, rng) -> None:
    with FakeOpenAIServer(script=[Status(status, f"nope {status}"), "never"]) as srv:
        with pytest.raises(ProviderRequestError) as info:
            _complete(_provider(srv.base_url, sleeps, rng))
    assert info.value.status == status
    assert info.value.server_message == f"nope {status}"
    assert f"HTTP {status}" in str(info.value) and "gpt-4o-mini" in str(info.value)
    assert len(srv.requests) == 1 and sleeps.calls == []


def test_real_401_from_key_check(sleeps, rng) -> None:
    with FakeOpenAIServer(script=["never"], api_key="sk-good") as srv:
        with pytest.raises(ProviderRequestError) as info:
            _complete(_provider(srv.base_url, sleeps, rng))  # sends no key at all
    assert info.value.status == 401 and "invalid api key" in str(info.value)
    assert srv.remaining == 1


# ---------------------------------------------------------------------------------- concurrency


def test_concurrency_limit_is_respected() -> None:
    with FakeOpenAIServer(default=Reply("ok", delay_s=0.1)) as srv:
        provider = OpenAICompatProvider(
            base_url=srv.base_url, model="m", max_concurrency=3, policy=fast_policy()
        )

        async def burst():
            return await asyncio.gather(*(provider.complete(REQ) for _ in range(10)))

        replies = asyncio.run(burst())
    assert len(replies) == 10
    assert srv.max_concurrent == 3
    assert provider.http.limiter.max_in_flight == 3


def test_roles_on_one_endpoint_share_its_limit() -> None:
    registry = ConcurrencyRegistry()
    with FakeOpenAIServer(default=Reply("ok", delay_s=0.1)) as srv:
        a = OpenAICompatProvider(
            base_url=srv.base_url, model="a", limiter=registry.get("ep", 2), policy=fast_policy()
        )
        b = OpenAICompatProvider(
            base_url=srv.base_url, model="b", limiter=registry.get("ep", 2), policy=fast_policy()
        )

        async def burst():
            await asyncio.gather(*(p.complete(REQ) for p in [a, b] * 4))

        asyncio.run(burst())
    assert srv.max_concurrent == 2 and len(srv.requests) == 8


def test_backoff_does_not_hold_a_concurrency_slot() -> None:
    """A request waiting out a Retry-After must not block others from using the slot."""
    order: list[str] = []

    async def slow_sleep(seconds: float) -> None:
        order.append("sleep")
        await asyncio.sleep(0.3)

    with FakeOpenAIServer(script=[rate_limited("1"), Reply("second"), Reply("first-retried")]) as srv:
        provider = OpenAICompatProvider(
            base_url=srv.base_url, model="m", max_concurrency=1, policy=fast_policy(), sleep=slow_sleep
        )

        async def run():
            first = asyncio.create_task(provider.complete(REQ))
            await asyncio.sleep(0.1)  # first has hit the 429 and is backing off
            second = await provider.complete(REQ)
            return (await first).text, second.text

        first_text, second_text = asyncio.run(run())
    assert second_text == "second" and first_text == "first-retried"


# ----------------------------------------------------------------------------------- pure helpers


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=10.0)
    rng = random.Random(0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (9, 10.0)]:
        draws = [backoff_delay(attempt, policy, rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in draws)
        assert max(draws) > 0.8 * ceiling  # spread over the whole range, not clustered


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": " 0.5 "}, 0.5),
        ({"Retry-After": format_datetime(NOW + timedelta(seconds=30), usegmt=True)}, 30.0),
        ({"Retry-After": format_datetime(NOW - timedelta(seconds=30), usegmt=True)}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "-4"}, None),
        ({"retry-after-ms": "250"}, 0.25),
        ({}, None),
    ],
)
def test_parse_retry_after(headers, expected) -> None:
    assert parse_retry_after(headers, NOW) == (pytest.approx(expected) if expected is not None else None)


# ------------------------------------------------------------------------------- context overflow
OVERFLOW = ("This model's maximum context length is 8192 tokens. However, you requested 9518 tokens "
            "(8318 in the messages, 1200 in the completion). Please reduce the length of the messages or completion.")


def test_a_prompt_that_fits_without_its_answer_cap_is_asked_again_with_the_room_left(sleeps, rng) -> None:
    """llama.cpp's server (and OpenAI, vLLM) refuse prompt + max_tokens beyond the context with a 400 that
    says how many tokens the prompt took: the request goes again with the cap that fits, once."""
    overflow = OVERFLOW.replace("8318 in the messages", "7000 in the messages")
    with FakeOpenAIServer(script=[Status(400, overflow), "short answer"]) as srv:
        resp = asyncio.run(_provider(srv.base_url, sleeps, rng).complete(
            REQ.model_copy(update={"max_tokens": 1200})))
        caps = [r.json.get("max_tokens") for r in srv.requests]
    assert resp.text == "short answer" and resp.attempts == 2
    assert caps == [1200, 8192 - 7000 - 16]


def test_a_prompt_that_leaves_no_room_still_fails_the_call(sleeps, rng) -> None:
    with FakeOpenAIServer(script=[Status(400, OVERFLOW.replace("8318", "8170")), Status(400, OVERFLOW), "never"]) as srv:
        with pytest.raises(ProviderRequestError, match="maximum context length"):
            _complete(_provider(srv.base_url, sleeps, rng))
        assert len(srv.requests) == 1  # 8192 - 8170 leaves no answer worth asking for
    with FakeOpenAIServer(script=[Status(400, OVERFLOW.replace("8318", "7000")), Status(400, OVERFLOW.replace("8318", "7000")),
                                  "never"]) as srv:
        with pytest.raises(ProviderRequestError):
            asyncio.run(_provider(srv.base_url, sleeps, rng).complete(REQ.model_copy(update={"max_tokens": 1200})))
        assert len(srv.requests) == 2  # shrunk once; the same refusal at the shrunk cap is final
