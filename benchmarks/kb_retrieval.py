"""Method memory benchmark: retrieval quality on the labelled queries and query latency at 10,000 cards.

    python benchmarks/kb_retrieval.py            # full run (10,000 cards, 500 timed queries)
    python benchmarks/kb_retrieval.py --quick    # 2,000 cards, 100 timed queries
    python benchmarks/kb_retrieval.py --embedder hashing   # the fallback embedder

Quality: recall@5 = mean over queries of |relevant cards in the top 5| / |relevant cards|, with the kind
filter the agents use (and without it, for reference), on the "dev" queries (available while the ranking
was tuned), the "heldout" ones (written afterwards, never tuned on) and all together; hit@5 = share of
queries with at least one relevant card in the top 5.

Latency: the curated cards plus synthetic cards up to ``--cards``. Synthetic cards are real markdown files
(loaded, validated, hashed, BM25-indexed like any card); their view vectors are the vectors of the curated
card they were derived from plus small noise, so that building the corpus does not take an hour of model
time on a CPU. Queries go through the full ``MethodMemory.search`` path: the real query embedding, FAISS,
BM25, pseudo-relevance feedback. The last line printed is one JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from knowledge_base.cards import MethodCard, curated_cards_dir, load_cards, render_card  # noqa: E402
from knowledge_base.embeddings import Embedder, load_embedder  # noqa: E402
from knowledge_base.evaluation import LabelledQuery, evaluate, load_queries  # noqa: E402
from knowledge_base.index import card_views  # noqa: E402
from knowledge_base.ranking import hybrid_search  # noqa: E402
from knowledge_base.retrieval import MethodMemory  # noqa: E402


class PrecomputedEmbedder:
    """Answers known texts from a table (synthetic card views), everything else with the real embedder."""

    def __init__(self, real: Embedder, table: dict[str, np.ndarray]) -> None:
        self._real, self._table = real, table

    @property
    def name(self) -> str:
        return self._real.name

    @property
    def dim(self) -> int:
        return self._real.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        unknown = [t for t in texts if t not in self._table]
        fresh = dict(zip(unknown, self._real.embed(unknown))) if unknown else {}
        return np.stack([self._table[t] if t in self._table else fresh[t] for t in texts]).astype(np.float32)


def synthetic_corpus(
    curated: list[MethodCard], memory: MethodMemory, n_total: int, directory: Path, seed: int = 0
) -> dict[str, np.ndarray]:
    """Write curated + synthetic cards to ``directory``; return the view-text -> vector table for them."""
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    table: dict[str, np.ndarray] = {}
    for card in curated:
        (directory / f"{card.id}.md").write_text(render_card(card))
    kinds_choices = [["pinn"], ["operator"], ["regression"], ["pinn", "regression"], ["operator", "regression"]]
    index = memory._index  # the curated vectors computed by the real embedder
    assert index is not None
    for i in range(max(0, n_total - len(curated))):
        base, other = curated[i % len(curated)], pick.choice(curated)
        card = base.model_copy(
            update={
                "id": f"synthetic-{i:05d}",
                "title": f"{base.title} (variant {i})",
                "kinds": pick.choice(kinds_choices),
                "when_to_use": f"{base.when_to_use}\n\nAlso: {other.when_to_use[:200]}",
            }
        )
        (directory / f"{card.id}.md").write_text(render_card(card))
        base_vectors = index.card_vectors(base.id)
        for text, vector in zip(card_views(card), base_vectors):
            noisy = vector + rng.normal(0.0, 0.03, size=vector.shape).astype(np.float32)
            table[text] = noisy / np.linalg.norm(noisy)
    return table


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def time_queries(memory: MethodMemory, queries: list[LabelledQuery], n: int) -> tuple[list[float], list[float]]:
    """Full ``search`` latency (ms) with and without the kind filter, interleaved so that both see the same
    background load (the benchmark machine is shared)."""
    for q in queries[:5]:  # warm-up: first calls pay for lazy initialisation
        memory.search(q.query, kind=q.kind, k=5)
    filtered, unfiltered = [], []
    for i in range(n):
        q = queries[i % len(queries)]
        for kind, out in ((q.kind, filtered), (None, unfiltered)):
            start = time.perf_counter()
            memory.search(q.query, kind=kind, k=5)
            out.append((time.perf_counter() - start) * 1000)
    return filtered, unfiltered


def time_ranking_only(memory: MethodMemory, queries: list[LabelledQuery], n: int) -> list[float]:
    """Latency of the index side alone (query vectors computed beforehand)."""
    vectors = memory.embedder.embed([q.query for q in queries])
    assert memory._index is not None and memory._lexical is not None
    out = []
    for i in range(n):
        j = i % len(queries)
        start = time.perf_counter()
        hybrid_search(memory._index, memory._lexical, vectors[j], queries[j].query, k=5, kind=queries[j].kind)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 cards and 100 timed queries")
    parser.add_argument("--cards", type=int, default=None, help="corpus size for the latency test (default 10000)")
    parser.add_argument("--timed-queries", type=int, default=None, help="number of timed searches (default 500)")
    parser.add_argument("--embedder", default="auto", choices=["auto", "minilm", "minilm-fp32", "hashing"])
    args = parser.parse_args(argv)
    n_cards = args.cards or (2_000 if args.quick else 10_000)
    n_timed = args.timed_queries or (100 if args.quick else 500)

    results: dict = {"benchmark": "kb_retrieval", "quick": args.quick}
    start = time.perf_counter()
    embedder = load_embedder(args.embedder)
    results["embedder"] = embedder.name
    results["embedder_load_s"] = round(time.perf_counter() - start, 2)

    curated = load_cards(curated_cards_dir())
    queries = load_queries()
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        tmp_path = Path(tmp)
        memory = MethodMemory(tmp_path / "curated", embedder=embedder)
        start = time.perf_counter()
        memory.rebuild()
        results["curated_cards"] = len(curated)
        results["curated_build_s"] = round(time.perf_counter() - start, 2)

        quality = {}
        for split in ("dev", "heldout", "all"):
            subset = [q for q in queries if split == "all" or q.split == split]
            filtered = evaluate(memory, subset, k=5, use_kind=True)
            unfiltered = evaluate(memory, subset, k=5, use_kind=False)
            quality[split] = {
                "queries": filtered.n_queries,
                "recall@5": round(filtered.recall, 3),
                "hit@5": round(filtered.hit_rate, 3),
                "recall@5_no_kind_filter": round(unfiltered.recall, 3),
            }
        results["quality"] = quality

        table = synthetic_corpus(curated, memory, n_cards, tmp_path / "corpus")
        big = MethodMemory(tmp_path / "big", curated_dir=tmp_path / "corpus", embedder=PrecomputedEmbedder(embedder, table))
        start = time.perf_counter()
        big.rebuild()
        results["corpus_cards"] = len(big.list())
        results["corpus_build_s"] = round(time.perf_counter() - start, 2)
        start = time.perf_counter()
        reopened = MethodMemory(tmp_path / "big", curated_dir=tmp_path / "corpus", embedder=PrecomputedEmbedder(embedder, table))
        report = reopened.rebuild()
        results["corpus_reopen_s"] = round(time.perf_counter() - start, 2)
        results["corpus_reopen_reembedded"] = len(report.embedded)

        full, nofilter = time_queries(big, queries, n_timed)
        ranking = time_ranking_only(big, queries, n_timed)
    results["load_average_1min"] = round(os.getloadavg()[0], 2)
    results["cpu_count"] = os.cpu_count()
    results["latency_ms"] = {
        "search_p50": round(statistics.median(full), 2),
        "search_p99": round(percentile(full, 99), 2),
        "search_no_filter_p50": round(statistics.median(nofilter), 2),
        "search_no_filter_p99": round(percentile(nofilter, 99), 2),
        "index_only_p50": round(statistics.median(ranking), 2),
        "index_only_p99": round(percentile(ranking, 99), 2),
        "timed_queries": n_timed,
    }

    print(f"\nMethod memory benchmark  (embedder: {results['embedder']}, loaded in {results['embedder_load_s']} s)")
    print(f"{'split':<9}{'queries':>8}{'recall@5':>10}{'hit@5':>8}{'recall@5 (no kind filter)':>28}")
    for split, row in quality.items():
        print(
            f"{split:<9}{row['queries']:>8}{row['recall@5']:>10.3f}{row['hit@5']:>8.3f}"
            f"{row['recall@5_no_kind_filter']:>28.3f}"
        )
    lat = results["latency_ms"]
    print(
        f"\n{results['corpus_cards']} cards: build {results['corpus_build_s']} s, reopen {results['corpus_reopen_s']} s "
        f"({results['corpus_reopen_reembedded']} re-embedded); curated-only cold build {results['curated_build_s']} s"
    )
    print(f"{'latency (ms)':<34}{'p50':>8}{'p99':>8}   (load average {results['load_average_1min']} on {results['cpu_count']} CPUs)")
    print(f"{'search, kind filter':<34}{lat['search_p50']:>8.2f}{lat['search_p99']:>8.2f}")
    print(f"{'search, no filter':<34}{lat['search_no_filter_p50']:>8.2f}{lat['search_no_filter_p99']:>8.2f}")
    print(f"{'index side only (no embedding)':<34}{lat['index_only_p50']:>8.2f}{lat['index_only_p99']:>8.2f}")
    print(json.dumps(results, sort_keys=True))
    return results


if __name__ == "__main__":
    main()
