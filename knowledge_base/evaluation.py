"""Retrieval quality on the labelled query set (``knowledge_base/eval/queries.yaml``).

Shared by the tests and ``benchmarks/kb_retrieval.py`` so both measure the same thing.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from typing import Literal

from pydantic import BaseModel, Field

from .cards import ProblemKind
from .retrieval import MethodMemory

QUERIES_PATH = Path(__file__).resolve().parent / "eval" / "queries.yaml"


class LabelledQuery(BaseModel):
    query: str = Field(min_length=10)
    kind: ProblemKind | None = None
    relevant: list[str] = Field(min_length=1, max_length=3)
    #: ``dev`` queries were available while retrieval was tuned; ``heldout`` ones were written afterwards
    #: and only measured, so their recall estimates how well the tuning generalises.
    split: Literal["dev", "heldout"] = "dev"


class QueryOutcome(BaseModel):
    query: str
    relevant: list[str]
    retrieved: list[str]
    recall: float


class EvalResult(BaseModel):
    k: int
    use_kind: bool
    n_queries: int
    recall: float  # mean over queries of |relevant in top-k| / |relevant|
    hit_rate: float  # fraction of queries with at least one relevant card in the top-k
    outcomes: list[QueryOutcome]

    def misses(self) -> list[QueryOutcome]:
        return [o for o in self.outcomes if o.recall < 1.0]


def load_queries(path: Path | str = QUERIES_PATH) -> list[LabelledQuery]:
    data = yaml.safe_load(Path(path).read_text())
    return [LabelledQuery(**item) for item in data["queries"]]


def evaluate(memory: MethodMemory, queries: list[LabelledQuery], k: int = 5, use_kind: bool = True) -> EvalResult:
    outcomes = []
    for item in queries:
        hits = memory.search(item.query, kind=item.kind if use_kind else None, k=k)
        retrieved = [h.card_id for h in hits]
        found = len(set(item.relevant) & set(retrieved))
        outcomes.append(
            QueryOutcome(query=item.query, relevant=item.relevant, retrieved=retrieved, recall=found / len(item.relevant))
        )
    n = len(outcomes)
    return EvalResult(
        k=k,
        use_kind=use_kind,
        n_queries=n,
        recall=sum(o.recall for o in outcomes) / n if n else 0.0,
        hit_rate=sum(o.recall > 0 for o in outcomes) / n if n else 0.0,
        outcomes=outcomes,
    )
