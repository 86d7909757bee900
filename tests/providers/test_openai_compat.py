"""OpenAI-compatible protocol against a real HTTP fake server."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from agents.providers import ChatMessage, ChatRequest, OpenAICompatProvider, Provider
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.script import Reply, no_usage
from tests.providers.conftest import fast_policy


def _request(**kw) -> ChatRequest:
    return ChatRequest(
        messages=[
            ChatMessage(role="system", content="You write PINNs."),
            ChatMessage(role="user", content="Propose a solver for the heat equation."),
        ],
        **kw,
    )


def test_happy_path_wire_format_and_response(sleeps) -> None:
    with FakeOpenAIServer(
        script=[
            Reply("def solve(task): ...", input_tokens=1200, output_tokens=300, model="gpt-4o-2024-08-06")
        ],
        api_key="sk-test-123",
    ) as srv:
        provider = OpenAICompatProvider(
            base_url=srv.base_url,
            model="gpt-4o",
            api_key=SecretStr("sk-test-123"),
            temperature=0.7,
            max_tokens=512,
            policy=fast_policy(),
            sleep=sleeps,
        )
        resp = asyncio.run(provider.complete(_request(stop=["```"], json_mode=True, temperature=0.2)))

    assert resp.text == "def solve(task): ..."
    assert resp.model == "gpt-4o-2024-08-06"
    assert resp.provider == "openai"
    assert (resp.input_tokens, resp.output_tokens, resp.tokens_estimated) == (1200, 300, False)
    # gpt-4o default price: $2.50 / $10 per million tokens
    assert resp.cost_usd == pytest.approx(1200 * 2.5e-6 + 300 * 10e-6)
    assert resp.price_known
    assert resp.finish_reason == "stop"
    assert resp.raw_id == "chatcmpl-fake-1"
    assert resp.attempts == 1
    assert resp.latency_s > 0
    assert sleeps.calls == []
    assert isinstance(provider, Provider)

    (req,) = srv.requests
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == "Bearer sk-test-123"
    assert req.headers["content-type"] == "application/json"
    assert req.json == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You write PINNs."},
            {"role": "user", "content": "Propose a solver for the heat equation."},
        ],
        "temperature": 0.2,  # the request's value wins over the provider default
        "max_tokens": 512,
        "stop": ["```"],
        "response_format": {"type": "json_object"},
    }


def test_missing_usage_is_estimated_and_flagged() -> None:
    with FakeOpenAIServer(script=[no_usage("x" * 400)]) as srv:
        provider = OpenAICompatProvider(base_url=srv.base_url, model="llama3:8b", policy=fast_policy())
        resp = asyncio.run(provider.complete(_request()))
    assert resp.tokens_estimated
    assert resp.output_tokens == 100  # 400 chars / 4
    assert resp.input_tokens > 0
    # a local model is not in the price table: free but flagged
    assert resp.cost_usd == 0.0 and not resp.price_known


def test_no_key_sends_no_authorization_and_defaults_are_omitted() -> None:
    with FakeOpenAIServer(script=["hi"]) as srv:
        provider = OpenAICompatProvider(
            base_url=srv.base_url + "/", model="qwen2.5-coder", policy=fast_policy()
        )
        asyncio.run(provider.complete(ChatRequest(messages=[ChatMessage(role="user", content="hello")])))
    (req,) = srv.requests
    assert "authorization" not in req.headers
    assert set(req.json) == {"model", "messages"}


def test_request_model_override_and_max_completion_tokens() -> None:
    with FakeOpenAIServer(script=["ok"]) as srv:
        provider = OpenAICompatProvider(
            base_url=srv.base_url,
            model="gpt-4o",
            max_tokens=100,
            max_tokens_field="max_completion_tokens",
            policy=fast_policy(),
        )
        resp = asyncio.run(provider.complete(_request(model="o4-mini")))
    assert srv.requests[0].json["model"] == "o4-mini"
    assert srv.requests[0].json["max_completion_tokens"] == 100
    assert "max_tokens" not in srv.requests[0].json
    assert resp.model == "o4-mini"


def test_full_endpoint_url_is_accepted_and_extra_body_merged() -> None:
    with FakeOpenAIServer(script=["ok"]) as srv:
        provider = OpenAICompatProvider(
            base_url=f"{srv.base_url}/chat/completions",
            model="m",
            extra_body={"top_p": 0.9},
            extra_headers={"HTTP-Referer": "https://example.org"},
            policy=fast_policy(),
        )
        asyncio.run(provider.complete(_request()))
    assert srv.requests[0].path == "/v1/chat/completions"
    assert srv.requests[0].json["top_p"] == 0.9
    assert srv.requests[0].headers["http-referer"] == "https://example.org"


def test_null_content_reads_as_empty_text() -> None:
    def null_content(req):
        return Reply("")

    with FakeOpenAIServer(script=[null_content]) as srv:
        provider = OpenAICompatProvider(base_url=srv.base_url, model="m", policy=fast_policy())
        resp = asyncio.run(provider.complete(_request()))
    assert resp.text == ""


def test_provider_survives_several_event_loops() -> None:
    """CLI commands call asyncio.run repeatedly with the same provider object."""
    with FakeOpenAIServer(script=["one", "two"]) as srv:
        provider = OpenAICompatProvider(base_url=srv.base_url, model="m", policy=fast_policy())
        first = asyncio.run(provider.complete(_request()))
        second = asyncio.run(provider.complete(_request()))
    assert (first.text, second.text) == ("one", "two")
