"""Shared skeleton of an HTTP chat provider: defaults, key lookup, timing, token fallback and pricing.

Subclasses supply only the wire format (URL, headers, payload, parse); everything that must behave the
same across protocols (how cost and latency are computed, how keys stay secret) lives here once.
"""

from __future__ import annotations

import logging
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr

from agents.providers.base import (
    ChatRequest,
    ChatResponse,
    ProviderRequestError,
    estimate_prompt_tokens,
    estimate_tokens,
)
from agents.providers.pricing import ModelPrice, PriceTable, cost_for
from agents.providers.retry import ConcurrencyLimiter, NowFn, RetryPolicy, SleepFn
from agents.providers.transport import JsonHttpClient

# A key is either a fixed secret or a function called on every request (re-reading env/secret files, so
# that rotating a key needs no restart and the key is never stored in long-lived config objects).
KeySource = SecretStr | Callable[[], SecretStr | None] | None

StructuredOutput = Literal["auto", "on", "off"]

logger = logging.getLogger("agents.providers")

# What a server says when it does not support constrained output: OpenAI-compatible servers name the
# field (``response_format``, ``json_schema``), Anthropic-compatible proxies the tool fields, Ollama ``format``.
_SCHEMA_REFUSAL = re.compile(r"response_format|json_schema|tool_choice|\btools?\b|\bformat\b|structured",
                             re.IGNORECASE)
# 400 bad request, 404 (an old route rejecting the body), 405, 415, 422 unprocessable, 501 not implemented.
_REFUSAL_STATUSES = frozenset({400, 404, 405, 415, 422, 501})


class SchemaSupport:
    """What one server said about JSON schemas, shared by every provider object that talks to the same
    server and model (each role builds its own), so a refusal costs the campaign one request, not one
    per role. ``refused`` holds the server's message once it has refused."""

    def __init__(self) -> None:
        self.refused: str | None = None
        self.dialect: str | None = None  # the way of sending schemas that the server took (``auto``)


def is_schema_refusal(exc: ProviderRequestError) -> bool:
    """True when a rejected request was rejected *because of* the JSON schema it carried."""
    text = f"{exc.server_message or ''} {exc.detail}"
    return exc.status in _REFUSAL_STATUSES and bool(_SCHEMA_REFUSAL.search(text))


# OpenAI's wording, which vLLM and llama-cpp-python's server repeat: "This model's maximum context length is
# 8192 tokens. However, you requested 9518 tokens (8318 in the messages, 1200 in the completion)."
_CONTEXT_OVERFLOW = re.compile(r"maximum context length is (\d+) tokens.*?\((\d+) in the messages", re.S)
MIN_SHRUNK_OUTPUT = 64  # an answer cap below this is not worth asking for


def room_left(exc: ProviderRequestError) -> int | None:
    """The output tokens that still fit when the server refused a request for outgrowing the model's
    context (the prompt fits, prompt + answer cap does not), or None when that is not why."""
    if exc.status not in (400, 413, 422):
        return None
    found = _CONTEXT_OVERFLOW.search(f"{exc.server_message or ''} {exc.detail}")
    if found is None:
        return None
    room = int(found.group(1)) - int(found.group(2)) - 16  # a margin for the chat template's own tokens
    return room if room >= MIN_SHRUNK_OUTPUT else None


@dataclass(frozen=True)
class ParsedReply:
    text: str
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    finish_reason: str | None
    raw_id: str | None
    tool_call: bool = False  # the text is a tool call's arguments (or input), not message content


