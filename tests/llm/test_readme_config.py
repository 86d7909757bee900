"""The providers examples in agents/llm/README.md are valid configs and build a team."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agents.llm import LLMTeam
from agents.llm.parsing import find_fences
from agents.providers import ProvidersConfig

README = Path(__file__).resolve().parents[2] / "agents" / "llm" / "README.md"


def _yaml_blocks() -> list[str]:
    return [f.body for f in find_fences(README.read_text()) if f.lang == "yaml"]


@pytest.mark.parametrize("index", range(len(_yaml_blocks())))
def test_readme_yaml_builds_a_team(index: int) -> None:
    config = ProvidersConfig.model_validate(yaml.safe_load(_yaml_blocks()[index]))
    assert not any(m.api_key for models in config.roles.values() for m in models)  # never inline
    team = LLMTeam(config)  # every role resolves; nothing is contacted
    assert team.caller.models("selector")


def test_readme_has_both_examples() -> None:
    assert len(_yaml_blocks()) == 2
