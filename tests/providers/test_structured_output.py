"""Structured output on the wire: JSON schemas as OpenAI ``response_format`` and as a forced Anthropic tool,
the ``structured_output`` switch, and the fallback a refusing server triggers (remembered per provider)."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import BaseModel

from agents.llm.recording import request_hash
from agents.providers import (
    AnthropicProvider,
    ChatMessage,
    ChatRequest,
    OpenAICompatProvider,
    ProviderRequestError,
)
from agents.providers.base import ResponseSchema
from agents.providers.config import RoleModelConfig
from agents.providers.factory import build_provider
from agents.providers.limits import output_limit
from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.script import Reply, Status, ToolCall
from tests.providers.conftest import fast_policy


class Verdict(BaseModel):
    verdict: str
    score: int | None = None


SCHEMA = ResponseSchema.for_model("verdict", Verdict)


def _request(schema: ResponseSchema | None = SCHEMA, **kw) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="system", content="Judge."),
                                 ChatMessage(role="user", content="Is it good?")], response_schema=schema, **kw)


def _openai(srv, **kw) -> OpenAICompatProvider:
    return OpenAICompatProvider(base_url=srv.base_url, model="gpt-4o", policy=fast_policy(), **kw)


def _anthropic(srv, **kw) -> AnthropicProvider:
    return AnthropicProvider(base_url=srv.base_url, model="claude-sonnet-4-5", policy=fast_policy(), **kw)


def test_schema_comes_from_the_pydantic_model_without_titles() -> None:
    assert SCHEMA.schema_["required"] == ["verdict"]
    assert "title" not in json.dumps(SCHEMA.schema_).replace('"verdict"', "")
    assert SCHEMA.schema_["properties"]["score"]["anyOf"][0] == {"type": "integer"}


def test_schema_leaves_out_size_bounds_a_grammar_decoder_would_unroll() -> None:
    """llama.cpp's server unrolls ``maxLength: 20000`` into 20,000 grammar rules and dies (the proposal's
    rationale did); small bounds stay, and the model still enforces every bound on the parsed answer."""
    from pydantic import Field, ValidationError

    from agents.llm.team import ProposalDraft

    class Bounded(BaseModel):
        name: str = Field(min_length=3, max_length=40)
        essay: str = Field(max_length=20_000)
        items: list[int] = Field(max_length=5000)

    schema = ResponseSchema.for_model("bounded", Bounded).schema_["properties"]
    assert schema["name"]["minLength"] == 3 and schema["name"]["maxLength"] == 40
    assert "maxLength" not in schema["essay"] and "maxItems" not in schema["items"]
    proposal = ResponseSchema.for_model("proposal", ProposalDraft).schema_["properties"]["rationale"]
    assert proposal == {"type": "string", "minLength": 10}
    with pytest.raises(ValidationError):
        Bounded(name="abc", essay="x" * 20_001, items=[])


def test_openai_sends_response_format_json_schema() -> None:
    with FakeOpenAIServer(script=['{"verdict": "good"}']) as srv:
        resp = asyncio.run(_openai(srv).complete(_request()))
        body = srv.requests[0].json
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "verdict", "schema": SCHEMA.schema_, "strict": False}}
    assert resp.structured is True and resp.structured_fallback is None
    assert json.loads(resp.text) == {"verdict": "good"}


def test_anthropic_forces_a_tool_call_and_reads_its_input() -> None:
    with FakeAnthropicServer(script=[ToolCall({"verdict": "good", "score": 3})]) as srv:
        resp = asyncio.run(_anthropic(srv).complete(_request()))
        body = srv.requests[0].json
    assert body["tool_choice"] == {"type": "tool", "name": "verdict"}
    assert body["tools"][0]["name"] == "verdict" and body["tools"][0]["input_schema"] == SCHEMA.schema_
    assert resp.structured is True and json.loads(resp.text) == {"verdict": "good", "score": 3}
    assert resp.tool_call is True
    assert resp.finish_reason == "tool_calls"


def test_openai_tool_call_answer_is_read_as_the_text() -> None:
    with FakeOpenAIServer(script=[ToolCall({"verdict": "fine"}), ToolCall('{"verdict": "raw string"}')]) as srv:
        provider = _openai(srv)
        first = asyncio.run(provider.complete(_request(schema=None)))
        second = asyncio.run(provider.complete(_request(schema=None)))
    assert json.loads(first.text) == {"verdict": "fine"} and first.finish_reason == "tool_calls"
    assert second.text == '{"verdict": "raw string"}'
    assert first.tool_call and second.tool_call and not first.structured


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_auto_falls_back_once_and_remembers(kind: str, caplog) -> None:
    server = FakeOpenAIServer if kind == "openai" else FakeAnthropicServer
    refused = "response_format" if kind == "openai" else "tools"
    with server(default=Reply('{"verdict": "ok"}'), refuse_fields={refused}) as srv:
        provider = _openai(srv) if kind == "openai" else _anthropic(srv)
        first = asyncio.run(provider.complete(_request(json_mode=True)))
        second = asyncio.run(provider.complete(_request()))
        sent = [refused in r.json for r in srv.requests]
    # The refused request(s) (OpenAI: both ways of sending a schema), the plain retry, then the second call
    # goes plain at once.
    tries = 2 if kind == "openai" else 1
    assert sent == [True] * tries + [False, False]
    assert first.structured is False and refused in (first.structured_fallback or "")
    assert second.structured is False and second.structured_fallback == first.structured_fallback
    assert first.attempts == tries + 1 and second.attempts == 1
    assert provider.schema_refused is not None
    assert "refused the JSON schema" in caplog.text
    if kind == "openai":  # JSON mode is a response_format too: not sent to a server that refuses the field
        assert "response_format" not in srv.requests[2].json


def test_llama_cpp_python_dialect_is_found_and_kept() -> None:
    """llama-cpp-python's server takes ``{type: json_object, schema}`` and answers 422 to ``json_schema``."""
    with FakeOpenAIServer(default=Reply('{"verdict": "ok"}'), response_format_types={"text", "json_object"}) as srv:
        provider = _openai(srv)
        first = asyncio.run(provider.complete(_request()))
        second = asyncio.run(provider.complete(_request()))
        formats = [r.json.get("response_format") for r in srv.requests]
    assert [f["type"] for f in formats] == ["json_schema", "json_object", "json_object"]
    assert formats[1]["schema"] == SCHEMA.schema_
    assert first.structured and second.structured and first.attempts == 2 and second.attempts == 1
    assert provider.schema_support.dialect == "json_object_schema" and provider.schema_refused is None


