"""A replay stored beside its original campaign gets new node ids; the prompts must not change because of it.

Regression tests for two ways a strict replay of a real campaign diverged from its recording: node ids in
prompts (parent, relatives, candidates, selector votes), and the wall-clock training time in the result
analyst's log summary.
"""

from __future__ import annotations

import asyncio

import pytest

from agents.llm import LLMTeam, Recorder, ReplayDivergence
from agents.llm.recording import NodeAliases
from agents.team import NodeView
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.script import Reply
from tests.llm.helpers import PROBLEM, InstantSleep, RoleScript, context, providers_config

ORIGINAL = [(1, None, 0), (2, 1, 1), (3, 2, 2), (4, 1, 2)]  # (id, parent, iteration) as recorded


def test_aliases_match_nodes_by_iteration_parent_and_order() -> None:
    aliases = NodeAliases(ORIGINAL)
    for node in [(11, None, 0), (12, 11, 1), (13, 12, 2), (14, 11, 2)]:
        aliases.observe(*node)
    assert [aliases.show(n) for n in (11, 12, 13, 14)] == [1, 2, 3, 4]
    assert aliases.actual(4) == 14 and aliases.knows(13)
    aliases.observe(15, 11, 2)  # a node the original campaign did not have keeps its own id
    assert aliases.show(15) == 15 and aliases.actual(15) == 15 and aliases.show(99) == 99


def _views(offset: int) -> tuple[NodeView, NodeView, list[NodeView]]:
    parent = NodeView(node_id=1 + offset, status="succeeded", score=0.3, title="root")
    child = NodeView(node_id=2 + offset, parent_id=1 + offset, iteration=1, depth=1, status="succeeded",
                     score=0.1, parent_score=0.3, title="quintic")
    other = NodeView(node_id=4 + offset, parent_id=1 + offset, iteration=2, depth=1, status="failed",
                     title="spline", failure="crashed")
    return parent, child, [child, other]


async def _flow(team: LLMTeam, offset: int, seconds: float) -> dict:
    parent, child, candidates = _views(offset)
    analysis = await team.analyze_result(PROBLEM, child, [{"step": 0, "t": seconds / 2, "loss": 1.0},
                                                          {"step": 50, "t": seconds, "loss": 0.2}], parent)
    vote = await team.vote(candidates, 1, 0, 3)
    ctx = context(iteration=2)
    ctx.parent = child
    ctx.relatives = [candidates[1]]
    debate = await team.debate(ctx, 2)
    return {"analysis": analysis.text, "votes": vote.payload["votes"], "proposal": debate.proposal.title}


def _record(tmp_path) -> tuple:
    script = RoleScript({
        "result_analyst": [Reply("The loss fell fivefold; nothing looks wrong.")],
        "selector": [Reply('{"votes": [4], "reason": "explore the failed branch"}')],
        "proposer": [Reply("Plan: raise DEGREE to 7."),
                     Reply('```json\n{"title": "Degree seven", "rationale": "More capacity for the curve."}\n```')],
        "critic": [Reply("Feasible within the budget.")],
    })
    path = tmp_path / "rec.jsonl"
    with FakeOpenAIServer(default=script) as srv, Recorder(path) as recorder:
        team = LLMTeam(providers_config(srv.base_url), recorder=recorder, sleep=InstantSleep())
        original = asyncio.run(_flow(team, offset=0, seconds=3.1))
        asyncio.run(team.aclose())
    return path, original


def test_strict_replay_under_new_node_ids_and_other_timings(tmp_path) -> None:
    path, original = _record(tmp_path)
    assert original["votes"] == [4]
    aliases = NodeAliases(ORIGINAL)
    for node in [(21, None, 0), (22, 21, 1), (23, 22, 2), (24, 21, 2)]:
        aliases.observe(*node)
    replay = LLMTeam.from_recording(path, node_aliases=aliases)
    replayed = asyncio.run(_flow(replay, offset=20, seconds=3.3))  # same share of the 30 s budget
    assert replayed["analysis"] == original["analysis"] and replayed["proposal"] == original["proposal"]
    assert replayed["votes"] == [24]  # the recorded vote for node 4 is node 24 of the replay


def test_without_aliases_new_ids_diverge(tmp_path) -> None:
    path, _ = _record(tmp_path)
    replay = LLMTeam.from_recording(path)
    with pytest.raises(ReplayDivergence, match="candidate 22"):
        asyncio.run(_flow(replay, offset=20, seconds=3.1))


def test_result_analyst_sees_time_as_a_share_of_the_budget(tmp_path) -> None:
    script = RoleScript({"result_analyst": [Reply("fine")]})
    with FakeOpenAIServer(default=script) as srv:
        team = LLMTeam(providers_config(srv.base_url), sleep=InstantSleep())
        node = NodeView(node_id=2, status="succeeded", score=0.1)
        msg = asyncio.run(team.analyze_result(PROBLEM, node, [{"step": 9, "t": 12.34, "loss": 0.5}], None))
        prompt = srv.requests[0].messages[-1]["content"]
        asyncio.run(team.aclose())
    assert '"share_of_time_budget": 0.4' in prompt and "12.34" not in prompt
    assert msg.payload["log_summary"]["seconds"] == 12.34  # the stored summary keeps the measured time
