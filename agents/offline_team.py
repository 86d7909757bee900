"""The offline team: the engine's ``AgentTeam`` protocol on top of the heuristic roles in ``agents/offline``.

It needs no LLM: it reasons over a typed design space, so every candidate it writes carries its design,
which is how the proposer knows what its parent did and the debugger knows what to change.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.offline.analysis import DataAnalysis
from agents.offline.analysis import analyze_data as offline_analyze_data
from agents.offline.debate import debate as offline_debate
from agents.offline.roles import analyze_result as offline_analyze_result
from agents.offline.roles import debug as offline_debug
from agents.offline.roles import root_design
from agents.offline.design import Design
from agents.offline.models import ProposalContext as OfflineContext
from agents.offline.models import PastChild, SiblingSummary
from agents.offline.render import render_candidate
from agents.team import (
    CandidateCode, DataReport, DebateOutcome, Failure, NodeView, Proposal, ProposalContext, TeamMessage,
)

MODEL = "offline-heuristics"


def _design(data: dict[str, Any] | None) -> Design | None:
    """The design stored with a node (bookkeeping keys such as ``_changes`` are not part of it)."""
    if not data:
        return None
    try:
        return Design.model_validate({k: v for k, v in data.items() if not k.startswith("_")})
    except ValueError:
        return None


def _bookkeeping(view: NodeView) -> tuple[list[str], dict[str, float]]:
    """The move ids and knob values a child of this team recorded with its design."""
    data = view.design or {}
    changes = [str(c) for c in data.get("_changes") or [] if isinstance(c, str)]
    knobs = {str(k): float(v) for k, v in ((data.get("_tuning") or {}).get("knobs") or {}).items()
             if isinstance(v, (int, float))}
    return changes, knobs


def _summary(view: NodeView) -> SiblingSummary:
    design = _design(view.design)
    status = "succeeded" if view.status == "succeeded" else view.status
    changes, knobs = _bookkeeping(view)
    return SiblingSummary(summary=view.summary or (design.describe() if design else "unknown"),
                          score=view.score, status=status, key=design.key() if design else None, design=design,
                          changes=changes, knobs=knobs, failure=view.failure, node_id=view.node_id)


def _past(view: NodeView) -> PastChild:
    changes, knobs = _bookkeeping(view)
    return PastChild(changes=changes, knobs=knobs, score=view.score, parent_score=view.parent_score,
                     status=view.status)


def _evaluated_keys(ctx: ProposalContext) -> list[str]:
    """Keys of the designs trained anywhere in the tree before this iteration: only earlier iterations, so a
    resume or replay sees the same set whatever order this iteration's children finished in."""
    keys = []
    for view in ctx.history:
        if view.status in ("succeeded", "failed") and (view.parent_id is None or view.iteration < ctx.iteration):
            design = _design(view.design)
            if design is not None:
                keys.append(design.key())
    return sorted(set(keys))


