"""The curated cards are complete and valid, and bad cards fail with a message naming file and field."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from knowledge_base.cards import (
    KNOWN_FAMILIES,
    SECTIONS,
    CardError,
    load_card,
    load_cards,
    parse_card,
    render_card,
)

from kb_helpers import make_card, write_cards

# Topics the brief requires the memory to cover (one representative card id each).
REQUIRED_IDS = [
    "learning-rate-annealing", "ntk-loss-weighting", "self-adaptive-weights", "causal-training",
    "curriculum-regularisation", "seq2seq-time", "time-marching", "residual-adaptive-refinement",
    "residual-adaptive-distribution", "gradient-enhanced-pinn", "hard-constraint-ansatz", "distance-function-bc",
    "periodic-fourier-embedding", "random-fourier-features", "multiscale-fourier-features", "adaptive-activation",
    "locally-adaptive-activation", "modified-mlp", "residual-mlp", "piratenets", "separable-pinn", "xpinn",
    "cpinn", "fbpinn", "learned-interface-conditions", "mixture-of-experts-pinn", "lagrangian-pinn",
    "physics-informed-gaussians", "variational-pinn", "hp-vpinn", "graph-galerkin-pinn", "adam-then-lbfgs",
    "multi-stage-training", "float64-finish", "learning-rate-schedules", "soap-optimizer",
    "energy-natural-gradient", "deeponet", "physics-informed-deeponet", "pod-deeponet",
    "fourier-neural-operator", "factorized-fno", "tensorized-fno", "u-fno", "convolutional-neural-operator",
    "dmd-operator", "mixture-of-experts-operator", "geo-fno", "graph-neural-operator", "mlp-input-normalisation",
    "fourier-features-regression", "discontinuity-domain-splitting", "gaussian-process-regression",
    "deep-ensembles",
]


def test_at_least_55_curated_cards(curated_cards):
    assert len(curated_cards) >= 55
    assert len({c.id for c in curated_cards}) == len(curated_cards)


def test_required_topics_are_covered(curated_cards):
    ids = {c.id for c in curated_cards}
    assert not [r for r in REQUIRED_IDS if r not in ids]


def test_every_card_is_complete(curated_cards):
    for card in curated_cards:
        assert card.origin == "curated", card.id
        assert card.family in KNOWN_FAMILIES, card.id
        assert card.kinds and card.failure_modes and card.tags, card.id
        assert card.citation is not None and card.citation.year >= 1950, card.id
        assert len(card.citation.authors) > 5 and len(card.citation.title) > 10, card.id
        for field, heading in SECTIONS:
            assert len(getattr(card, field).strip()) >= 10, f"{card.id}: section {heading} too short"


def test_every_kind_is_served(curated_cards):
    for kind in ("pinn", "operator", "regression"):
        assert sum(kind in c.kinds for c in curated_cards) >= 10, kind


def test_sketches_are_valid_python(curated_cards):
    for card in curated_cards:
        blocks = re.findall(r"```python\n(.*?)```", card.pytorch_sketch, re.DOTALL)
        assert blocks, f"{card.id}: no python block in the PyTorch sketch"
        for block in blocks:
            ast.parse(block, filename=f"{card.id}.md")


def test_render_parse_round_trip(curated_cards):
    for card in curated_cards:
        again = parse_card(render_card(card), source=card.id)
        assert again == card
        assert again.content_hash() == card.content_hash()


def test_heading_inside_code_block_is_content():
    card = make_card("fenced", pytorch_sketch="```python\n## not a heading\nx = 1\n```")
    assert "## not a heading" in parse_card(render_card(card)).pytorch_sketch


def _text_without(card_text: str, heading: str) -> str:
    start = card_text.index(f"## {heading}")
    nxt = card_text.find("\n## ", start + 3)
    return card_text[:start] + (card_text[nxt + 1 :] if nxt >= 0 else "")


def test_missing_section_names_file_and_section(tmp_path: Path):
    text = _text_without(render_card(make_card("broken")), "Known pitfalls")
    (tmp_path / "broken.md").write_text(text)
    with pytest.raises(CardError, match=r"broken\.md.*Known pitfalls"):
        load_cards(tmp_path)


def test_invalid_field_names_file_and_field(tmp_path: Path):
    text = render_card(make_card("bad-year")).replace("year: 2020", "year: someday")
    (tmp_path / "bad-year.md").write_text(text)
    with pytest.raises(CardError, match=r"bad-year\.md: field 'citation\.year'"):
        load_cards(tmp_path)


def test_unknown_kind_is_rejected(tmp_path: Path):
    text = render_card(make_card("bad-kind")).replace("- pinn", "- chemistry")
    with pytest.raises(CardError, match=r"field 'kinds\.0'"):
        parse_card(text, source="bad-kind.md")


def test_curated_card_without_citation_is_rejected():
    text = render_card(make_card("no-cite", origin="discovered", citation=None)).replace(
        "origin: discovered", "origin: curated"
    )
    with pytest.raises(CardError, match="citation"):
        parse_card(text, source="no-cite.md")


def test_discovered_card_may_omit_citation():
    card = make_card("found-it", origin="discovered", citation=None, provenance={"campaign": 3, "node": "n12"})
    assert parse_card(render_card(card)) == card


def test_missing_front_matter_and_unknown_section():
    with pytest.raises(CardError, match="front matter"):
        parse_card("## Core idea\n\ntext", source="x.md")
    text = render_card(make_card("extra")).replace("## When to use", "## Something else")
    with pytest.raises(CardError, match="unknown section '## Something else'"):
        parse_card(text, source="extra.md")


def test_id_must_match_file_name_and_be_a_slug(tmp_path: Path):
    write_cards(tmp_path / "a", [make_card("one")])
    (tmp_path / "a" / "one.md").rename(tmp_path / "a" / "two.md")
    with pytest.raises(CardError, match=r"two\.md: field 'id'"):
        load_card(tmp_path / "a" / "two.md")
    with pytest.raises(CardError, match="not a lowercase-hyphenated slug"):
        parse_card(render_card(make_card("ok")).replace("id: ok", "id: Not A Slug"), source="s.md")
