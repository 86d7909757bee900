"""Provider faults, malformed answers and budgets, over real HTTP against the fake servers."""

from __future__ import annotations

import asyncio
import time

import pytest

from agents.llm import EngineeringFailed, LLMTeam, ProposalError, TeamOptions
from agents.providers import BudgetCaps, BudgetExceeded, ProviderUnavailable, UsageLedger
from agents.team import NodeView, Proposal
from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.script import Hang, Malformed, Reply, Status, rate_limited
from tests.llm.helpers import (
    PARENT_CODE, InstantSleep, RoleScript, context, debate_answers, edit, last_user_text, proposal_json,
    providers_config, role_of,
)

PROPOSAL = Proposal(title="Quintic polynomial fit", rationale="Raise DEGREE to 5.")
CANDIDATES = [NodeView(node_id=3, status="succeeded", score=0.1),
              NodeView(node_id=5, status="succeeded", score=0.2)]


def team_for(srv, *, ledger: UsageLedger | None = None, options: TeamOptions | None = None,
             sleep: InstantSleep | None = None, **config_kw) -> LLMTeam:
    return LLMTeam(providers_config(srv.base_url, **config_kw), ledger, options=options,
                   sleep=sleep or InstantSleep())


def test_rate_limit_with_retry_after_is_waited_out() -> None:
    answers = debate_answers()
    answers["proposer"].insert(0, rate_limited("3"))
    sleep = InstantSleep()
    with FakeOpenAIServer(default=RoleScript(answers)) as srv:
        outcome = asyncio.run(team_for(srv, sleep=sleep).debate(context(), 4))
    assert sleep.calls == [3.0]  # the server's Retry-After, through the injected sleep
    assert outcome.messages[0].payload["attempts"] == 2
    assert outcome.proposal.title == "Quintic polynomial fit"


def test_server_error_and_malformed_body_are_retried() -> None:
    answers = debate_answers()
    answers["critic"].insert(0, Status(500))
    answers["critic"].insert(2, Malformed())
    with FakeOpenAIServer(default=RoleScript(answers)) as srv:
        outcome = asyncio.run(team_for(srv).debate(context(), 4))
    critic = [m for m in outcome.messages if m.role == "critic"]
    assert [m.payload["attempts"] for m in critic] == [2, 2, 1]


def test_hung_connection_times_out_and_is_retried() -> None:
    answers = debate_answers(rounds=1)
    answers["proposer"].insert(0, Hang(5.0))
    with FakeOpenAIServer(default=RoleScript(answers)) as srv:
        started = time.monotonic()
        outcome = asyncio.run(team_for(srv, read_timeout_s=0.2).debate(context(), 1))
        took = time.monotonic() - started
    assert outcome.proposal.title == "Quintic polynomial fit"
    assert took < 3.0
    assert outcome.messages[0].payload["attempts"] == 2


def test_provider_that_keeps_failing_propagates_unavailable() -> None:
    with FakeOpenAIServer(default=Status(503)) as srv:
        with pytest.raises(ProviderUnavailable):
            asyncio.run(team_for(srv, max_attempts=2).debate(context(), 2))
        assert len(srv.requests) == 2


def test_malformed_proposal_is_repaired_quoting_the_error() -> None:
    answers = debate_answers(rounds=2)
    answers["proposer"][-1:] = [Reply("I propose a quintic fit."), Reply(proposal_json())]
    with FakeAnthropicServer(default=RoleScript(answers)) as srv:
        outcome = asyncio.run(team_for(srv, kind="anthropic").debate(context(), 2))
        repair_request = srv.requests[-1]
    assert [m.kind for m in outcome.messages] == ["plan", "feasibility", "proposal", "proposal_repair"]
    assert outcome.messages[2].payload["accepted"] is False
    assert "no JSON object" in last_user_text(repair_request)
    assert repair_request.json["messages"][-2]["role"] == "assistant"  # the bad answer is quoted back
    assert outcome.proposal.title == "Quintic polynomial fit"


def test_proposal_still_malformed_after_repair_is_a_clear_error() -> None:
    answers = {"proposer": [Reply('```json\n{"title": "x"}\n```'), Reply('{"title": "ok title"}')]}
    with FakeOpenAIServer(default=RoleScript(answers)) as srv:
        with pytest.raises(ProposalError, match="rationale") as info:
            asyncio.run(team_for(srv).debate(context(), 1))
    assert len(info.value.messages) == 2


def test_missing_code_fences_are_handled() -> None:
    answer = "Here is the new module with a higher degree:\n\n" + PARENT_CODE.replace("= 1", "= 4") + \
             "\nThat is all."
    with FakeOpenAIServer(default=RoleScript({"engineer": [answer]})) as srv:
        code = asyncio.run(team_for(srv).engineer(context(), PROPOSAL))
    assert code.code.strip() == PARENT_CODE.replace("= 1", "= 4").strip()
    assert code.messages[0].payload["mode"] == "whole"


