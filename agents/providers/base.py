"""The vocabulary every LLM provider speaks: request/response models, the ``Provider`` protocol, errors.

The rest of the system (agents, campaign engine, accounting) only ever sees these types, so a provider
can be swapped (hosted API, local vLLM, a fake server in tests) without touching callers.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant"]


class ChatMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Role
    content: str


class ResponseSchema(BaseModel):
    """A JSON schema the answer must follow, for servers that can constrain decoding to it.

    Sent as OpenAI's ``response_format: {type: json_schema}`` or as a forced tool call on the Anthropic
    Messages API. ``strict`` is off by default because OpenAI's strict mode only accepts schemas whose
    every property is required and closed, which optional fields of the role models are not.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Schema (or tool) name the server sees.")
    schema_: dict[str, Any] = Field(alias="schema", serialization_alias="schema")
    strict: bool = False
    description: str | None = None

    @classmethod
    def for_model(cls, name: str, model: type[BaseModel], *, description: str | None = None) -> ResponseSchema:
        """The schema of a pydantic model, with the ``title`` noise removed (servers ignore it, and it
        costs prompt tokens on servers that turn the schema into a grammar or a tool description) and
        with large size bounds left out (see :func:`_for_decoding`)."""
        return cls(name=name, schema=_for_decoding(model.model_json_schema()), description=description)


    def with_choices(self, field: str, choices: list[Any], *, nullable: bool = False,
                     as_list: bool = False) -> ResponseSchema:
        """The same schema with one top-level property restricted to ``choices`` (an ``enum``; a list of
        them with ``as_list``): a server that decodes with the schema can then only name a card on the
        shortlist or a candidate node, instead of being told so in a repair request afterwards."""
        allowed: dict[str, Any] = {"enum": list(choices)}
        if as_list:
            allowed = {"type": "array", "items": allowed}
        if nullable:
            allowed = {"anyOf": [allowed, {"type": "null"}]}
        schema = {**self.schema_, "properties": {**self.schema_.get("properties", {}), field: allowed}}
        return self.model_copy(update={"schema_": schema})


# Grammar-constrained decoders (llama.cpp's server, and the servers built on its JSON-schema converter)
# unroll a bounded repetition into one grammar rule per allowed count: ``maxLength: 20000`` on a string
# became 20,000 nested rules and killed llama-cpp-python's server outright (seen with the proposal's
# ``rationale``). Bounds above this are dropped from the schema the server sees; the role's pydantic model
# still enforces them on the parsed answer, so nothing is accepted that was refused before.
MAX_DECODED_BOUND = 256
_SIZE_BOUNDS = frozenset({"maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties"})


def _for_decoding(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _for_decoding(v) for k, v in node.items()
                if not (k == "title" and isinstance(v, str))
                and not (k in _SIZE_BOUNDS and isinstance(v, int) and v > MAX_DECODED_BOUND)}
    if isinstance(node, list):
        return [_for_decoding(v) for v in node]
    return node


class ChatRequest(BaseModel):
    """One chat completion call, independent of the wire protocol.

    ``None`` fields fall back to the provider's configured defaults; a field left ``None`` at both levels
    is omitted from the wire request so the server's own default applies.
    """

    messages: list[ChatMessage] = Field(min_length=1)
    model: str | None = Field(default=None, description="Overrides the provider's configured model.")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, gt=0)
    stop: list[str] | None = None
    json_mode: bool = Field(
        default=False,
        description="Ask for a single JSON object (native response_format where the protocol has one, "
        "an instruction otherwise). The caller still validates the JSON.",
    )
    response_schema: ResponseSchema | None = Field(
        default=None,
        description="Constrain the answer to this JSON schema where the server can (see the provider's "
        "structured_output switch); the caller still validates the JSON.",
    )