class HttpChatProvider(ABC):
    """Base for providers speaking a JSON chat protocol over HTTP."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: KeySource = None,
        name: str,
        temperature: float | None = None,
        max_tokens: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        policy: RetryPolicy | None = None,
        limiter: ConcurrencyLimiter | None = None,
        max_concurrency: int = 4,
        prices: PriceTable | None = None,
        price: ModelPrice | None = None,
        sleep: SleepFn | None = None,
        rng: random.Random | None = None,
        now: NowFn | None = None,
        structured_output: StructuredOutput = "auto",
        schema_support: SchemaSupport | None = None,
    ) -> None:
        """``structured_output``: ``on`` always sends a request's JSON schema (a refusal is an error),
        ``off`` never does (prompt and repair only), ``auto`` sends it until the server refuses it once,
        then falls back to the prompt-and-repair path for the rest of this provider's life (a campaign)."""
        self.name = name
        self.structured_output: StructuredOutput = structured_output
        self.schema_support = schema_support or SchemaSupport()
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.extra_headers = dict(extra_headers or {})
        self.extra_body = dict(extra_body or {})
        self.prices = prices or PriceTable()
        self.price = price
        self._api_key = api_key
        self.http = JsonHttpClient(
            provider=name,
            policy=policy or RetryPolicy(),
            limiter=limiter or ConcurrencyLimiter(max_concurrency),
            sleep=sleep,
            rng=rng,
            now=now,
        )

    # -- wire format, per protocol ----------------------------------------------------------------

    @property
    @abstractmethod
    def url(self) -> str: ...

    @abstractmethod
    def auth_headers(self, key: str | None) -> dict[str, str]: ...

    @abstractmethod
    def build_payload(self, request: ChatRequest, model: str) -> dict[str, Any]:
        """The wire body. Sends ``request.response_schema`` when it is set: :meth:`complete` clears it
        first where structured output is off or was refused."""

    @abstractmethod
    def parse_reply(self, data: dict[str, Any], model: str) -> ParsedReply: ...

    # -- shared behaviour ------------------------------------------------------------------------

    def _resolve_key(self) -> str | None:
        source = self._api_key
        secret = source() if callable(source) else source
        return secret.get_secret_value() if secret is not None else None

    @property
    def schema_refused(self) -> str | None:
        """The server's refusal of JSON schemas, once ``auto`` has seen one (then never sent again)."""
        return self.schema_support.refused

    @schema_refused.setter
    def schema_refused(self, message: str | None) -> None:
        self.schema_support.refused = message

    def schema_dialects(self) -> list[str]:
        """Ways this protocol can send a JSON schema, most standard first; ``auto`` tries them in order."""
        return ["default"]

    def _wants_schema(self, request: ChatRequest) -> bool:
        return (request.response_schema is not None and self.structured_output != "off"
                and self.schema_refused is None)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        model = request.model or self.model
        headers = {"content-type": "application/json", **self.extra_headers}
        headers.update(self.auth_headers(self._resolve_key()))
        started = time.perf_counter()
        structured = self._wants_schema(request)
        fallback: str | None = None
        if request.response_schema is not None and not structured:
            fallback = "structured output off" if self.structured_output == "off" else self.schema_refused
        attempts_before = 0
        while True:
            try:
                sent = request if structured else _plain(request, refused=self.schema_refused is not None)
                reply, attempts = await self._post(sent, model, headers)
                attempts += attempts_before
                break
            except ProviderRequestError as exc:
                room = room_left(exc)
                cap = self._max_tokens(request)
                if room is not None and (cap is None or room < cap):
                    # The prompt fits but not with this answer cap: ask once more for a shorter answer
                    # (it may come back cut, and is then continued) instead of failing the step.
                    logger.warning("%s model=%s: prompt + answer cap exceed the context (HTTP %s: %s); "
                                   "asking again with max_tokens=%d", self.name, model, exc.status,
                                   exc.server_message or exc.detail, room)
                    request = request.model_copy(update={"max_tokens": room})
                    attempts_before += 1
                    continue
                if not (structured and self.structured_output == "auto" and is_schema_refusal(exc)):
                    raise
                attempts_before += 1
                message = exc.server_message or exc.detail
                dialects = self.schema_dialects()
                current = self.schema_support.dialect or dialects[0]
                later = dialects[dialects.index(current) + 1:] if current in dialects else []
                if later:
                    # Another way of sending the same schema (llama-cpp-python wants json_object + schema).
                    self.schema_support.dialect = later[0]
                    logger.warning("%s model=%s refused the JSON schema as %s (HTTP %s: %s); trying %s",
                                   self.name, model, current, exc.status, message, later[0])
                    continue
                # Remembered: every later request to this server and model goes the prompt-and-repair way.
                self.schema_refused = message
                logger.warning("%s model=%s refused the JSON schema (HTTP %s: %s); using prompt and repair "
                               "from now on", self.name, model, exc.status, message)
                structured, fallback = False, message
        latency = time.perf_counter() - started

        estimated = reply.input_tokens is None or reply.output_tokens is None
        input_tokens = (
            reply.input_tokens if reply.input_tokens is not None else estimate_prompt_tokens(request.messages)
        )
        output_tokens = (
            reply.output_tokens if reply.output_tokens is not None else estimate_tokens(reply.text)
        )
        cost = cost_for(self.prices, [model, reply.model], input_tokens, output_tokens, self.price)
        return ChatResponse(
            text=reply.text,
            model=reply.model or model,
            provider=self.name,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            tokens_estimated=estimated,
            latency_s=latency,
            cost_usd=cost.cost_usd,
            price_known=cost.price_known,
            finish_reason=reply.finish_reason,
            raw_id=reply.raw_id,
            attempts=attempts,
            structured=structured,
            structured_fallback=fallback,
            tool_call=reply.tool_call,
        )

    async def _post(self, request: ChatRequest, model: str, headers: dict[str, str]) -> tuple[ParsedReply, int]:
        payload = {**self.build_payload(request, model), **self.extra_body}
        return await self.http.post_json(
            self.url,
            model=model,
            headers=headers,
            payload=payload,
            parse=lambda data: self.parse_reply(data, model),
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> HttpChatProvider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        # Deliberately built by hand: never let a default repr reach the key source.
        return f"{type(self).__name__}(name={self.name!r}, model={self.model!r}, base_url={self.base_url!r})"

    def _temperature(self, request: ChatRequest) -> float | None:
        return request.temperature if request.temperature is not None else self.temperature

    def _max_tokens(self, request: ChatRequest) -> int | None:
        return request.max_tokens if request.max_tokens is not None else self.max_tokens


def _plain(request: ChatRequest, *, refused: bool = False) -> ChatRequest:
    """The request without its schema. After a refusal JSON mode goes too: a server that rejects
    ``response_format`` with a schema rejects it without one as well."""
    if request.response_schema is None:
        return request
    return request.model_copy(update={"response_schema": None, "json_mode": request.json_mode and not refused})
