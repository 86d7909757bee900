"""One JSON-over-HTTP POST with timeouts, retries and a concurrency slot: the part both protocols share.

Protocol modules only build the payload and parse the body; this module decides what a failure means.
The parse step runs inside the retry loop so that a 200 with a truncated or nonsensical body is retried
like any other transient fault.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import ssl
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from agents.providers.base import (
    ProviderRequestError,
    ProviderResponseError,
    ProviderUnavailable,
)
from agents.providers.retry import (
    ConcurrencyLimiter,
    NowFn,
    RetryPolicy,
    SleepFn,
    is_retryable_status,
    parse_retry_after,
    retry_delay,
)

logger = logging.getLogger("agents.providers")

T = TypeVar("T")

_MAX_SERVER_MESSAGE = 500


def _utcnow() -> datetime:
    return datetime.now(UTC)


def server_message(body: bytes) -> str:
    """The human-readable part of an error body: ``error.message`` in both OpenAI and Anthropic shapes."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            text = err["message"]
        elif isinstance(err, str):
            text = err
        elif isinstance(data.get("detail"), str):
            text = data["detail"]
        elif isinstance(data.get("message"), str):
            text = data["message"]
    if len(text) > _MAX_SERVER_MESSAGE:
        text = text[:_MAX_SERVER_MESSAGE] + "..."
    return text or "<empty body>"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process, shared by every client.

    httpx builds a fresh context per client (loading the CA bundle: ~20 ms), and a team opens one client
    per role and per campaign. A context is safe to share between clients and loops (httpx's advice)."""
    return httpx.create_ssl_context()


class JsonHttpClient:
    """POSTs JSON to one provider endpoint; owns the httpx client, retry loop and concurrency slot."""

    def __init__(
        self,
        *,
        provider: str,
        policy: RetryPolicy,
        limiter: ConcurrencyLimiter,
        sleep: SleepFn | None = None,
        rng: random.Random | None = None,
        now: NowFn | None = None,
    ) -> None:
        self.provider = provider
        self.policy = policy
        self.limiter = limiter
        self._sleep: SleepFn = sleep or asyncio.sleep
        self._rng = rng or random.Random()
        self._now: NowFn = now or _utcnow
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> httpx.AsyncClient:
        # httpx connection pools are tied to the loop that opened them; reopen when the loop changes.
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop or self._client.is_closed:
            timeout = httpx.Timeout(
                connect=self.policy.connect_timeout_s,
                read=self.policy.read_timeout_s,
                write=self.policy.read_timeout_s,
                pool=self.policy.connect_timeout_s,
            )
            limits = httpx.Limits(max_connections=max(10, self.limiter.limit * 2))
            self._client = httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False,
                                             verify=_tls_context())
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._client_loop is asyncio.get_running_loop():
            await client.aclose()

    async def post_json(
        self,
        url: str,
        *,
        model: str,
        headers: Mapping[str, str],
        payload: dict[str, Any],
        parse: Callable[[dict[str, Any]], T],
    ) -> tuple[T, int]:
        """Returns ``(parse(body), attempts)``.

        Raises ``ProviderRequestError`` at once for non-retryable 4xx, ``ProviderUnavailable`` once
        ``policy.max_attempts`` tries have failed with retryable faults.
        """
        attempts = self.policy.max_attempts
        last_failure = "no attempt made"
        last_status: int | None = None
        last_exc: BaseException | None = None
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            try:
                async with self.limiter:
                    response = await self._http().post(url, json=payload, headers=dict(headers))
            except httpx.TimeoutException as exc:
                last_exc, last_status = exc, None
                last_failure = f"{_timeout_kind(exc)} timeout ({_timeout_value(exc, self.policy):g} s)"
            except httpx.TransportError as exc:
                last_exc, last_status = exc, None
                last_failure = f"connection error ({type(exc).__name__}: {exc or 'no detail'})"
            else:
                status = response.status_code
                last_status = status
                if 200 <= status < 300:
                    try:
                        return parse(_decode_json_object(response.content, self.provider, model)), attempt
                    except ProviderResponseError as exc:
                        last_exc = exc
                        last_failure = exc.detail
                elif is_retryable_status(status):
                    last_exc = None
                    last_failure = f"HTTP {status}: {server_message(response.content)}"
                    retry_after = parse_retry_after(response.headers, self._now())
                else:
                    msg = server_message(response.content)
                    raise ProviderRequestError(
                        f"request rejected by {url}: {msg}",
                        provider=self.provider,
                        model=model,
                        status=status,
                        server_message=msg,
                    )
            if attempt == attempts:
                break
            delay = retry_delay(attempt, self.policy, self._rng, retry_after)
            logger.warning(
                "%s model=%s: %s; retry %d/%d in %.2f s%s",
                self.provider,
                model,
                last_failure,
                attempt,
                attempts - 1,
                delay,
                " (server Retry-After)" if retry_after is not None else "",
            )
            await self._sleep(delay)
        raise ProviderUnavailable(
            f"unavailable after {attempts} attempt{'s' if attempts != 1 else ''} to {url}; "
            f"last error: {last_failure}",
            provider=self.provider,
            model=model,
            status=last_status,
            attempts=attempts,
        ) from last_exc


def _decode_json_object(body: bytes, provider: str, model: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        snippet = body[:120].decode("utf-8", errors="replace")
        raise ProviderResponseError(
            f"malformed JSON in a 2xx response ({exc}); body starts with {snippet!r}",
            provider=provider,
            model=model,
        ) from exc
    if not isinstance(data, dict):
        raise ProviderResponseError(
            f"expected a JSON object in a 2xx response, got {type(data).__name__}",
            provider=provider,
            model=model,
        )
    return data


def _timeout_kind(exc: httpx.TimeoutException) -> str:
    return {
        httpx.ConnectTimeout: "connect",
        httpx.ReadTimeout: "read",
        httpx.WriteTimeout: "write",
        httpx.PoolTimeout: "pool",
    }.get(type(exc), "request")


def _timeout_value(exc: httpx.TimeoutException, policy: RetryPolicy) -> float:
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return policy.connect_timeout_s
    return policy.read_timeout_s
