"""Role configuration, key resolution at call time, and proof that keys never leak."""

from __future__ import annotations

import asyncio
import logging

import pytest
from pydantic import SecretStr, ValidationError

from agents.providers import (
    AnthropicProvider,
    ChatMessage,
    ChatRequest,
    OpenAICompatProvider,
    ProviderConfigError,
    ProviderRequestError,
    ProvidersConfig,
    RoleModelConfig,
    build_provider,
    build_role_providers,
)
from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.script import Status, rate_limited

SECRET = "sk-live-VERY-SECRET-0123456789abcdef"
REQ = ChatRequest(messages=[ChatMessage(role="user", content="q")])


def _fast(**kw) -> dict:
    return dict(max_attempts=3, connect_timeout_s=1.0, read_timeout_s=2.0, **kw)


async def _no_sleep(_: float) -> None:
    return None


def test_env_key_is_read_at_call_time(monkeypatch) -> None:
    monkeypatch.delenv("TEST_LLM_KEY", raising=False)
    with FakeOpenAIServer(script=["a", "b"], api_key="k1") as srv:
        cfg = RoleModelConfig(
            provider="openai", base_url=srv.base_url, model="m", api_key_env="TEST_LLM_KEY", **_fast()
        )
        provider = build_provider(cfg)
        with pytest.raises(ProviderConfigError) as info:
            asyncio.run(provider.complete(REQ))
        assert "TEST_LLM_KEY" in str(info.value) and len(srv.requests) == 0

        monkeypatch.setenv("TEST_LLM_KEY", "k1")
        assert asyncio.run(provider.complete(REQ)).text == "a"
        monkeypatch.setenv("TEST_LLM_KEY", "k2")  # rotated key is picked up without rebuilding
        with pytest.raises(ProviderRequestError):
            asyncio.run(provider.complete(REQ))
    assert [r.headers["authorization"] for r in srv.requests] == ["Bearer k1", "Bearer k2"]


def test_key_file(tmp_path) -> None:
    key_file = tmp_path / "anthropic.key"
    key_file.write_text("file-key-789\n")
    with FakeAnthropicServer(script=["hi"], api_key="file-key-789") as srv:
        cfg = RoleModelConfig(
            provider="anthropic", base_url=srv.base_url, model="claude-haiku-4-5", api_key_file=key_file
        )
        provider = build_provider(cfg)
        assert isinstance(provider, AnthropicProvider)
        assert asyncio.run(provider.complete(REQ)).text == "hi"
    missing = RoleModelConfig(provider="anthropic", model="x", api_key_file=tmp_path / "nope.key")
    with pytest.raises(ProviderConfigError, match="nope.key"):
        missing.resolve_api_key()


def test_at_most_one_key_source(tmp_path) -> None:
    with pytest.raises(ValidationError):
        RoleModelConfig(provider="openai", model="m", api_key_env="A", api_key_file=tmp_path / "k")
    with pytest.raises(ValidationError):
        RoleModelConfig(provider="openai", model="m", bogus_field=1)


def test_providers_config_yaml_roles_ensembles_and_prices(tmp_path) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text(
        """
roles:
  proposer:
    - {provider: openai, model: gpt-4.1, api_key_env: OPENAI_API_KEY, temperature: 0.8}
    - {provider: anthropic, model: claude-sonnet-4-5, api_key_env: ANTHROPIC_API_KEY}
  default: {provider: openai, base_url: "http://localhost:11434/v1", model: "qwen2.5-coder:7b"}
prices:
  "qwen2.5-coder:7b": {input: 0, output: 0}
"""
    )
    config = ProvidersConfig.from_yaml(path)
    assert [c.model for c in config.for_role("proposer")] == ["gpt-4.1", "claude-sonnet-4-5"]
    assert config.for_role("critic")[0].model == "qwen2.5-coder:7b"  # falls back to "default"
    assert config.for_role("proposer")[0].effective_base_url == "https://api.openai.com/v1"
    assert config.for_role("proposer")[1].effective_base_url == "https://api.anthropic.com"
    est = config.price_table().cost("qwen2.5-coder:7b", 10, 10)
    assert est.price_known and est.cost_usd == 0.0

    providers = build_role_providers(config, "proposer")
    assert [type(p) for p in providers] == [OpenAICompatProvider, AnthropicProvider]
    assert providers[0].temperature == 0.8
    assert providers[1].url == "https://api.anthropic.com/v1/messages"

    with pytest.raises(KeyError, match="critic"):
        ProvidersConfig(roles={"proposer": config.roles["proposer"]}).for_role("critic")


def test_roles_sharing_an_endpoint_share_a_limiter() -> None:
    config = ProvidersConfig(
        roles={
            "proposer": {
                "provider": "openai",
                "base_url": "http://h:1/v1",
                "model": "a",
                "max_concurrency": 2,
            },
            "critic": {"provider": "openai", "base_url": "http://h:1/v1", "model": "b", "max_concurrency": 2},
        }
    )
    from agents.providers import ConcurrencyRegistry

    registry = ConcurrencyRegistry()
    (p,) = build_role_providers(config, "proposer", registry=registry)
    (c,) = build_role_providers(config, "critic", registry=registry)
    assert p.http.limiter is c.http.limiter


def test_secrets_never_leak_into_reprs_dumps_logs_or_errors(tmp_path, monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG)  # everything, httpx/httpcore debug output included
    monkeypatch.setenv("LEAK_TEST_KEY", SECRET)
    key_file = tmp_path / "key"
    key_file.write_text(SECRET)
    texts: list[str] = []

    with FakeOpenAIServer(
        script=[rate_limited("0"), Status(500), "ok", Status(401, "bad key")], api_key=SECRET
    ) as srv:
        configs = [
            RoleModelConfig(
                provider="openai",
                base_url=srv.base_url,
                model="gpt-4o",
                api_key_env="LEAK_TEST_KEY",
                **_fast(),
            ),
            RoleModelConfig(
                provider="openai", base_url=srv.base_url, model="gpt-4o", api_key_file=key_file, **_fast()
            ),
            RoleModelConfig(
                provider="openai", base_url=srv.base_url, model="gpt-4o", api_key=SecretStr(SECRET), **_fast()
            ),
        ]
        whole = ProvidersConfig(roles={"proposer": configs})
        for cfg in configs:
            texts += [
                repr(cfg),
                str(cfg),
                repr(cfg.model_dump()),
                cfg.model_dump_json(),
                repr(cfg.resolve_api_key()),
            ]
        texts += [repr(whole), whole.model_dump_json(), str(whole.model_dump())]

        provider = build_provider(configs[2], sleep=_no_sleep)
        texts += [repr(provider), str(provider), repr(vars(provider)), repr(vars(provider.http))]
        assert asyncio.run(provider.complete(REQ)).text == "ok"  # after a 429 and a 500: retries were logged
        with pytest.raises(ProviderRequestError) as info:
            asyncio.run(provider.complete(REQ))
        texts += [str(info.value), repr(info.value)]

    assert srv.requests[0].headers["authorization"] == f"Bearer {SECRET}"  # the key was really used
    assert any("retry" in r.getMessage() for r in caplog.records)  # and the logs were really captured
    texts.append(caplog.text)
    texts += [str(r.args) for r in caplog.records]
    for text in texts:
        assert SECRET not in text
        assert SECRET[-12:] not in text
