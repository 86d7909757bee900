"""The providers files shown in the top-level README are valid configs that build a team."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agents.llm import LLMTeam
from agents.llm.parsing import find_fences
from agents.providers import ProvidersConfig

README = Path(__file__).resolve().parents[2] / "README.md"


def _yaml_blocks() -> list[str]:
    """The README's providers files: YAML blocks with a top-level ``roles:`` (problem specs are tested elsewhere)."""
    blocks = [f.body for f in find_fences(README.read_text()) if f.lang == "yaml"]
    return [b for b in blocks if isinstance(yaml.safe_load(b), dict) and "roles" in yaml.safe_load(b)]


def test_the_readme_covers_hosted_and_local_servers() -> None:
    text = "\n".join(_yaml_blocks())
    for server in ("OpenAI", "Anthropic", "OpenRouter", "llama.cpp", "vLLM", "Ollama"):
        assert f"# {server}" in text, server


@pytest.mark.parametrize("index", range(len(_yaml_blocks())))
def test_readme_providers_file_builds_a_team(index: int) -> None:
    config = ProvidersConfig.model_validate(yaml.safe_load(_yaml_blocks()[index]))
    models = [m for role in config.roles.values() for m in role]
    assert not any(m.api_key for m in models)  # keys are named, never inline
    local = [m for m in models if m.base_url and m.base_url.startswith("http://127.0.0.1")]
    assert all(m.api_key_env is None and m.read_timeout_s >= 600 for m in local)
    assert LLMTeam(config).caller.models("selector")  # every role resolves; nothing is contacted
