"""A whole scripted team flow over real HTTP, against both fake provider protocols.

data analysis -> root -> 4-round debate (proposer and critic on different models) -> engineer
(SEARCH/REPLACE) -> debugger (whole file) -> result analysis -> two selectors (different models).
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from agents.llm import LLMTeam, Recorder
from agents.llm.recording import Recording
from agents.providers import UsageLedger
from agents.team import AgentTeam, CandidateCode, Failure, NodeView
from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.script import Reply
from tests.llm.helpers import (
    PARENT_CODE, PROBLEM, InstantSleep, RoleScript, context, debate_answers, edit, last_user_text,
    providers_config, role_of,
)

SERVERS = {"openai": FakeOpenAIServer, "anthropic": FakeAnthropicServer}
MODELS = {
    "openai": {"proposer": "gpt-4.1", "critic": "gpt-4o-mini", "selectors": ["gpt-4o", "gpt-4.1-mini"]},
    "anthropic": {"proposer": "claude-opus-4-5", "critic": "claude-haiku-4-5",
                  "selectors": ["claude-sonnet-4-5", "claude-haiku-4-5"]},
}
FIXED_CODE = PARENT_CODE.replace("DEGREE = 1", "DEGREE = 5").replace("np.polyfit(x, y, DEGREE)",
                                                                      "np.polyfit(x, y, min(DEGREE, len(x) - 1))")


def full_script() -> RoleScript:
    script = RoleScript(debate_answers())
    script.add("data_analyst", Reply("- 64 samples, x in [0, 1]\n- risk: noise", input_tokens=400))
    root = "Root:\n```python\n" + PARENT_CODE + "```\nA straight line."
    script.add("root_engineer", Reply(root, input_tokens=900))
    script.add("engineer", Reply(edit("DEGREE = 1", "DEGREE = 5"), input_tokens=1200, output_tokens=60))
    script.add("debugger", Reply("The degree can exceed the sample count.\n```python\n" + FIXED_CODE + "```"))
    script.add("result_analyst", Reply("The error fell from 0.25 to 0.01; the residual curve is flat."))
    script.add("selector", Reply('```json\n{"votes": [4], "reason": "best non-champion"}\n```'),
               Reply('{"votes": [5, 99], "reason": "explore"}'))
    return script


async def run_flow(team: LLMTeam) -> dict:
    train = {"x": np.linspace(0, 1, 64)[:, None], "y": np.sin(np.linspace(0, 1, 64))}
    report = await team.analyze_data(PROBLEM, train, {"x": np.linspace(0, 1.2, 10)[:, None]})
    root = await team.write_root(PROBLEM, report)
    ctx = context(root.code)
    debate = await team.debate(ctx, 4)
    code = await team.engineer(ctx, debate.proposal)
    fix = await team.debug(ctx, code, Failure(kind="crashed", reason="LinAlgError", traceback="Traceback..."), 1)
    node = NodeView(node_id=4, parent_id=1, status="succeeded", score=0.01, parent_score=0.25, title="quintic")
    analysis = await team.analyze_result(PROBLEM, node, [{"step": 0, "t": 0.1, "loss": 1.0},
                                                         {"step": 100, "t": 1.0, "loss": 0.1}], None)
    candidates = [node, NodeView(node_id=5, status="succeeded", score=0.05)]
    votes = [await team.vote(candidates, 1, selector, 11) for selector in range(2)]
    return {"report": report, "root": root, "debate": debate, "code": code, "fix": fix, "analysis": analysis,
            "votes": votes}


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_full_flow(kind: str, tmp_path) -> None:
    script = full_script()
    models = MODELS[kind]
    ledger = UsageLedger()
    with SERVERS[kind](default=script) as srv:
        config = providers_config(srv.base_url if kind == "openai" else srv.root_url, kind,
                                  proposer_model=models["proposer"], critic_model=models["critic"],
                                  selector_models=models["selectors"])
        recorder = Recorder(tmp_path / "rec.jsonl")
        seen: list = []
        team = LLMTeam(config, ledger, recorder, campaign_id="c1", sleep=InstantSleep(), on_message=seen.append)
        assert isinstance(team, AgentTeam)
        out = asyncio.run(run_flow(team))
        recorder.close()
        requests = list(srv.requests)
    assert script.left() == {}

    # Data analysis: facts computed in Python, report from the model.
    assert out["report"].facts["query_coverage"]["x"] == {"outside_training_box": 2, "of": 10}
    assert out["report"].report.startswith("- 64 samples")
    assert out["root"].code == PARENT_CODE and out["root"].messages[0].role == "root_engineer"

    # Debate: 2 reasoning rounds with critique, a plan round with feasibility, the final proposal.
    msgs = out["debate"].messages
    assert [(m.role, m.kind, m.round) for m in msgs] == [
        ("proposer", "reasoning", 1), ("critic", "critique", 1), ("proposer", "reasoning", 2),
        ("critic", "critique", 2), ("proposer", "plan", 3), ("critic", "feasibility", 3),
        ("proposer", "proposal", 4)]
    assert {m.model for m in msgs if m.role == "proposer"} == {models["proposer"]}
    assert {m.model for m in msgs if m.role == "critic"} == {models["critic"]}
    assert out["debate"].proposal.title == "Quintic polynomial fit"
    assert "DEGREE from 1 to 5" in out["debate"].proposal.rationale
    for m in msgs:
        assert m.prompt_version == team.prompts[m.role].version
        assert m.tokens_in > 0 and m.tokens_out > 0 and m.latency_s is not None and m.cost_usd > 0
    assert msgs[0].tokens_in == 150 and msgs[-1].tokens_out == 40

    # What each role was shown: the critic sees the proposer's turn; the engineer sees the plan.
    by_role = [(role_of(r), r) for r in requests]
    critic_requests = [r for role, r in by_role if role == "critic"]
    assert "REASONING r1" in last_user_text(critic_requests[0])
    assert "A straight line underfits" in last_user_text(critic_requests[0])  # parent's result analysis
    assert "cubic spline" in last_user_text(critic_requests[0])  # a relative's attempt
    engineer_request = next(r for role, r in by_role if role == "engineer")
    assert "PLAN r3" in last_user_text(engineer_request) and "FEASIBILITY r3" in last_user_text(engineer_request)
    assert "DEGREE = 1" in last_user_text(engineer_request)

    # Engineer: the SEARCH/REPLACE edit applied to the parent's code.
    assert out["code"].code == PARENT_CODE.replace("DEGREE = 1", "DEGREE = 5")
    assert out["code"].messages[0].payload["mode"] == "edits"
    # Debugger: whole-file answer, diagnosis kept as notes.
    assert out["fix"].code == FIXED_CODE and "exceed the sample count" in out["fix"].notes
    # Result analyst: a report with checks computed in Python, and no score of its own.
    assert out["analysis"].role == "result_analyst" and out["analysis"].kind == "report"
    assert out["analysis"].payload["checks"] == []
    # Selectors: two models, ids outside the candidates dropped.
    assert [v.payload["votes"] for v in out["votes"]] == [[4], [5]]
    assert out["votes"][1].payload["dropped"] == [99]
    assert [v.model for v in out["votes"]] == models["selectors"]

    # Ledger: every exchange recorded per role, node and campaign.
    totals = ledger.by_role("c1")
    assert totals["proposer"].calls == 4 and totals["critic"].calls == 3 and totals["selector"].calls == 2
    assert ledger.totals("c1").calls == len(requests) == len(seen) == 14
    assert all(m.prompt_version == team.prompts[m.role].version for m in seen)
    assert ledger.by_node("c1")["i1/p1"].calls == 4 + 3 + 1 + 1  # debate, engineer, debugger

    # Recording: a header then one line per exchange, no keys.
    lines = (tmp_path / "rec.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["type"] == "header" and len(lines) == 15
    assert len(Recording.load(tmp_path / "rec.jsonl").exchanges) == 14


def test_debug_context_for_the_root_uses_root_key() -> None:
    script = RoleScript({"debugger": [Reply("GIVE UP: the method itself is unsound")]})
    ledger = UsageLedger()
    with FakeOpenAIServer(default=script) as srv:
        team = LLMTeam(providers_config(srv.base_url), ledger, sleep=InstantSleep())
        ctx = context(iteration=0)
        fix = asyncio.run(team.debug(ctx, CandidateCode(code=PARENT_CODE), Failure(kind="timeout", reason="t"), 1))
    assert fix is None
    assert "root" in ledger.by_node()


@pytest.mark.parametrize("rounds, kinds", [
    (1, ["proposal"]),
    (2, ["plan", "feasibility", "proposal"]),
    (3, ["reasoning", "critique", "plan", "feasibility", "proposal"]),
    (0, ["proposal"]),  # the proposer alone: the debate's ablation
    (None, ["reasoning", "critique", "reasoning", "critique", "plan", "feasibility", "proposal"]),  # default 4
])
def test_round_structure(rounds: int | None, kinds: list[str]) -> None:
    expected = 4 if rounds is None else max(1, rounds)
    with FakeOpenAIServer(default=RoleScript(debate_answers(expected))) as srv:
        team = LLMTeam(providers_config(srv.base_url), sleep=InstantSleep())
        outcome = asyncio.run(team.debate(context(), rounds))
    assert [m.kind for m in outcome.messages] == kinds
    assert outcome.messages[-1].round == expected
