"""Parent selection: mutate everything early, then the best node plus parents voted by an ensemble.

Selectors only vote; the tally is plain arithmetic here so that no single selector (or model) decides and
ties are broken by the trusted score, never by a role's opinion.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from agents.team import NodeView


def eligible(nodes: Iterable[NodeView], max_children: int) -> list[NodeView]:
    """Scored nodes that may still get children, best first."""
    pool = [n for n in nodes if n.status == "succeeded" and n.score is not None and n.children < max_children]
    return sorted(pool, key=lambda n: (n.score, n.node_id))


def tally(ballots: Iterable[Iterable[int]], scores: dict[int, float], k: int) -> list[int]:
    """The ``k`` nodes with most votes; ties go to the better (lower) score, then the older node."""
    counts: Counter[int] = Counter()
    for ballot in ballots:
        counts.update(dict.fromkeys(ballot, 1))  # one vote per node per selector
    ranked = sorted((n for n in counts if n in scores), key=lambda n: (-counts[n], scores[n], n))
    return ranked[:k]
