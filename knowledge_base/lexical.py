"""BM25 keyword scores over card fields, the lexical half of hybrid retrieval.

The small sentence model is weak on technical vocabulary ("Allen-Cahn", "Darcy", "L-BFGS", "shock"): two
situations that share such a word are often closer than their embeddings say. BM25 restores that signal.
It is rebuilt in memory from the cards on every sync (tokenising even 10,000 cards takes about a second),
so it never has to be kept consistent with a file on disk.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np
from scipy import sparse

from .cards import PROBLEM_KINDS, MethodCard
from .text import terms

#: Field weights: a term in the title, tags or failure modes says more about a card than one in its prose.
FIELD_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("title", 3.0),
    ("tags", 2.0),
    ("failure_modes", 2.0),
    ("when_to_use", 1.0),
    ("core_idea", 1.0),
    ("family", 1.0),
)


def _field_text(card: MethodCard, field: str) -> str:
    value = getattr(card, field)
    if isinstance(value, list):
        return " ".join(value)
    return str(value).replace("-", " ") if field == "family" else str(value)


def card_term_counts(card: MethodCard) -> Counter[str]:
    """Field-weighted term frequencies of one card (the BM25 "document")."""
    counts: Counter[str] = Counter()
    for field, weight in FIELD_WEIGHTS:
        for term in terms(_field_text(card, field)):
            counts[term] += weight
    return counts


class LexicalIndex:
    """BM25 (k1, b) with the per-document term weights precomputed into a sparse matrix.

    Scoring a query is then a sum of a few matrix columns: microseconds per card.
    """

    def __init__(self, cards: Sequence[MethodCard], k1: float = 1.2, b: float = 0.75) -> None:
        self.card_ids = [card.id for card in cards]
        self._kind_masks = {
            kind: np.array([kind in card.kinds for card in cards], dtype=bool) for kind in PROBLEM_KINDS
        }
        self._position = {card_id: i for i, card_id in enumerate(self.card_ids)}
        docs = [card_term_counts(card) for card in cards]
        vocabulary: dict[str, int] = {}
        rows, cols, freqs = [], [], []
        for row, counts in enumerate(docs):
            for term, freq in counts.items():
                rows.append(row)
                cols.append(vocabulary.setdefault(term, len(vocabulary)))
                freqs.append(freq)
        self._vocabulary = vocabulary
        n_docs = len(docs)
        if not n_docs or not vocabulary:
            self._weights = sparse.csc_matrix((n_docs, max(1, len(vocabulary))))
            return
        rows_a, cols_a, freqs_a = np.asarray(rows), np.asarray(cols), np.asarray(freqs, dtype=np.float64)
        lengths = np.array([sum(counts.values()) for counts in docs], dtype=np.float64)
        average = float(lengths.mean()) or 1.0
        df = np.bincount(cols_a, minlength=len(vocabulary)).astype(np.float64)
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        norm = k1 * (1.0 - b + b * lengths[rows_a] / average)
        values = idf[cols_a] * freqs_a * (k1 + 1.0) / (freqs_a + norm)
        self._weights = sparse.csc_matrix((values, (rows_a, cols_a)), shape=(n_docs, len(vocabulary)))

    def __len__(self) -> int:
        return len(self.card_ids)

    def position(self, card_id: str) -> int:
        return self._position[card_id]

    def kind_mask(self, kind: str | None) -> np.ndarray:
        """Boolean mask (``card_ids`` order) of the cards serving ``kind`` (all cards for ``None``)."""
        if kind is None:
            return np.ones(len(self.card_ids), dtype=bool)
        return self._kind_masks.get(kind, np.zeros(len(self.card_ids), dtype=bool))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every card (in ``card_ids`` order) for the query's distinct terms."""
        columns = sorted({self._vocabulary[t] for t in terms(query) if t in self._vocabulary})
        if not columns or not len(self.card_ids):
            return np.zeros(len(self.card_ids))
        return np.asarray(self._weights[:, columns].sum(axis=1)).ravel()

