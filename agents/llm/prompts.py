"""Versioned role prompts: a markdown file per role with a front matter and named sections.

File layout (``agents/prompts/<role>.md``)::

    ---
    version: 1
    role: critic
    description: one line saying what the role is for
    ---
    @@ system
    text with {{placeholders}}
    @@ critique
    ...

A role needs several prompts (a proposer reasons, plans and proposes), so one file holds them all and
``@@ name`` lines split it. Placeholders are ``{{name}}``: braces rarely clash with the LaTeX and Python
that problem descriptions carry, unlike ``$``. Rendering is plain substitution, never evaluation, and a
value is inserted once (text that itself contains ``{{x}}`` is not expanded again), so a problem
description cannot smuggle prompt structure in. Every message a role sends is tagged with
:attr:`PromptTemplate.version`, the front-matter version plus a hash of the file, so a change to the
wording is visible in campaign records even if someone forgets to bump the number.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
ROLES = (
    "data_analyst", "root_engineer", "retriever", "proposer", "critic", "engineer", "debugger",
    "result_analyst", "selector",
)
_PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
_SECTION = re.compile(r"^@@[ \t]+([a-z_][a-z0-9_]*)[ \t]*$", re.MULTILINE)


class PromptError(Exception):
    """A template file is malformed, or rendering lacks a value it needs."""


class FrontMatter(BaseModel):
    version: int = Field(ge=1)
    role: str
    description: str = Field(min_length=1)


class PromptTemplate(BaseModel):
    role: str
    version_number: int
    description: str
    content_hash: str
    sections: dict[str, str]
    path: str | None = None

    @property
    def version(self) -> str:
        """What goes on every message: ``critic@v1+3f2a9c1b``."""
        return f"{self.role}@v{self.version_number}+{self.content_hash}"

    def placeholders(self, section: str) -> set[str]:
        return set(_PLACEHOLDER.findall(self._section(section)))

    def _section(self, name: str) -> str:
        try:
            return self.sections[name]
        except KeyError:
            known = ", ".join(sorted(self.sections))
            raise PromptError(f"prompt {self.role!r} has no section {name!r} (sections: {known})") from None

    def render(self, section: str, values: Mapping[str, object]) -> str:
        """Fills ``{{name}}`` placeholders; a missing value is an error, extra values are ignored."""
        text = self._section(section)
        missing = sorted(set(_PLACEHOLDER.findall(text)) - set(values))
        if missing:
            raise PromptError(f"prompt {self.role!r} section {section!r} needs values for: {', '.join(missing)}")
        return _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text).strip()


def parse_template(text: str, *, path: str | None = None) -> PromptTemplate:
    where = path or "<prompt>"
    if not text.startswith("---\n"):
        raise PromptError(f"{where}: a prompt file must start with a '---' front matter")
    end = text.find("\n---\n", 4)
    if end < 0:
        raise PromptError(f"{where}: front matter is not closed by a '---' line")
    try:
        meta = FrontMatter.model_validate(yaml.safe_load(text[4:end]) or {})
    except Exception as exc:  # noqa: BLE001 - yaml and pydantic errors alike become one clear message
        raise PromptError(f"{where}: bad front matter: {exc}") from None
    body = text[end + len("\n---\n"):]
    marks = list(_SECTION.finditer(body))
    if not marks:
        raise PromptError(f"{where}: no '@@ section' lines")
    if body[: marks[0].start()].strip():
        raise PromptError(f"{where}: text before the first '@@ section' line")
    sections: dict[str, str] = {}
    for i, mark in enumerate(marks):
        name = mark.group(1)
        if name in sections:
            raise PromptError(f"{where}: section {name!r} appears twice")
        stop = marks[i + 1].start() if i + 1 < len(marks) else len(body)
        sections[name] = body[mark.end():stop].strip("\n")
    if "system" not in sections:
        raise PromptError(f"{where}: a 'system' section is required")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return PromptTemplate(role=meta.role, version_number=meta.version, description=meta.description,
                          content_hash=digest, sections=sections, path=path)


@lru_cache(maxsize=64)
def _load_cached(path: str, mtime_ns: int) -> PromptTemplate:
    return parse_template(Path(path).read_text(encoding="utf-8"), path=path)


def load_prompt(role: str, directory: Path | str | None = None) -> PromptTemplate:
    """The template for ``role``; ``directory`` lets a deployment override the shipped prompts."""
    path = Path(directory) if directory is not None else PROMPTS_DIR
    file = path / f"{role}.md"
    if not file.is_file():
        raise PromptError(f"no prompt file for role {role!r} at {file}")
    template = _load_cached(str(file), file.stat().st_mtime_ns)
    if template.role != role:
        raise PromptError(f"{file}: front matter says role {template.role!r}, expected {role!r}")
    return template


def load_all(directory: Path | str | None = None) -> dict[str, PromptTemplate]:
    return {role: load_prompt(role, directory) for role in ROLES}
