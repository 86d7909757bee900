"""The FAISS card index: persistence, incremental rebuild, embedder safety, kind filter, exact ranking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from knowledge_base.index import CardIndex, card_views

from kb_helpers import CountingEmbedder, make_card


def test_build_persists_index_vectors_and_manifest(tmp_path: Path, small_cards, counting_embedder):
    index = CardIndex(tmp_path / "idx", counting_embedder)
    report = index.sync(small_cards)
    assert report.full_rebuild and sorted(report.embedded) == sorted(c.id for c in small_cards)
    for name in ("index.faiss", "vectors.npy", "manifest.json"):
        assert (tmp_path / "idx" / name).is_file(), name
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["embedder"] == counting_embedder.name and manifest["dim"] == counting_embedder.dim
    assert {k: v["content_hash"] for k, v in manifest["cards"].items()} == {
        c.id: c.content_hash() for c in small_cards
    }
    vectors = np.load(tmp_path / "idx" / "vectors.npy")
    assert vectors.shape == (manifest["rows"], counting_embedder.dim)
    assert manifest["rows"] == sum(len(card_views(c)) for c in small_cards)


def test_reopening_reuses_everything(tmp_path: Path, small_cards, counting_embedder):
    CardIndex(tmp_path, counting_embedder).sync(small_cards)
    counting_embedder.reset()
    again = CardIndex(tmp_path, counting_embedder)
    report = again.sync(small_cards)
    assert report.embedded == [] and not report.full_rebuild
    assert counting_embedder.texts == []
    assert again.search_vector(counting_embedder.embed(["spectral bias"])[0], k=1)[0][0] == "alpha-method"


def test_only_changed_cards_are_re_embedded(tmp_path: Path, small_cards, counting_embedder):
    index = CardIndex(tmp_path, counting_embedder)
    index.sync(small_cards)
    before = {c.id: index.card_vectors(c.id).copy() for c in small_cards}

    changed = small_cards[1].model_copy(update={"when_to_use": "Use it for stiff chemistry with many species."})
    added = make_card("epsilon-method", topic="domain decomposition interfaces")
    cards = [small_cards[0], changed, small_cards[2], added]  # delta-method removed
    counting_embedder.reset()
    report = CardIndex(tmp_path, counting_embedder).sync(cards)

    assert sorted(report.embedded) == ["beta-method", "epsilon-method"]
    assert sorted(report.reused) == ["alpha-method", "gamma-method"]
    assert report.removed == ["delta-method"]
    assert len(counting_embedder.texts) == len(card_views(changed)) + len(card_views(added))

    reopened = CardIndex(tmp_path, counting_embedder)
    reopened.sync(cards)
    for card_id in ("alpha-method", "gamma-method"):
        np.testing.assert_array_equal(reopened.card_vectors(card_id), before[card_id])
    assert not np.array_equal(reopened.card_vectors("beta-method"), before["beta-method"])
    assert "delta-method" not in reopened.card_ids


def test_other_embedder_triggers_full_rebuild(tmp_path: Path, small_cards):
    first = CountingEmbedder(dim=256)
    CardIndex(tmp_path, first).sync(small_cards)
    other = CountingEmbedder(dim=128, name_suffix="-other")
    report = CardIndex(tmp_path, other).sync(small_cards)
    assert report.full_rebuild and "embedder" in report.reason
    assert len(other.texts) == sum(len(card_views(c)) for c in small_cards)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["embedder"] == other.name and manifest["dim"] == 128


def test_corrupt_vectors_are_repaired(tmp_path: Path, small_cards, counting_embedder):
    CardIndex(tmp_path, counting_embedder).sync(small_cards)
    np.save(tmp_path / "vectors.npy", np.zeros((3, 7), dtype=np.float32))
    counting_embedder.reset()
    report = CardIndex(tmp_path, counting_embedder).sync(small_cards)
    assert report.full_rebuild and "shape" in report.reason
    assert len(report.embedded) == len(small_cards)


def test_kind_filter(tmp_path: Path, small_cards, counting_embedder):
    index = CardIndex(tmp_path, counting_embedder)
    index.sync(small_cards)
    query = counting_embedder.embed(["operator learning on irregular meshes"])[0]
    assert index.search_vector(query, k=1)[0][0] == "gamma-method"
    regression = index.search_vector(query, k=10, kind="regression")
    assert {card_id for card_id, _ in regression} == {"alpha-method", "delta-method"}
    assert [card_id for card_id, _ in index.search_vector(query, k=10, kind="operator")] == ["gamma-method"]


def test_search_matches_brute_force_max_over_views(tmp_path: Path, counting_embedder):
    rng = np.random.default_rng(0)
    words = "shock spectral causal operator noisy interface precision boundary kernel sampling".split()
    cards = [
        make_card(f"card-{i:03d}", topic=" ".join(rng.choice(words, size=3)), kinds=[["pinn", "regression", "operator"][i % 3]])
        for i in range(60)
    ]
    index = CardIndex(tmp_path, counting_embedder)
    index.sync(cards)
    for text in ("shock interface", "noisy kernel sampling", "causal precision"):
        query = counting_embedder.embed([text])[0]
        for kind in (None, "pinn"):
            allowed = [c for c in cards if kind is None or kind in c.kinds]
            brute = sorted(
                ((float(np.max(index.card_vectors(c.id) @ query)), c.id) for c in allowed), key=lambda t: (-t[0], t[1])
            )[:7]
            got = index.search_vector(query, k=7, kind=kind)
            assert [round(s, 5) for s, _ in brute] == [round(s, 5) for _, s in got]
            np.testing.assert_allclose(index.dense_scores([c for c, _ in got[:3]], query), [s for _, s in got[:3]], rtol=1e-5)
