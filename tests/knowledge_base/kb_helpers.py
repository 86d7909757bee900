"""Helpers for the method-memory tests (a module name of its own: conftest names collide across test dirs)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from knowledge_base.cards import Citation, MethodCard, render_card
from knowledge_base.embeddings import HashingEmbedder


class CountingEmbedder:
    """Hashing embedder that records every text it embeds (to check what an index sync re-embeds)."""

    def __init__(self, dim: int = 256, name_suffix: str = "") -> None:
        self._inner = HashingEmbedder(dim)
        self._suffix = name_suffix
        self.texts: list[str] = []

    @property
    def name(self) -> str:
        return self._inner.name + self._suffix

    @property
    def dim(self) -> int:
        return self._inner.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self._inner.embed(texts)

    def reset(self) -> None:
        self.texts.clear()


def make_card(card_id: str, *, kinds: list[str] | None = None, topic: str = "loss balancing", **overrides) -> MethodCard:
    """A valid curated card about ``topic``; every section mentions it so it is retrievable by it."""
    fields = dict(
        id=card_id,
        title=f"Method for {topic}",
        family="pinn-training",
        kinds=kinds or ["pinn"],
        failure_modes=[topic],
        tags=[topic, "test"],
        citation=Citation(authors="A. Author, B. Author", title=f"On {topic}", venue="Test Venue", year=2020),
        origin="curated",
        core_idea=f"The core idea about {topic}.",
        key_equations="L = a + b",
        pytorch_sketch="```python\nx = 1\n```",
        critical_parameters="- alpha: 0.1",
        known_pitfalls="- none known",
        when_to_use=f"Use it for {topic}.",
    )
    fields.update(overrides)
    return MethodCard(**fields)


def write_cards(directory: Path, cards: Sequence[MethodCard]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for card in cards:
        (directory / f"{card.id}.md").write_text(render_card(card))
    return directory
