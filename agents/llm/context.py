"""Turning the engine's objects into the text blocks the prompt templates insert.

Everything is clipped to a bounded size: a campaign's prompts must not grow with the length of a
description, a traceback or a code file without limit, and clipping keeps the start and the end, where
the useful parts of tracebacks and logs are.
"""

from __future__ import annotations

import json
from typing import Any

from agents.team import NodeView, ProposalContext

NONE = "none"


def clip(text: str | None, limit: int) -> str:
    text = (text or "").strip()
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit} characters left out ...]\n{text[-tail:]}"


def format_problem(problem: dict[str, Any], limit: int = 6000) -> str:
    lines = [f"Name: {problem.get('name', '?')}", f"Kind: {problem.get('kind', '?')}",
             f"Metric (lower is better): {problem.get('metric', 'rel_l2')}"]
    budget = problem.get("budget")
    if isinstance(budget, dict) and budget:
        lines.append("Budget per evaluation: " + ", ".join(f"{k}={v}" for k, v in budget.items()))
    if problem.get("pde"):
        lines.append("PDE spec (problem.yaml; task.pde is compiled from it): "
                     + clip(json.dumps(problem["pde"], default=str), 3000))
    lines += ["", clip(problem.get("description", ""), limit)]
    return "\n".join(lines)


def format_json(value: Any, limit: int = 6000) -> str:
    return clip(json.dumps(value, indent=1, default=str), limit)


def format_card(card: dict[str, Any] | None, limit: int = 4000) -> str:
    if not card:
        return NONE
    title = card.get("title", card.get("id", "card"))
    head = f"{title} (id {card.get('id', '?')}, family {card.get('family', '?')})"
    return f"{head}\n\n{clip(str(card.get('body', '')), limit)}"


def _score(value: float | None) -> str:
    return "none" if value is None else f"{value:.6g}"


def format_node(view: NodeView | None, analysis_limit: int = 2000, *, label: str = "node") -> str:
    if view is None:
        return NONE
    lines = [f"{label} {view.node_id}: {view.title or 'untitled'}",
             f"status: {view.status}; score: {_score(view.score)}; parent's score: {_score(view.parent_score)}; "
             f"depth {view.depth}; children {view.children}"]
    if view.summary and view.summary != view.title:
        lines.append(f"summary: {clip(view.summary, 400)}")
    if view.failure:
        lines.append(f"failure: {clip(view.failure, 600)}")
    if view.analysis:
        lines.append(f"result analysis: {clip(view.analysis, analysis_limit)}")
    return "\n".join(lines)


def relation(ctx: ProposalContext, other: NodeView) -> str:
    """How ``other`` relates to the child about to be proposed (whose parent is ``ctx.parent``)."""
    if other.parent_id == ctx.parent.node_id:
        return "sibling (another child of the same parent)"
    if ctx.parent.parent_id is not None and other.parent_id == ctx.parent.parent_id:
        return "uncle (a sibling of the parent)"
    return "relative (a sibling of the grandparent)"


def format_relatives(ctx: ProposalContext, limit_each: int = 800, max_items: int = 8) -> str:
    if not ctx.relatives:
        return NONE
    ranked = sorted(ctx.relatives, key=lambda r: (relation(ctx, r), r.score is None, r.score or 0.0))
    blocks = [f"- {relation(ctx, r)}\n  " + format_node(r, limit_each).replace("\n", "\n  ")
              for r in ranked[:max_items]]
    if len(ranked) > max_items:
        blocks.append(f"- ... and {len(ranked) - max_items} more")
    return "\n".join(blocks)


def format_debate(turns: list[tuple[str, str, int, str]], limit_each: int = 4000) -> str:
    """``(role, kind, round, text)`` turns as a transcript."""
    if not turns:
        return "(nothing yet: this is the first message)"
    return "\n\n".join(f"## Round {rnd}, {role} ({kind})\n\n{clip(text, limit_each)}"
                       for role, kind, rnd, text in turns)


def format_candidates(candidates: list[NodeView], limit_each: int = 600) -> str:
    return "\n\n".join(format_node(c, limit_each, label="node") for c in candidates) or NONE


def format_cards(cards: list[dict[str, Any]], limit_each: int = 1200) -> str:
    return "\n\n".join(f"### card id: {c.get('id')}\n" + format_card(c, limit_each) for c in cards) or NONE
