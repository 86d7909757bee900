"""Prompt templates: front matter, sections, strict rendering, versions."""

from __future__ import annotations

import pytest

from agents.llm.prompts import ROLES, PromptError, load_all, load_prompt, parse_template

GOOD = "---\nversion: 2\nrole: critic\ndescription: test\n---\n@@ system\nHi {{name}}.\n@@ other\nX {{ a }} {{b}}\n"


def test_every_role_has_a_valid_template_with_boundaries() -> None:
    prompts = load_all()
    assert set(prompts) == set(ROLES)
    for role, template in prompts.items():
        assert template.role == role and template.version_number >= 1 and template.description
        assert template.version.startswith(f"{role}@v{template.version_number}+")
    # Role boundaries from the paper are stated in the prompts themselves.
    assert "never write code" in prompts["critic"].sections["system"]
    assert "Do not change the method" in prompts["debugger"].sections["system"]
    assert "Do not plan" in prompts["result_analyst"].sections["system"]
    assert "implement the agreed proposal exactly" in prompts["engineer"].sections["system"]
    assert "Do not grade or score" in prompts["result_analyst"].sections["system"]


def test_render_is_strict_and_single_pass() -> None:
    template = parse_template(GOOD)
    assert template.render("system", {"name": "Ada"}) == "Hi Ada."
    # A value containing placeholder syntax is inserted verbatim, never expanded again.
    assert template.render("other", {"a": "{{b}}", "b": "2"}) == "X {{b}} 2"
    with pytest.raises(PromptError, match="needs values for: b"):
        template.render("other", {"a": 1})
    with pytest.raises(PromptError, match="no section"):
        template.render("missing", {})


def test_version_changes_with_content() -> None:
    a = parse_template(GOOD)
    b = parse_template(GOOD.replace("Hi", "Hello"))
    assert a.version_number == b.version_number == 2
    assert a.version != b.version


@pytest.mark.parametrize("text, fragment", [
    ("@@ system\nx", "front matter"),
    ("---\nversion: 1\nrole: x\n", "not closed"),
    ("---\nversion: 0\nrole: x\ndescription: d\n---\n@@ system\nx", "bad front matter"),
    ("---\nversion: 1\nrole: x\ndescription: d\n---\nhello\n@@ system\nx", "before the first"),
    ("---\nversion: 1\nrole: x\ndescription: d\n---\n@@ user\nx", "'system' section"),
    ("---\nversion: 1\nrole: x\ndescription: d\n---\n@@ system\nx\n@@ system\ny", "twice"),
])
def test_malformed_templates(text: str, fragment: str) -> None:
    with pytest.raises(PromptError, match=fragment):
        parse_template(text)


def test_override_directory(tmp_path) -> None:
    (tmp_path / "critic.md").write_text(GOOD)
    assert load_prompt("critic", tmp_path).version_number == 2
    with pytest.raises(PromptError, match="no prompt file"):
        load_prompt("engineer", tmp_path)
    (tmp_path / "engineer.md").write_text(GOOD)  # says role: critic
    with pytest.raises(PromptError, match="expected 'engineer'"):
        load_prompt("engineer", tmp_path)
