"""Which model(s) each agent role uses, and where their API keys live.

Config objects hold only *where* a key is (an environment variable name or a secrets-file path), never
the key itself, so configs can be logged, dumped to YAML and stored with a campaign safely. The key is
read at call time, wrapped in ``SecretStr`` until the moment it goes into a request header.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from agents.providers.anthropic import DEFAULT_ANTHROPIC_BASE_URL
from agents.providers.base import ProviderConfigError
from agents.providers.openai_compat import DEFAULT_OPENAI_BASE_URL
from agents.providers.pricing import ModelPrice, PriceTable
from agents.providers.retry import RetryPolicy

ProviderKind = Literal["openai", "anthropic"]

_DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": DEFAULT_OPENAI_BASE_URL,
    "anthropic": DEFAULT_ANTHROPIC_BASE_URL,
}


class RoleModelConfig(BaseModel):
    """One model serving a role. ``provider`` names the wire protocol: ``openai`` covers every
    OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio, OpenRouter) via ``base_url``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: ProviderKind
    model: str = Field(min_length=1)
    base_url: str | None = Field(default=None, description="Defaults to the vendor's public endpoint.")
    api_key_env: str | None = Field(default=None, description="Name of the env variable holding the key.")
    api_key_file: Path | None = Field(default=None, description="File whose content is the key.")
    api_key: SecretStr | None = Field(
        default=None,
        exclude=True,
        repr=False,
        description="Inline key for programmatic use only; never serialised. Prefer api_key_env/file.",
    )
    label: str | None = Field(default=None, description="Display name in logs/ledgers; defaults to provider.")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, gt=0)
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    max_concurrency: int = Field(default=4, ge=1, le=256)
    max_attempts: int = Field(default=4, ge=1, le=20)
    connect_timeout_s: float = Field(default=10.0, gt=0.0)
    read_timeout_s: float = Field(default=120.0, gt=0.0)
    price: ModelPrice | None = Field(default=None, description="Overrides the price table for this model.")
    extra_headers: dict[str, str] = Field(default_factory=dict)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    structured_output: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Send JSON roles' schemas (OpenAI response_format json_schema, Anthropic forced tool): "
        "'auto' falls back to prompt and repair for the campaign once the server refuses, 'on' makes a "
        "refusal an error, 'off' never sends them.",
    )
    schema_dialect: Literal["json_schema", "json_object_schema"] = Field(
        default="json_schema",
        description="How an OpenAI-protocol server takes a schema: 'json_schema' (OpenAI, vLLM, llama-server, "
        "Ollama) or 'json_object_schema' (llama-cpp-python's server); 'auto' also tries the other one.",
    )
    max_output_tokens: int | None = Field(
        default=None,
        gt=0,
        description="The model's own output-token ceiling; caps the team's per-role defaults (16k for code).",
    )

    @model_validator(mode="after")
    def _one_key_source(self) -> RoleModelConfig:
        sources = [s for s in (self.api_key_env, self.api_key_file, self.api_key) if s is not None]
        if len(sources) > 1:
            raise ValueError("set at most one of api_key_env, api_key_file, api_key")
        return self

    @property
    def effective_base_url(self) -> str:
        return (self.base_url or _DEFAULT_BASE_URLS[self.provider]).rstrip("/")

    @property
    def display_name(self) -> str:
        return self.label or self.provider

    @property
    def endpoint_key(self) -> str:
        """Requests to the same server share one concurrency limit, whichever role sends them."""
        return f"{self.provider}|{self.effective_base_url}"

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            connect_timeout_s=self.connect_timeout_s,
            read_timeout_s=self.read_timeout_s,
        )

    def resolve_api_key(self) -> SecretStr | None:
        """Reads the key now (not at config load), so rotation needs no restart. ``None``: no auth."""
        if self.api_key is not None:
            return self.api_key
        if self.api_key_env is not None:
            value = os.environ.get(self.api_key_env, "").strip()
            if not value:
                raise ProviderConfigError(
                    f"environment variable {self.api_key_env} (api_key_env) is not set or empty",
                    provider=self.display_name,
                    model=self.model,
                )
            return SecretStr(value)
        if self.api_key_file is not None:
            path = self.api_key_file.expanduser()
            try:
                value = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ProviderConfigError(
                    f"cannot read api_key_file {path}: {exc.strerror or type(exc).__name__}",
                    provider=self.display_name,
                    model=self.model,
                ) from None
            if not value:
                raise ProviderConfigError(
                    f"api_key_file {path} is empty", provider=self.display_name, model=self.model
                )
            return SecretStr(value)
        return None


class ProvidersConfig(BaseModel):
    """Role name -> one model, or several for an ensemble. Role ``default`` serves roles not listed."""

    model_config = ConfigDict(extra="forbid")

    roles: dict[str, list[RoleModelConfig]] = Field(default_factory=dict)
    prices: dict[str, ModelPrice] = Field(default_factory=dict, description="Price-table overrides.")
    prices_file: Path | None = Field(default=None, description="YAML of price overrides.")

    @field_validator("roles", mode="before")
    @classmethod
    def _single_to_list(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: (v if isinstance(v, list) else [v]) for k, v in value.items()}
        return value

    @field_validator("roles")
    @classmethod
    def _non_empty(cls, value: dict[str, list[RoleModelConfig]]) -> dict[str, list[RoleModelConfig]]:
        for role, models in value.items():
            if not models:
                raise ValueError(f"role {role!r} lists no models")
        return value

    @field_validator("prices", mode="before")
    @classmethod
    def _short_price_keys(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {
                k: (
                    {
                        "input_per_mtok": v.get("input_per_mtok", v.get("input")),
                        "output_per_mtok": v.get("output_per_mtok", v.get("output")),
                    }
                    if isinstance(v, Mapping)
                    else v
                )
                for k, v in value.items()
            }
        return value

    def for_role(self, role: str) -> list[RoleModelConfig]:
        if role in self.roles:
            return self.roles[role]
        if "default" in self.roles:
            return self.roles["default"]
        known = ", ".join(sorted(self.roles)) or "none"
        raise KeyError(f"no models configured for role {role!r} (configured roles: {known})")

    def price_table(self) -> PriceTable:
        table = PriceTable.from_yaml(self.prices_file) if self.prices_file else PriceTable()
        return table.with_overrides(self.prices) if self.prices else table

    @classmethod
    def from_yaml(cls, path: str | Path) -> ProvidersConfig:
        data = yaml.safe_load(Path(path).read_text()) or {}
        return cls.model_validate(data)