def test_configured_dialect_is_sent_first() -> None:
    with FakeOpenAIServer(default=Reply('{"verdict": "ok"}')) as srv:
        cfg = RoleModelConfig(provider="openai", model="m", base_url=srv.base_url, schema_dialect="json_object_schema")
        resp = asyncio.run(build_provider(cfg).complete(_request()))
        assert srv.requests[0].json["response_format"] == {"type": "json_object", "schema": SCHEMA.schema_}
    assert resp.structured and resp.attempts == 1


def test_on_makes_a_refusal_an_error_and_off_never_sends_the_schema() -> None:
    with FakeOpenAIServer(default=Reply('{"verdict": "ok"}'), refuse_fields={"response_format"}) as srv:
        with pytest.raises(ProviderRequestError, match="response_format"):
            asyncio.run(_openai(srv, structured_output="on").complete(_request()))
        resp = asyncio.run(_openai(srv, structured_output="off").complete(_request()))
        assert "response_format" not in srv.requests[-1].json
    assert resp.structured is False and resp.structured_fallback == "structured output off"


def test_an_unrelated_rejection_is_not_taken_for_a_schema_refusal() -> None:
    with FakeOpenAIServer(default=Reply("{}"), api_key="right") as srv:
        provider = _openai(srv, api_key=None)
        with pytest.raises(ProviderRequestError):
            asyncio.run(provider.complete(_request()))
        assert len(srv.requests) == 1
    assert provider.schema_refused is None


def test_switch_comes_from_the_providers_file() -> None:
    with FakeOpenAIServer(default=Reply('{"verdict": "ok"}')) as srv:
        cfg = RoleModelConfig(provider="openai", model="m", base_url=srv.base_url, structured_output="off")
        provider = build_provider(cfg)
        asyncio.run(provider.complete(_request()))
        assert "response_format" not in srv.requests[0].json
    assert RoleModelConfig(provider="openai", model="m").structured_output == "auto"


def test_requests_without_a_schema_hash_as_before() -> None:
    """Recordings made before schemas existed hold requests without the field: their hashes must not move."""
    import hashlib

    request = _request(schema=None)
    old_dump = request.model_dump(mode="json")
    del old_dump["response_schema"]
    canonical = json.dumps({"role": "critic", "model": "m", "request": old_dump}, sort_keys=True,
                           ensure_ascii=False, separators=(",", ":"))
    assert request_hash("critic", "m", request) == hashlib.sha256(canonical.encode()).hexdigest()
    assert request_hash("critic", "m", _request()) != request_hash("critic", "m", request)


def test_known_output_ceilings() -> None:
    assert output_limit("gpt-4o-2024-08-06") == 16_384
    assert output_limit("openai/gpt-4.1-mini") == 32_768
    assert output_limit("claude-3-5-haiku-20241022") == 8192
    assert output_limit("smollm2-135m") is None


def test_a_structured_output_refusal_is_read_as_the_text() -> None:
    body = {"id": "x", "model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": None, "refusal": "I can't help with that."}}]}
    with FakeOpenAIServer(script=[Status(200, body=json.dumps(body).encode())]) as srv:
        resp = asyncio.run(_openai(srv).complete(_request()))
    assert resp.text == "I can't help with that."
