"""Method cards: the unit of the method memory.

A card is a markdown file with a YAML front matter (identity, the problem kinds it serves, the failure modes it
addresses, a citation) and six fixed body sections. The format is deliberately plain markdown so that a person
can review a card in a pull request and an agent can write one for a method it discovered; the pydantic model
is the single place where "what a valid card is" is decided, so that a bad card fails loudly at load time
(naming the file and the field) instead of silently degrading retrieval.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

ProblemKind = Literal["pinn", "operator", "regression"]
PROBLEM_KINDS: tuple[str, ...] = ("pinn", "operator", "regression")

#: Families used by the curated cards. Discovered cards may introduce others (any slug is accepted).
KNOWN_FAMILIES: frozenset[str] = frozenset(
    {
        "pinn-training",
        "pinn-architecture",
        "pinn-formulation",
        "domain-decomposition",
        "optimisation",
        "operator-learning",
        "regression",
        "sampling",
        "uncertainty",
    }
)

#: Body sections in the order they are rendered: (model field, markdown heading).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("core_idea", "Core idea"),
    ("key_equations", "Key equations"),
    ("pytorch_sketch", "PyTorch sketch"),
    ("critical_parameters", "Critical parameters"),
    ("known_pitfalls", "Known pitfalls"),
    ("when_to_use", "When to use"),
)
_HEADING_TO_FIELD = {heading.lower(): name for name, heading in SECTIONS}

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*\n(.*)\Z", re.DOTALL)
_HEADING = re.compile(r"^##[ \t]+(.+?)[ \t]*$", re.MULTILINE)
# libyaml's loader is ~10x faster than the pure-Python one (it matters when loading thousands of cards).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_YAML_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
#: Deepest nesting of mappings/sequences in a card's front matter (cards nest 2 levels). Cards come from the
#: API too: a deeper one would crash libyaml's recursive composer (a segfault) or, through ``provenance``,
#: the recursive representer of :func:`render_card` and pydantic's serialiser.
MAX_FRONT_MATTER_DEPTH = 16


class CardError(ValueError):
    """A card that cannot be parsed or validated; the message names the source and the offending field."""


class Citation(BaseModel):
    """The paper a card's method comes from (the card paraphrases it; it never quotes it)."""

    model_config = ConfigDict(extra="forbid")

    authors: str = Field(min_length=3)
    title: str = Field(min_length=3)
    venue: str = Field(min_length=2)
    year: int = Field(ge=1950, le=2100)

    def short(self) -> str:
        """``"Wang et al. (2021)"``-style reference for prompts and dashboards."""
        first = self.authors.split(",")[0].split(" and ")[0].strip()
        surname = first.split()[-1] if first.split() else first
        many = "," in self.authors or " and " in self.authors
        return f"{surname}{' et al.' if many else ''} ({self.year})"