class ChatResponse(BaseModel):
    text: str
    model: str = Field(description="The model the server says answered (falls back to the requested one).")
    provider: str = Field(description="Provider label, e.g. 'openai' or 'anthropic'.")
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    tokens_estimated: bool = Field(
        default=False, description="True when the server reported no usage and tokens were estimated."
    )
    latency_s: float = Field(
        ge=0.0, description="Wall time of the whole call, retries and back-off included."
    )
    cost_usd: float = Field(ge=0.0)
    price_known: bool = Field(
        default=True, description="False when the model is missing from the price table (cost then reads 0)."
    )
    finish_reason: str | None = Field(
        default=None, description="Normalised to OpenAI's words: 'stop', 'length' (the token limit), ..."
    )
    raw_id: str | None = None
    attempts: int = Field(default=1, ge=1)
    structured: bool = Field(
        default=False, description="True when the request carried a JSON schema the server accepted."
    )
    tool_call: bool = Field(default=False, description="The text is a tool call's arguments (JSON).")
    structured_fallback: str | None = Field(
        default=None,
        description="Why the schema was not sent although asked for (the server refused it earlier).",
    )

    @property
    def truncated(self) -> bool:
        """The answer stopped at the output-token limit and is probably incomplete."""
        return self.finish_reason == "length"

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@runtime_checkable
class Provider(Protocol):
    """An async chat-completion backend. Implementations must be safe to call concurrently."""

    name: str
    model: str

    async def complete(self, request: ChatRequest) -> ChatResponse: ...

    async def aclose(self) -> None: ...


# --------------------------------------------------------------------------------------------- errors


class ProviderError(Exception):
    """Base for anything that went wrong talking to an LLM provider.

    The message always names provider and model (and the HTTP status when there is one) because these
    errors end up in campaign logs read by people who did not write the call.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str,
        status: int | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.status = status
        self.detail = message
        status_part = f", HTTP {status}" if status is not None else ""
        super().__init__(f"[{provider} model={model}{status_part}] {message}")


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or kept failing after the last retry.

    The campaign engine pauses the campaign on this rather than failing nodes: the fault is the
    provider's, not the candidate's.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str,
        status: int | None = None,
        attempts: int,
    ) -> None:
        self.attempts = attempts
        super().__init__(message, provider=provider, model=model, status=status)


class ProviderRequestError(ProviderError):
    """The server rejected the request in a way retrying cannot fix (400, 401, 403, 404, 422...)."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str,
        status: int | None = None,
        server_message: str | None = None,
    ) -> None:
        self.server_message = server_message
        super().__init__(message, provider=provider, model=model, status=status)


class ProviderConfigError(ProviderError):
    """Local misconfiguration detected at call time, e.g. the API-key variable is not set."""


class ProviderResponseError(ProviderError):
    """The server answered 2xx but the body is not what the protocol promises (malformed JSON, no choices).

    Retryable: proxies and overloaded servers occasionally truncate bodies.
    """

    retryable = True


class BudgetExceeded(Exception):
    """A campaign's USD or token cap is reached: no new LLM work may start (running work may finish)."""

    def __init__(
        self, message: str, *, cap: str, limit: float, used: float, scope: str | None = None
    ) -> None:
        self.cap = cap
        self.limit = limit
        self.used = used
        self.scope = scope
        super().__init__(message)


# ----------------------------------------------------------------------------------- token estimates

_CHARS_PER_TOKEN = 4.0  # rough average for English prose and code with BPE tokenizers
_TOKENS_PER_MESSAGE = 4  # role markers and separators added by chat templates


def estimate_tokens(text: str) -> int:
    """Cheap token estimate used only when the server reports no usage; errs slightly high."""
    if not text:
        return 0
    return max(1, math.ceil(len(text) / _CHARS_PER_TOKEN))


def estimate_prompt_tokens(messages: list[ChatMessage]) -> int:
    return sum(estimate_tokens(m.content) + _TOKENS_PER_MESSAGE for m in messages)
