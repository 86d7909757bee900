"""The offline team adapter keeps each node's design, so children mutate their parent, not the root."""

from __future__ import annotations

import asyncio

from agents.offline_team import OfflineTeam, _design
from agents.team import DataReport, NodeView, ProposalContext
from problems.registry import get_problem


def test_child_designs_build_on_the_parent():
    team = OfflineTeam()
    problem = get_problem("convection1d")
    spec = problem.spec.model_dump(mode="json")
    data = problem.load()
    report = asyncio.run(team.analyze_data(spec, data.train, data.query_inputs))
    root = asyncio.run(team.write_root(spec, report))
    ctx = ProposalContext(problem=spec, data=report, parent=NodeView(node_id=1, status="succeeded", score=1.0,
                          design=root.design), parent_code=root.code, iteration=1, seed=3)
    first = asyncio.run(team.debate(ctx, 4)).proposal
    assert _design(first.design) is not None, "a stored proposal design must load back"
    assert _design(first.design).key() != _design(root.design).key()
    ctx2 = ctx.model_copy(update={"parent": NodeView(node_id=2, parent_id=1, status="succeeded", score=0.1,
                                                     design=first.design), "iteration": 2})
    second = asyncio.run(team.debate(ctx2, 4)).proposal
    assert _design(second.design).key() not in (_design(first.design).key(), _design(root.design).key())
