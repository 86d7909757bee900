"""A deterministic team for engine tests: real candidate code (numpy polynomial fits), scripted choices.

It exercises the engine's paths on purpose: one proposal duplicates its parent (novelty check), one
crashes on its first try (debugger), the rest fit polynomials of growing degree (real improvements).
"""

from __future__ import annotations

from typing import Any

from agents.team import (
    CandidateCode, DataReport, DebateOutcome, Failure, NodeView, Proposal, ProposalContext, TeamMessage,
)

TEMPLATE = '''
import time
import numpy as np

DEGREE = {degree}

def solve(task):
    time.sleep({delay})
    x = task.train["x"][:, 0]
    y = task.train["y"]
    {crash}coeffs = np.polyfit(x, y, DEGREE)
    task.log(0, residual=float(np.mean((np.polyval(coeffs, x) - y) ** 2)))
    return np.polyval(coeffs, task.query_inputs["x"][:, 0])
'''


def poly(degree: int, crash: bool = False, delay: float = 0.0) -> str:
    return TEMPLATE.format(degree=degree, delay=delay, crash="raise RuntimeError('boom: shape bug')\n    " if crash else "")


class ScriptedTeam:
    name = "scripted"

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[str] = []
        self.delay = delay  # seconds each candidate sleeps in solve(), to make a kill land mid-run

    async def analyze_data(self, problem: dict[str, Any], train: dict[str, Any], query_inputs: dict[str, Any]) -> DataReport:
        self.calls.append("analyze_data")
        return DataReport(facts={"n_train": int(len(train["x"]))}, report=f"{len(train['x'])} noisy samples.")

    async def write_root(self, problem: dict[str, Any], data: DataReport) -> CandidateCode:
        return CandidateCode(code=poly(1, delay=self.delay), design={"degree": 1}, notes="a straight line")

    async def debate(self, ctx: ProposalContext, rounds: int) -> DebateOutcome:
        self.calls.append("debate")
        degree = (ctx.parent.design or {}).get("degree", 1)
        # The root's second child repeats the root: the novelty check must skip it.
        siblings = [r for r in ctx.relatives if r.parent_id == ctx.parent.node_id]
        repeat = ctx.parent.parent_id is None and len(siblings) == 1
        new_degree = degree if repeat else degree + 2 + len(siblings)
        messages = [TeamMessage(role="proposer" if i % 2 == 0 else "critic", round=i // 2 + 1,
                                kind="reasoning" if i % 2 == 0 else "critique",
                                text=f"round {i // 2 + 1}: degree {degree} underfits; try {new_degree}")
                    for i in range(rounds)]
        return DebateOutcome(messages=messages, proposal=Proposal(
            title=f"polynomial of degree {new_degree}", rationale="more capacity", design={"degree": new_degree}))

    async def engineer(self, ctx: ProposalContext, proposal: Proposal) -> CandidateCode:
        degree = proposal.design["degree"]
        crash = degree == 5  # one proposal is written with a bug the debugger must fix
        if degree == (ctx.parent.design or {}).get("degree"):
            return CandidateCode(code=ctx.parent_code, design=proposal.design)
        return CandidateCode(code=poly(degree, crash=crash, delay=self.delay), design=proposal.design)

    async def debug(self, ctx: ProposalContext, code: CandidateCode, failure: Failure, attempt: int) -> CandidateCode | None:
        self.calls.append(f"debug:{failure.kind}")
        if "boom" not in (failure.reason or ""):
            return None
        return CandidateCode(code=code.code.replace("raise RuntimeError('boom: shape bug')\n    ", ""),
                             design=code.design, notes="removed the stray raise")

    async def analyze_result(self, problem: dict[str, Any], node: NodeView, logs: list[dict[str, Any]],
                             parent: NodeView | None) -> TeamMessage:
        return TeamMessage(role="result_analyst", kind="report", text=f"node {node.node_id}: score {node.score}")

    async def vote(self, candidates: list[NodeView], k: int, selector: int, seed: int) -> TeamMessage:
        ranked = sorted(candidates, key=lambda c: (c.score, c.node_id))
        picks = [c.node_id for c in ranked[selector % max(1, len(ranked)):][:k]] or [ranked[0].node_id]
        return TeamMessage(role="selector", kind="vote", text=f"selector {selector} votes {picks}",
                           payload={"votes": picks})
