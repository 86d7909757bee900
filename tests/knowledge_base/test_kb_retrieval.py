"""MethodMemory facade: search with kind filter, discovered cards, incremental updates, query building."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base.cards import CardError, render_card
from knowledge_base.embeddings import HashingEmbedder
from knowledge_base.evaluation import evaluate, load_queries
from knowledge_base.ranking import RankingConfig
from knowledge_base.retrieval import MethodMemory, build_query, code_techniques

from kb_helpers import CountingEmbedder, make_card

BASELINES = Path(__file__).resolve().parents[2] / "baselines"


@pytest.fixture
def memory(tmp_path: Path) -> MethodMemory:
    return MethodMemory(tmp_path / "data", embedder=HashingEmbedder())


def test_search_returns_ranked_hits_of_the_requested_kind(memory):
    hits = memory.search("operator learning on irregular point clouds and unstructured meshes", kind="operator", k=4)
    assert 1 <= len(hits) <= 4
    assert all("operator" in h.kinds for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].card_id in {"geo-fno", "graph-neural-operator"}
    assert hits[0].citation and hits[0].title
    assert all(abs(h.score - (h.dense + 0.5 * h.lexical)) < 1e-6 for h in hits)


def test_kind_filter_excludes_other_kinds(memory):
    query = "Fourier neural operator with spectral convolutions on a regular grid"
    unfiltered = [h.card_id for h in memory.search(query, k=5)]
    assert "fourier-neural-operator" in unfiltered
    regression = memory.search(query, kind="regression", k=10)
    assert regression and all("regression" in h.kinds for h in regression)
    assert "fourier-neural-operator" not in {h.card_id for h in regression}


def test_bad_inputs(memory):
    with pytest.raises(ValueError, match="problem kind"):
        memory.search("anything", kind="chemistry")
    assert memory.search("   ") == []
    assert memory.search("causal training", k=0) == []


def test_get_and_list(memory, curated_cards):
    assert memory.get("causal-training").citation.year == 2024
    with pytest.raises(KeyError):
        memory.get("no-such-card")
    assert len(memory.list()) == len(curated_cards)
    assert all("regression" in c.kinds for c in memory.list("regression"))


def test_add_discovered_card_is_persisted_indexed_incrementally(tmp_path: Path):
    embedder = CountingEmbedder(dim=512)
    data = tmp_path / "data"
    memory = MethodMemory(data, embedder=embedder)
    memory.search("warm up the index", k=1)
    embedder.reset()

    card = make_card(
        "zebra-stripe-sampling", topic="zebra stripe collocation for striped solutions",
        origin="discovered", citation=None, provenance={"campaign": "c1", "node": "n7"},
    )
    memory.add_card(card)
    assert (data / "method_memory" / "cards" / "zebra-stripe-sampling.md").is_file()
    assert {t for t in embedder.texts} and all("zebra" in t.lower() for t in embedder.texts)  # only the new card
    assert memory.search("zebra stripe collocation", k=1)[0].card_id == "zebra-stripe-sampling"

    embedder.reset()
    reopened = MethodMemory(data, embedder=embedder)
    hits = reopened.search("zebra stripe collocation", k=1)
    assert hits[0].card_id == "zebra-stripe-sampling" and hits[0].origin == "discovered"
    assert embedder.texts == ["zebra stripe collocation"]  # nothing re-embedded, only the query


def test_add_card_from_path_and_replace(tmp_path: Path):
    memory = MethodMemory(tmp_path / "data", embedder=HashingEmbedder())
    source = tmp_path / "incoming" / "quokka-method.md"
    source.parent.mkdir()
    source.write_text(render_card(make_card("quokka-method", topic="quokka regularisation", origin="discovered", citation=None)))
    memory.add_card(source)
    assert memory.get("quokka-method").title == "Method for quokka regularisation"
    memory.add_card(make_card("quokka-method", topic="quokka damping", origin="discovered", citation=None))
    assert memory.get("quokka-method").title == "Method for quokka damping"
    assert memory.search("quokka damping", k=1)[0].card_id == "quokka-method"


def test_curated_ids_cannot_be_overwritten(memory):
    with pytest.raises(CardError, match="curated"):
        memory.add_card(make_card("causal-training", origin="discovered", citation=None))


def test_rebuild_picks_up_files_dropped_into_the_discovered_dir(tmp_path: Path):
    embedder = CountingEmbedder()
    memory = MethodMemory(tmp_path, embedder=embedder)
    memory.rebuild()
    folder = tmp_path / "method_memory" / "cards"
    folder.mkdir(parents=True)
    (folder / "walrus-method.md").write_text(render_card(make_card("walrus-method", origin="discovered", citation=None)))
    embedder.reset()
    report = memory.rebuild()
    assert report.embedded == ["walrus-method"]
    (folder / "walrus-method.md").unlink()
    assert memory.rebuild().removed == ["walrus-method"]


def test_lexical_weight_matters_for_rare_terms(tmp_path: Path):
    """A named equation is a strong clue the embedding alone underrates; BM25 brings the matching card up."""
    dense_only = MethodMemory(tmp_path / "a", embedder=HashingEmbedder(), ranking=RankingConfig(lexical_weight=0.0))
    hybrid = MethodMemory(tmp_path / "b", embedder=HashingEmbedder())
    query = "Kuramoto-Sivashinsky chaos"
    assert dense_only.search(query, k=1)[0].card_id != "causal-training"
    top = hybrid.search(query, k=1)[0]
    assert top.card_id == "causal-training" and top.lexical == 1.0


def test_code_techniques_reads_code_not_docstrings():
    source = '''"""This baseline uses no Fourier features and no L-BFGS."""
import torch
# we might try causal weighting later
net = torch.nn.Sequential(torch.nn.Linear(2, 50), torch.nn.Tanh())
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
'''
    found = code_techniques(source)
    assert "Adam optimiser" in found and "tanh activation" in found
    assert "L-BFGS optimiser" not in found and "Fourier feature embedding" not in found
    assert "causal time weighting" not in found


def test_build_query_from_the_pinn_baseline():
    code = (BASELINES / "mlp_pinn.py").read_text() if (BASELINES / "mlp_pinn.py").exists() else (
        "import torch\nopt = torch.optim.Adam([])\nact = torch.nn.Tanh()\n"
    )
    query = build_query(
        problem_analysis="1D convection u_t + 30 u_x = 0, periodic in x, t in [0, 1]. " + "Long description. " * 200,
        parent_code=code,
        parent_analysis="Relative L2 error 0.9: the prediction decays to zero after t = 0.3.",
    )
    assert query.startswith("Observed: Relative L2 error 0.9")
    assert "Adam optimiser" in query and "tanh activation" in query
    assert "def " not in query and "import" not in query  # no code, only technique names
    assert len(query) < 1800


def test_shortlist_returns_card_payloads(memory):
    items = memory.shortlist(
        problem_analysis="2D Darcy flow, permeability field to pressure field on a 64x64 grid.",
        parent_code="import torch\nv = torch.fft.rfft(u)\nopt = torch.optim.Adam([])",
        parent_analysis="Test error 8%, outputs are smeared near sharp permeability contrasts.",
        kind="operator",
        k=3,
    )
    assert len(items) == 3 and all("operator" in item["kinds"] for item in items)
    first = items[0]
    assert set(first) >= {"id", "title", "family", "score", "body", "citation", "origin"}
    assert first["body"].startswith("## Core idea") and "## When to use" in first["body"]
    assert "---" not in first["body"].splitlines()[0]


def test_fallback_recall_on_labelled_queries(memory):
    """With the keyword-like fallback the memory is still usable (the real model is tested in the slow test)."""
    result = evaluate(memory, load_queries(), k=5)
    assert result.n_queries >= 45
    assert result.hit_rate >= 0.95
    assert result.recall >= 0.8


def test_text_pasted_from_a_problem_description_cannot_break_a_card(tmp_path: Path):
    """Regression: a discovered card quoted a description's '## Data' heading and every later load failed."""
    from app.campaigns.discovered import _quoted

    description = "# Problem\n\n## Data\n\nSamples.\n\n```python\nx = task.train['x']\n"  # cut mid-fence
    memory = MethodMemory(tmp_path / "data", embedder=HashingEmbedder())
    raw = make_card("raw-paste", origin="discovered", key_equations=description)
    with pytest.raises(CardError, match="unknown section"):
        memory.add_card(raw)
    assert not (memory.discovered_dir / "raw-paste.md").exists()  # nothing unreadable was written
    quoted = make_card("quoted-paste", origin="discovered", key_equations=_quoted(description))
    memory.add_card(quoted)
    reloaded = MethodMemory(tmp_path / "data", embedder=HashingEmbedder())
    assert "Data" in reloaded.get("quoted-paste").key_equations


def test_one_unreadable_discovered_card_does_not_take_the_memory_down(tmp_path: Path, caplog):
    memory = MethodMemory(tmp_path / "data", embedder=HashingEmbedder())
    memory.discovered_dir.mkdir(parents=True, exist_ok=True)
    (memory.discovered_dir / "broken.md").write_text("---\nid: broken\n---\n## Nonsense\ntext\n")
    fresh = MethodMemory(tmp_path / "data", embedder=HashingEmbedder())
    assert fresh.search("causal training in time", k=3)
    assert "broken" not in {c.id for c in fresh.list()}
    assert any("broken.md" in r.getMessage() for r in caplog.records)