class OfflineTeam:
    name = "offline"

    async def analyze_data(self, problem: dict[str, Any], train: dict[str, Any],
                           query_inputs: dict[str, Any]) -> DataReport:
        result = offline_analyze_data(problem, train, query_inputs)
        return DataReport(facts=result.facts, report=result.report)

    async def write_root(self, problem: dict[str, Any], data: DataReport) -> CandidateCode:
        design = root_design(problem["kind"], DataAnalysis(facts=data.facts, report=data.report))
        code = render_candidate(design, "root", "The vanilla method of this problem kind, written without "
                                "memory or debate; every later candidate descends from it.")
        return CandidateCode(code=code, design=design.model_dump(mode="json"), notes=design.describe())

    def _context(self, ctx: ProposalContext) -> OfflineContext:
        problem = ctx.problem
        parent_design = _design(ctx.parent.design) or root_design(problem["kind"])
        budget = problem.get("budget") or {}
        siblings = [_summary(v) for v in ctx.relatives if v.parent_id == ctx.parent.node_id]
        uncles = [_summary(v) for v in ctx.relatives
                  if ctx.parent.parent_id is not None and v.parent_id == ctx.parent.parent_id]
        return OfflineContext(
            problem_name=problem["name"], kind=problem["kind"], description=problem.get("description", ""),
            pde=problem.get("pde"), budget_seconds=float(budget.get("wall_seconds", 60.0)),
            cpu_threads=int(budget.get("cpu_threads", 1)),
            data_analysis=DataAnalysis(facts=ctx.data.facts, report=ctx.data.report),
            parent_design=parent_design, parent_score=ctx.parent.score, parent_analysis=ctx.parent.analysis or "",
            parent_failure=ctx.parent.failure, parent_logs=ctx.parent_logs, siblings=siblings, uncles=uncles, card=ctx.card,
            iteration=ctx.iteration, seed=ctx.seed,
            history=[_past(v) for v in ctx.history if v.parent_id is not None and v.iteration < ctx.iteration],
            sampler=ctx.knob_sampler,
            evaluated=_evaluated_keys(ctx),
        )

    async def debate(self, ctx: ProposalContext, rounds: int) -> DebateOutcome:
        result = offline_debate(self._context(ctx), rounds=rounds, rng=np.random.default_rng(ctx.seed))
        messages = [TeamMessage(role=m.role, text=m.text, kind=m.kind, round=m.round, model=MODEL)
                    for m in result.messages]
        final, deliberation = result.final, result.deliberation
        design = final.design.model_dump(mode="json")
        record = {**deliberation.model_dump(mode="json"), "changed": deliberation.changed}
        tuning = {"sampler": deliberation.sampler, "knobs": deliberation.knobs, "sampled": deliberation.sampled}
        return DebateOutcome(messages=messages, proposal=Proposal(
            title=final.title, rationale=final.rationale, deliberation=record,
            design={**design, "_changes": list(final.changes), "_tuning": tuning}))

    async def engineer(self, ctx: ProposalContext, proposal: Proposal) -> CandidateCode:
        data = {k: v for k, v in (proposal.design or {}).items() if not k.startswith("_")}
        design = Design.model_validate(data)
        code = render_candidate(design, proposal.title, proposal.rationale)
        note = TeamMessage(role="engineer", kind="implementation", model=MODEL,
                           text=f"Implemented the agreed design as a self-contained candidate: {design.describe()}.")
        return CandidateCode(code=code, design=design.model_dump(mode="json"), notes=design.describe(),
                             messages=[note])

    async def debug(self, ctx: ProposalContext, code: CandidateCode, failure: Failure,
                    attempt: int) -> CandidateCode | None:
        design = _design(code.design)
        if design is None:
            return None
        fixed = offline_debug(design, failure.kind, failure.reason, failure.traceback)
        if fixed is None:
            return None
        new_design, explanation = fixed
        source = render_candidate(new_design, "debugged", explanation)
        message = TeamMessage(role="debugger", kind="fix", model=MODEL, round=attempt,
                              text=f"Attempt {attempt} after a {failure.kind} failure ({failure.stage} run): "
                                   f"{explanation}")
        return CandidateCode(code=source, design=new_design.model_dump(mode="json"), notes=explanation,
                             messages=[message])

    async def analyze_result(self, problem: dict[str, Any], node: NodeView, logs: list[dict[str, Any]],
                             parent: NodeView | None) -> TeamMessage:
        design = _design(node.design) or root_design(problem["kind"])
        text = offline_analyze_result(design, node.score, node.parent_score, logs, node.failure,
                                    _design(parent.design) if parent else None)
        return TeamMessage(role="result_analyst", kind="report", text=text, model=MODEL)

    async def vote(self, candidates: list[NodeView], k: int, selector: int, seed: int) -> TeamMessage:
        """Each selector weighs a different virtue, so the ensemble balances exploitation and exploration."""
        rng = np.random.default_rng(seed * 31 + selector)
        lens = selector % 3

        def gain(v: NodeView) -> float:
            if v.parent_score and v.score and v.score > 0:
                return v.parent_score / v.score
            return 1.0

        if lens == 0:
            ranked = sorted(candidates, key=lambda v: (v.score, v.node_id))
            why = "lowest error"
        elif lens == 1:
            ranked = sorted(candidates, key=lambda v: (-gain(v), v.score, v.node_id))
            why = "largest improvement over its own parent (a promising direction)"
        else:
            ranked = sorted(candidates, key=lambda v: (v.children, v.depth, v.score + 1e-12 * rng.random()))
            why = "least explored (fewest children, shallow), to keep the search diverse"
        picks = [v.node_id for v in ranked[:k]]
        detail = ", ".join(f"#{v.node_id} ({'—' if v.score is None else f'{v.score:.2e}'}"
                           f"{'' if lens != 1 else f', {gain(v):.1f}x'})" for v in ranked[:k])
        return TeamMessage(role="selector", kind="vote", model=MODEL,
                           text=f"Selector {selector} favours {why}: votes for {detail}.",
                           payload={"votes": picks})
