"""Anthropic Messages protocol against a real HTTP fake server."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from agents.providers import AnthropicProvider, ChatMessage, ChatRequest, ProviderRequestError
from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.script import Reply, Status, no_usage
from tests.providers.conftest import fast_policy

KEY = "sk-ant-test-456"


def _provider(srv: FakeAnthropicServer, sleeps=None, **kw) -> AnthropicProvider:
    return AnthropicProvider(
        base_url=srv.base_url,
        model="claude-sonnet-4-5-20250929",
        api_key=SecretStr(KEY),
        policy=fast_policy(),
        sleep=sleeps,
        **kw,
    )


def test_happy_path_wire_format_and_response() -> None:
    request = ChatRequest(
        messages=[
            ChatMessage(role="system", content="You are a SciML researcher."),
            ChatMessage(role="user", content="Context: Burgers equation."),
            ChatMessage(role="user", content="Propose a neural operator."),
            ChatMessage(role="assistant", content="An FNO with 4 layers."),
            ChatMessage(role="user", content="Write the code."),
        ],
        temperature=0.3,
        stop=["</code>"],
    )
    with FakeAnthropicServer(
        script=[Reply("import torch", input_tokens=2000, output_tokens=500, finish_reason="max_tokens")],
        api_key=KEY,
    ) as srv:
        resp = asyncio.run(_provider(srv, max_tokens=1024).complete(request))

    assert resp.text == "import torch"
    assert resp.model == "claude-sonnet-4-5-20250929"
    assert (resp.input_tokens, resp.output_tokens) == (2000, 500)
    assert resp.cost_usd == pytest.approx(2000 * 3e-6 + 500 * 15e-6)  # claude-sonnet-4-5 list price
    assert resp.finish_reason == "length"  # normalised from "max_tokens"
    assert resp.raw_id == "msg_fake_1"

    (req,) = srv.requests
    assert req.path == "/v1/messages"
    assert req.headers["x-api-key"] == KEY
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in req.headers
    assert req.json == {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 1024,
        "system": "You are a SciML researcher.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Context: Burgers equation."},
                    {"type": "text", "text": "Propose a neural operator."},
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "An FNO with 4 layers."}]},
            {"role": "user", "content": [{"type": "text", "text": "Write the code."}]},
        ],
        "temperature": 0.3,
        "stop_sequences": ["</code>"],
    }


def test_defaults_max_tokens_and_json_mode_instruction() -> None:
    with FakeAnthropicServer(script=['{"a": 1}']) as srv:
        provider = AnthropicProvider(
            base_url=srv.base_url + "/v1", model="claude-haiku-4-5", policy=fast_policy()
        )
        resp = asyncio.run(
            provider.complete(ChatRequest(messages=[ChatMessage(role="user", content="q")], json_mode=True))
        )
    body = srv.requests[0].json
    assert srv.requests[0].path == "/v1/messages"
    assert body["max_tokens"] == 8192  # mandatory in this protocol; 4096 cut whole modules short
    assert "JSON object" in body["system"]
    assert "x-api-key" not in srv.requests[0].headers
    assert resp.text == '{"a": 1}'
    assert resp.finish_reason == "stop"


def test_missing_usage_is_estimated() -> None:
    with FakeAnthropicServer(script=[no_usage("y" * 80)]) as srv:
        resp = asyncio.run(
            _provider(srv).complete(ChatRequest(messages=[ChatMessage(role="user", content="q")]))
        )
    assert resp.tokens_estimated and resp.output_tokens == 20


def test_overloaded_529_is_retried(sleeps) -> None:
    with FakeAnthropicServer(script=[Status(529, "Overloaded"), "fine"]) as srv:
        resp = asyncio.run(
            _provider(srv, sleeps).complete(ChatRequest(messages=[ChatMessage(role="user", content="q")]))
        )
    assert resp.text == "fine" and resp.attempts == 2
    assert len(sleeps.calls) == 1 and len(srv.requests) == 2


def test_wrong_key_is_a_request_error_with_server_message(sleeps) -> None:
    with FakeAnthropicServer(script=["never sent"], api_key="the-right-key") as srv:
        with pytest.raises(ProviderRequestError) as info:
            asyncio.run(
                _provider(srv, sleeps).complete(ChatRequest(messages=[ChatMessage(role="user", content="q")]))
            )
    err = info.value
    assert err.status == 401
    assert err.server_message == "invalid api key"
    assert "anthropic" in str(err) and "claude-sonnet-4-5" in str(err) and "401" in str(err)
    assert len(srv.requests) == 1 and sleeps.calls == []
