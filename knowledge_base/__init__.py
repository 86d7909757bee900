"""Method memory: curated (and later discovered) SciML method cards, embedded and retrievable by situation.

The agents never browse the cards by hand; they describe the trouble a candidate is in and
:class:`~knowledge_base.retrieval.MethodMemory` returns the cards most likely to help::

    memory = MethodMemory(settings.data_dir)
    hits = memory.search(build_query(problem_analysis, parent_code, parent_analysis), kind="pinn", k=5)
    card = memory.get(hits[0].card_id)

Exports are resolved lazily so that importing :mod:`knowledge_base.cards` alone does not load FAISS.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "CardError": "cards",
    "Citation": "cards",
    "MethodCard": "cards",
    "load_cards": "cards",
    "parse_card": "cards",
    "render_card": "cards",
    "Hit": "retrieval",
    "MethodMemory": "retrieval",
    "build_query": "retrieval",
    "RankingConfig": "ranking",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'knowledge_base' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