class MethodCard(BaseModel):
    """Front matter + body sections of one card."""

    model_config = ConfigDict(extra="forbid")

    id: str
    title: str = Field(min_length=3)
    family: str
    kinds: list[ProblemKind] = Field(min_length=1)
    failure_modes: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    citation: Citation | None = None
    origin: Literal["curated", "discovered"] = "curated"
    #: Free-form provenance for discovered cards (campaign, node id, score); empty for curated ones.
    provenance: dict[str, Any] = Field(default_factory=dict)

    core_idea: str = Field(min_length=1)
    key_equations: str = Field(min_length=1)
    pytorch_sketch: str = Field(min_length=1)
    critical_parameters: str = Field(min_length=1)
    known_pitfalls: str = Field(min_length=1)
    when_to_use: str = Field(min_length=1)

    @field_validator("id", "family")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(f"{value!r} is not a lowercase-hyphenated slug")
        return value

    @field_validator("kinds")
    @classmethod
    def _unique_kinds(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("provenance")
    @classmethod
    def _shallow(cls, value: dict[str, Any]) -> dict[str, Any]:
        if _nests_deeper(value, MAX_FRONT_MATTER_DEPTH - 1):  # the front matter is one level above
            raise ValueError(f"nested deeper than {MAX_FRONT_MATTER_DEPTH - 1} levels")
        return value

    @field_validator("failure_modes", "tags")
    @classmethod
    def _clean_terms(cls, value: list[str]) -> list[str]:
        cleaned = [str(v).strip() for v in value]
        if any(not v for v in cleaned):
            raise ValueError("entries must be non-empty strings")
        return cleaned

    @model_validator(mode="after")
    def _curated_cards_cite(self) -> "MethodCard":
        # A curated card is a claim about the literature; without its source it cannot be checked.
        if self.origin == "curated" and self.citation is None:
            raise ValueError("citation: a curated card must cite the paper its method comes from")
        return self

    def content_hash(self) -> str:
        """Hash of every field: any change to what is embedded or filtered on changes it. (Hashing the
        canonical JSON rather than the rendered markdown: pydantic's serialiser is ~50x faster than YAML's.)"""
        return hashlib.sha256(self.model_dump_json().encode("utf-8")).hexdigest()

    def sections(self) -> dict[str, str]:
        """Body sections by heading, in card order."""
        return {heading: getattr(self, name) for name, heading in SECTIONS}


def _format_validation_error(source: str, error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        location = ".".join(str(p) for p in item.get("loc", ())) or "<card>"
        parts.append(f"field '{location}': {item.get('msg', 'invalid')}")
    return f"{source}: " + "; ".join(parts)


def _nests_deeper(value: Any, limit: int) -> bool:
    """Whether dicts/lists/tuples in ``value`` nest deeper than ``limit`` (``{}`` is 1); no recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _check_front_matter(header_text: str, source: str) -> None:
    """Refuse, from the event stream (which libyaml produces without recursion), front matter nested
    deeper than :data:`MAX_FRONT_MATTER_DEPTH` or using aliases (which can nest, or repeat, without bound)."""
    depth = 0
    try:
        for event in yaml.parse(header_text, Loader=_YAML_LOADER):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_FRONT_MATTER_DEPTH:
                    raise CardError(f"{source}: front matter nests deeper than {MAX_FRONT_MATTER_DEPTH} levels")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                raise CardError(f"{source}: front matter uses a YAML alias (*{event.anchor}); write the value out")
    except yaml.YAMLError as exc:
        raise CardError(f"{source}: front matter is not valid YAML: {exc}") from exc


def _split_sections(body: str) -> list[tuple[str, str]]:
    """``## Heading`` blocks of a markdown body; headings inside fenced code blocks are content."""
    blocks: list[tuple[str, list[str]]] = []
    in_fence = False
    for line in body.split("\n"):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            blocks.append((match.group(1).strip(), []))
        elif blocks:
            blocks[-1][1].append(line)
    return [(name, "\n".join(lines).strip()) for name, lines in blocks]


def parse_card(text: str, source: str = "<text>") -> MethodCard:
    """Parse one card from markdown text; ``source`` names it in error messages."""
    match = _FRONT_MATTER.match(text.replace("\r\n", "\n"))
    if not match:
        raise CardError(f"{source}: missing YAML front matter (the file must start with a '---' block)")
    header_text, body = match.groups()
    _check_front_matter(header_text, source)
    try:
        header = yaml.load(header_text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise CardError(f"{source}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(header, dict):
        raise CardError(f"{source}: front matter must be a mapping")
    for field in _HEADING_TO_FIELD.values():
        if field in header:
            raise CardError(f"{source}: field '{field}' belongs in the body as a '## ' section")

    sections: dict[str, str] = {}
    for name, content in _split_sections(body):
        field = _HEADING_TO_FIELD.get(name.lower())
        if field is None:
            known = ", ".join(repr(h) for _, h in SECTIONS)
            raise CardError(f"{source}: unknown section '## {name}' (expected one of {known})")
        if field in sections:
            raise CardError(f"{source}: section '## {name}' appears twice")
        sections[field] = content
    missing = [heading for name, heading in SECTIONS if not sections.get(name)]
    if missing:
        raise CardError(f"{source}: missing or empty section(s): " + ", ".join(f"'## {m}'" for m in missing))

    try:
        return MethodCard(**header, **sections)
    except ValidationError as exc:
        raise CardError(_format_validation_error(source, exc)) from exc
    except TypeError as exc:  # e.g. a non-string key in the front matter
        raise CardError(f"{source}: {exc}") from exc


def render_card(card: MethodCard) -> str:
    """Markdown for a card; ``parse_card(render_card(c)) == c`` (used to persist discovered cards)."""
    header: dict[str, Any] = {
        "id": card.id,
        "title": card.title,
        "family": card.family,
        "kinds": list(card.kinds),
        "failure_modes": list(card.failure_modes),
        "tags": list(card.tags),
    }
    if card.citation is not None:
        header["citation"] = card.citation.model_dump()
    header["origin"] = card.origin
    if card.provenance:
        header["provenance"] = card.provenance
    front = yaml.dump(header, Dumper=_YAML_DUMPER, sort_keys=False, allow_unicode=True, width=100).strip()
    body = "\n\n".join(f"## {heading}\n\n{getattr(card, name).strip()}" for name, heading in SECTIONS)
    return f"---\n{front}\n---\n\n{body}\n"


def load_card(path: Path) -> MethodCard:
    """Load and validate one card file; its ``id`` must equal the file's stem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CardError(f"{path}: cannot read: {exc}") from exc
    card = parse_card(text, source=str(path))
    if card.id != path.stem:
        raise CardError(f"{path}: field 'id': {card.id!r} does not match the file name {path.stem!r}")
    return card


def load_cards(directory: Path | str) -> list[MethodCard]:
    """All ``*.md`` cards in ``directory`` (sorted by id); duplicate ids are an error."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CardError(f"{directory}: not a directory of cards")
    cards: list[MethodCard] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.md")):
        card = load_card(path)
        if card.id in seen:
            raise CardError(f"{path}: field 'id': {card.id!r} already defined in {seen[card.id]}")
        seen[card.id] = path
        cards.append(card)
    return sorted(cards, key=lambda c: c.id)


def curated_cards_dir() -> Path:
    """The cards shipped with the package."""
    return Path(__file__).resolve().parent / "cards"
