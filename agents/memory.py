"""Method memory as the engine sees it: a shortlist of method cards for a parent.

The engine asks the memory for a shortlist and lets the team's retriever role pick 0 or 1 card (a team
without a retriever takes the best-ranked one). Three memories exist for the ablation of the paper:
the knowledge base (``full``), nothing (``none``) and a random card of the right kind (``random``).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, Protocol

from agents.team import ProposalContext


class MethodMemory(Protocol):
    name: str

    async def shortlist(self, ctx: ProposalContext) -> list[dict[str, Any]]:
        """Cards as dicts (``id``, ``title``, ``family``, ``failure_modes``, ``body``, ``score``), best first."""
        ...


class NoMemory:
    name = "none"

    async def shortlist(self, ctx: ProposalContext) -> list[dict[str, Any]]:
        return []


class KnowledgeBaseMemory:
    """FAISS + BM25 retrieval over the curated and discovered cards (``knowledge_base.MethodMemory``)."""

    name = "full"

    def __init__(self, kb: Any, k: int = 5) -> None:
        self.kb = kb
        self.k = k

    async def shortlist(self, ctx: ProposalContext) -> list[dict[str, Any]]:
        return await asyncio.to_thread(
            self.kb.shortlist, ctx.data.report, ctx.parent_code, ctx.parent.analysis or "",
            ctx.problem.get("kind"), self.k,
        )


class RandomMemory:
    """One card drawn at random among those serving the problem's kind: the ablation's control."""

    name = "random"

    def __init__(self, kb: Any) -> None:
        self.kb = kb

    async def shortlist(self, ctx: ProposalContext) -> list[dict[str, Any]]:
        from knowledge_base.retrieval import card_payload

        cards = await asyncio.to_thread(self.kb.list, ctx.problem.get("kind"))
        if not cards:
            return []
        card = random.Random(ctx.seed).choice(sorted(cards, key=lambda c: c.id))
        return [card_payload(card, None)]


def open_knowledge_base(data_dir: Any) -> Any:
    from knowledge_base.retrieval import MethodMemory as KnowledgeBase

    return KnowledgeBase(data_dir)


def build_memory(mode: str, kb: Any) -> MethodMemory:
    if mode == "none":
        return NoMemory()
    return RandomMemory(kb) if mode == "random" else KnowledgeBaseMemory(kb)