def test_edit_that_does_not_apply_is_sent_back_then_fixed() -> None:
    script = RoleScript({"engineer": [edit("DEGREE = 2", "DEGREE = 5"), edit("DEGREE = 1", "DEGREE = 5")]})
    with FakeOpenAIServer(default=script) as srv:
        code = asyncio.run(team_for(srv).engineer(context(), PROPOSAL))
        second = srv.requests[1]
    assert code.code == PARENT_CODE.replace("DEGREE = 1", "DEGREE = 5")
    assert [m.kind for m in code.messages] == ["implementation", "implementation_retry"]
    assert code.messages[0].payload["accepted"] is False
    assert "not found" in code.messages[0].payload["rejection"]
    assert "not found" in last_user_text(second) and "'DEGREE = 1'" in last_user_text(second)


def test_contract_violation_is_sent_back_before_anything_runs() -> None:
    changed = PARENT_CODE.replace("DEGREE = 1", "DEGREE = 4")
    bad = "```python\nimport subprocess\n" + changed + "```"
    script = RoleScript({"engineer": [bad, edit("import subprocess\nimport numpy as np", "import numpy as np")]})
    with FakeOpenAIServer(default=script) as srv:
        code = asyncio.run(team_for(srv).engineer(context(), PROPOSAL))
        second = srv.requests[1]
    assert "start processes" in last_user_text(second)
    # The follow-up edit quoted the rejected version; it applies there and yields valid code.
    assert code.code == changed


def test_engineer_gives_up_after_bounded_attempts() -> None:
    broken = "```python\ndef solve(task):\n  return (\n```"
    script = RoleScript({"engineer": ["no code, sorry", "still nothing", broken]})
    with FakeOpenAIServer(default=script) as srv:
        with pytest.raises(EngineeringFailed, match="does not parse") as info:
            asyncio.run(team_for(srv, options=TeamOptions(engineer_attempts=3)).engineer(context(), PROPOSAL))
        assert len(srv.requests) == 3
    assert len(info.value.messages) == 3


def test_unchanged_code_is_rejected() -> None:
    script = RoleScript({"engineer": ["```python\n" + PARENT_CODE + "```", edit("DEGREE = 1", "DEGREE = 2")]})
    with FakeOpenAIServer(default=script) as srv:
        code = asyncio.run(team_for(srv).engineer(context(), PROPOSAL))
    assert "identical" in code.messages[0].payload["rejection"]
    assert "DEGREE = 2" in code.code


def test_malformed_votes_are_repaired_and_persistent_garbage_abstains() -> None:
    script = RoleScript({"selector": ["I vote for node three.", '{"votes": ["node 5"], "reason": "diverse"}',
                                      '{"votes": [42]}', '{"votes": [43]}']})
    with FakeOpenAIServer(default=script) as srv:
        team = team_for(srv)
        repaired = asyncio.run(team.vote(CANDIDATES, 1, 0, 1))
        abstained = asyncio.run(team.vote(CANDIDATES, 1, 0, 2))
        repair_request = srv.requests[1]
    assert repaired.payload["votes"] == [5] and repaired.payload["exchanges"] == 2
    assert "no JSON object" in last_user_text(repair_request)
    assert repaired.tokens_in == 20  # both exchanges counted (10 each from the fake server)
    assert abstained.payload["votes"] == [] and abstained.payload["abstained"] is True
    assert "not a candidate" in abstained.payload["error"] or "none of the votes" in abstained.payload["error"]


def test_budget_exceeded_mid_debate() -> None:
    # Each exchange below costs 150-220 input tokens plus a few output tokens; the cap is hit after 3.
    ledger = UsageLedger(BudgetCaps(max_total_tokens=450))
    with FakeOpenAIServer(default=RoleScript(debate_answers())) as srv:
        with pytest.raises(BudgetExceeded) as info:
            asyncio.run(team_for(srv, ledger=ledger).debate(context(), 4))
        calls = [role_of(r) for r in srv.requests]
    assert calls == ["proposer", "critic", "proposer"]
    assert info.value.cap == "total_tokens"
    assert ledger.totals().calls == 3


def test_campaign_cost_cap() -> None:
    ledger = UsageLedger()
    ledger.set_caps(BudgetCaps(max_cost_usd=0.0005), campaign_id="c9")
    team_kw = {}
    with FakeOpenAIServer(default=RoleScript(debate_answers())) as srv:
        team = LLMTeam(providers_config(srv.base_url), ledger, campaign_id="c9", sleep=InstantSleep(), **team_kw)
        with pytest.raises(BudgetExceeded, match="campaign c9"):
            asyncio.run(team.debate(context(), 4))
    assert 0 < ledger.totals("c9").calls < 7
