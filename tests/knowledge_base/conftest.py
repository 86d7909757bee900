"""Fixtures for the method-memory tests."""

from __future__ import annotations

import pytest

from knowledge_base.cards import MethodCard, curated_cards_dir, load_cards

from kb_helpers import CountingEmbedder, make_card


@pytest.fixture(scope="session")
def curated_cards() -> list[MethodCard]:
    return load_cards(curated_cards_dir())


@pytest.fixture
def counting_embedder() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def small_cards() -> list[MethodCard]:
    return [
        make_card("alpha-method", topic="spectral bias high frequency", kinds=["pinn", "regression"]),
        make_card("beta-method", topic="causality violation long time horizons"),
        make_card("gamma-method", topic="operator learning on irregular meshes", kinds=["operator"]),
        make_card("delta-method", topic="noisy data small samples", kinds=["regression"]),
    ]
