"""The team against servers that behave like real ones: refusing ``response_format``/``tools``, cutting
answers at the token limit, answering with tool calls, rate limiting with Retry-After, failing with 5xx
and taking long to send the first byte. Each test checks the team gets through and records what happened."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from agents.llm import LLMTeam, TeamOptions
from agents.llm.exchange import CONTINUE_PROMPT, stitch
from agents.providers import ProviderRequestError
from agents.providers.config import ProvidersConfig
from agents.team import NodeView, Proposal
from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.script import Reply, SlowStart, ToolCall, overloaded, rate_limited
from tests.llm.helpers import (
    PARENT_CODE,
    InstantSleep,
    RoleScript,
    context,
    debate_answers,
    edit,
    last_user_text,
    providers_config,
    role_of,
)

PROPOSAL = Proposal(title="Quintic polynomial fit", rationale="Raise DEGREE to 5.")
CANDIDATES = [NodeView(node_id=3, status="succeeded", score=0.1), NodeView(node_id=5, status="succeeded", score=0.2)]
SERVERS = {"openai": FakeOpenAIServer, "anthropic": FakeAnthropicServer}
SCHEMA_FIELD = {"openai": "response_format", "anthropic": "tools"}


def _team(srv, kind: str = "openai", *, options: TeamOptions | None = None, sleep: InstantSleep | None = None,
          structured_output: str | None = None, **config_kw: Any) -> LLMTeam:
    config = providers_config(srv.base_url, kind, **config_kw)
    if structured_output is not None:
        data = config.model_dump(mode="json")
        for models in data["roles"].values():
            for model in models:
                model["structured_output"] = structured_output
        config = ProvidersConfig.model_validate(data)
    return LLMTeam(config, options=options, sleep=sleep or InstantSleep())


def _carries_schema(req: Any, kind: str) -> bool:
    return SCHEMA_FIELD[kind] in (req.json or {})


# -- structured output --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_json_roles_send_their_schema_and_the_answer_is_used(kind: str) -> None:
    answers = debate_answers(rounds=1)
    answers["selector"] = ['{"votes": [5], "reason": "lower error"}']
    with SERVERS[kind](default=RoleScript(answers)) as srv:
        team = _team(srv, kind)
        outcome = asyncio.run(team.debate(context(), 1))
        ballot = asyncio.run(team.vote(CANDIDATES, 1, 0, 1))
        proposal_req, vote_req = srv.requests
    assert outcome.proposal.title == "Quintic polynomial fit" and ballot.payload["votes"] == [5]
    if kind == "openai":
        schema = proposal_req.json["response_format"]["json_schema"]
        assert schema["name"] == "proposal" and schema["schema"]["required"] == ["title", "rationale"]
        assert vote_req.json["response_format"]["json_schema"]["schema"]["required"] == ["votes"]
    else:
        assert proposal_req.json["tool_choice"] == {"type": "tool", "name": "proposal"}
        assert proposal_req.json["tools"][0]["input_schema"]["required"] == ["title", "rationale"]
    # Recorded per exchange: the schema was sent and accepted.
    assert outcome.messages[-1].payload["structured_output"] is True
    # Prose roles carry no schema.
    assert all(m.payload["structured_output"] is False for m in outcome.messages[:-1])


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_server_refusing_the_schema_field_gets_prompt_and_repair_for_the_rest_of_the_campaign(kind: str) -> None:
    answers = debate_answers(rounds=1)
    # The first answer is malformed: the repair path (not the schema) must bring the proposal in.
    answers["proposer"] = ["I propose a quintic.", *answers["proposer"]]
    answers["selector"] = ['{"votes": [3]}']
    with SERVERS[kind](default=RoleScript(answers), refuse_fields={SCHEMA_FIELD[kind]}) as srv:
        team = _team(srv, kind)
        outcome = asyncio.run(team.debate(context(), 1))
        ballot = asyncio.run(team.vote(CANDIDATES, 1, 0, 1))
        carried = [_carries_schema(r, kind) for r in srv.requests]
    assert outcome.proposal.title == "Quintic polynomial fit" and ballot.payload["votes"] == [3]
    # Only the very first request carried the schema: the refusal is remembered for every role using
    # that server and model (the selector's provider is another object than the proposer's).
    tries = 2 if kind == "openai" else 1  # OpenAI protocol: json_schema, then llama-cpp-python's json_object
    assert carried == [True] * tries + [False, False, False]
    proposal, repair = outcome.messages
    assert proposal.payload["structured_output"] is False
    assert SCHEMA_FIELD[kind] in proposal.payload["structured_fallback"]
    assert repair.kind == "proposal_repair" and repair.payload["structured_output"] is False


def test_structured_output_on_makes_the_refusal_visible() -> None:
    with FakeOpenAIServer(default=RoleScript(debate_answers(rounds=1)), refuse_fields={"response_format"}) as srv:
        with pytest.raises(ProviderRequestError, match="response_format"):
            asyncio.run(_team(srv, structured_output="on").debate(context(), 1))


def test_structured_output_off_sends_no_schema() -> None:
    with FakeAnthropicServer(default=RoleScript(debate_answers(rounds=1))) as srv:
        outcome = asyncio.run(_team(srv, "anthropic", structured_output="off").debate(context(), 1))
        assert not any(_carries_schema(r, "anthropic") for r in srv.requests)
    assert outcome.messages[-1].payload["structured_fallback"] == "structured output off"


def test_openai_tool_call_answers_are_accepted() -> None:
    answers = {"selector": [ToolCall({"votes": ["node 5"], "reason": "diverse"})],
               "proposer": [ToolCall({"title": "Quintic polynomial fit", "rationale": "Raise DEGREE to five."})]}
    with FakeOpenAIServer(default=RoleScript(answers)) as srv:
        team = _team(srv)
        ballot = asyncio.run(team.vote(CANDIDATES, 1, 0, 1))
        outcome = asyncio.run(team.debate(context(), 1))
    assert ballot.payload["votes"] == [5] and ballot.payload["exchanges"] == 1
    assert outcome.proposal.title == "Quintic polynomial fit"


# -- answers cut at the token limit -------------------------------------------------------------------

WHOLE = "Here is the module.\n\n```python\n" + PARENT_CODE.replace("DEGREE = 1", "DEGREE = 5") + "```\n"


def _go_on(full: str):
    """A model asked to continue: answers the rest of ``full`` after what the request says it wrote,
    restarting the code fence the way real models often do."""
    def answer(req: Any) -> Reply:
        written = "".join(m["content"] if isinstance(m["content"], str) else m["content"][0]["text"]
                          for m in req.json["messages"] if m["role"] == "assistant")
        assert CONTINUE_PROMPT in last_user_text(req)
        rest = full[len(written):]
        return Reply("```python\n" + rest if "```" not in rest[:3] else rest)
    return answer


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_whole_file_cut_at_the_limit_is_continued_and_stitched(kind: str) -> None:
    # 30 tokens = 120 characters per answer: the module needs two continuations.
    limit = 30
    assert 2 * limit * 4 < len(WHOLE) <= 3 * limit * 4 - 20
    script = RoleScript({"engineer": [Reply(WHOLE), _go_on(WHOLE), _go_on(WHOLE)]})
    with SERVERS[kind](default=script) as srv:
        team = _team(srv, kind, options=TeamOptions(max_tokens={"engineer": limit}))
        code = asyncio.run(team.engineer(context(), PROPOSAL))
        reasons = [r.json["max_tokens"] for r in srv.requests]
    assert code.code == PARENT_CODE.replace("DEGREE = 1", "DEGREE = 5")
    assert reasons == [limit] * 3
    (message,) = code.messages
    assert message.payload["continuations"] == 2 and "truncated" not in message.payload
    assert message.payload["accepted"] is True
    assert 2 * limit < message.tokens_out <= 3 * limit  # summed over the three parts


def test_code_still_cut_after_the_continuations_is_sent_back_asking_for_edits() -> None:
    script = RoleScript({"engineer": [Reply(WHOLE), Reply(WHOLE[120:]), edit("DEGREE = 1", "DEGREE = 5")]})
    with FakeOpenAIServer(default=script) as srv:
        team = _team(srv, options=TeamOptions(max_tokens={"engineer": 30}, continuations=1))
        code = asyncio.run(team.engineer(context(), PROPOSAL))
        retry = last_user_text(srv.requests[2])
    assert "cut off at the output-token limit" in retry and "SEARCH/REPLACE" in retry
    first, second = code.messages
    assert first.payload["truncated"] is True and first.payload["accepted"] is False
    assert second.payload["mode"] == "edits" and "DEGREE = 5" in code.code


def test_a_continuation_that_echoes_the_request_is_not_stitched_into_the_code() -> None:
    """SmolLM2-135M answered 'continue' with our own request, which then sat in the module's source and in
    the history the next attempt read; now the echo is dropped, continuing stops, and the cut answer goes
    back although what was stitched happens to parse (``y = tx = 1``): a cut answer is never run."""
    script = RoleScript({"engineer": [Reply(WHOLE), Reply("x = 1\n" + CONTINUE_PROMPT),
                                      edit("DEGREE = 1", "DEGREE = 5")]})
    with FakeOpenAIServer(default=script) as srv:
        team = _team(srv, options=TeamOptions(max_tokens={"engineer": 30}, continuations=2))
        code = asyncio.run(team.engineer(context(), PROPOSAL))
        requests = [r.json for r in srv.requests]
    assert len(requests) == 3  # the answer, one continuation (echoed), the request for edits
    assert "cut off at the output-token limit" in requests[2]["messages"][-1]["content"]
    history = " ".join(m["content"] for m in requests[2]["messages"] if m["role"] == "assistant")
    assert CONTINUE_PROMPT[:30] not in history and history.endswith("x = 1")
    first, second = code.messages
    assert first.payload["continuation_echoed"] is True and first.payload["truncated"] is True
    assert CONTINUE_PROMPT[:30] not in first.text and "DEGREE = 5" in code.code


def test_a_cut_json_answer_is_continued_before_it_is_parsed() -> None:
    full = json.dumps({"title": "Quintic polynomial fit", "rationale": "Raise DEGREE from 1 to 5 " * 4})
    answers = {"proposer": [Reply(full[:80], finish_reason="length"), Reply(full[80:])]}
    with FakeOpenAIServer(default=RoleScript(answers)) as srv:
        outcome = asyncio.run(_team(srv).debate(context(), 1))
        follow = srv.requests[1].json
    assert outcome.proposal.title == "Quintic polynomial fit"
    assert "response_format" not in follow  # a schema would make the model start a new object
    assert outcome.messages[-1].payload["continuations"] == 1


def test_stitch_drops_a_restarted_fence_and_a_repeated_tail() -> None:
    head = "Intro\n```python\nimport numpy as np\n\ndef solve(task):\n    x = np.ones(3)"
    assert stitch(head, "```python\n    x = np.ones(3)\n    return x\n```") == head + "\n    return x\n```"
    assert stitch("no fence here and", " more") == "no fence here and more"


def test_default_output_limits_follow_the_role_and_the_model() -> None:
    with FakeOpenAIServer(default=RoleScript({"engineer": [edit("DEGREE = 1", "DEGREE = 2")] * 2,
                                              "selector": ['{"votes": [3]}']})) as srv:
        asyncio.run(_team(srv).engineer(context(), PROPOSAL))  # gpt-4o: 16,384 output tokens at most
        asyncio.run(_team(srv).vote(CANDIDATES, 1, 0, 1))
        local = providers_config(srv.base_url)
        data = local.model_dump(mode="json")
        data["roles"]["default"][0]["model"] = "smollm2-135m"
        asyncio.run(LLMTeam(ProvidersConfig.model_validate(data), sleep=InstantSleep()).engineer(
            context(), PROPOSAL))
        engineer, selector, unknown = (r.json for r in srv.requests)
    assert engineer["max_tokens"] == 16_384 and selector["max_tokens"] == 1024
    assert "max_tokens" not in unknown  # a local model's server bounds it by its context instead


def test_the_providers_file_max_tokens_wins_over_the_role_default() -> None:
    with FakeAnthropicServer(default=RoleScript({"engineer": [edit("DEGREE = 1", "DEGREE = 2")]})) as srv:
        data = providers_config(srv.base_url, "anthropic").model_dump(mode="json")
        data["roles"]["default"][0]["max_tokens"] = 3000
        asyncio.run(LLMTeam(ProvidersConfig.model_validate(data), sleep=InstantSleep()).engineer(
            context(), PROPOSAL))
        assert srv.requests[0].json["max_tokens"] == 3000


# -- rate limits, server errors, slow servers ----------------------------------------------------------


def test_anthropic_rate_limit_and_overload_are_waited_out() -> None:
    answers = debate_answers(rounds=2)
    answers["proposer"].insert(0, rate_limited("4"))
    answers["critic"].insert(0, overloaded(529, retry_after="1"))
    answers["critic"].insert(1, overloaded(503))
    sleep = InstantSleep()
    with FakeAnthropicServer(default=RoleScript(answers)) as srv:
        outcome = asyncio.run(_team(srv, "anthropic", sleep=sleep, max_attempts=4).debate(context(), 2))
    assert outcome.proposal.title == "Quintic polynomial fit"
    assert sleep.calls[:2] == [4.0, 1.0] and len(sleep.calls) == 3  # Retry-After, then jittered back-off
    critic = [m for m in outcome.messages if m.role == "critic"]
    assert critic[0].payload["attempts"] == 3


def test_a_slow_first_byte_within_the_read_timeout_is_waited_for() -> None:
    answers = debate_answers(rounds=1)
    answers["proposer"] = [SlowStart(answers["proposer"][0], first_byte_s=0.6, chunks=4, gap_s=0.05)]
    with FakeOpenAIServer(default=RoleScript(answers)) as srv:
        outcome = asyncio.run(_team(srv, read_timeout_s=2.0).debate(context(), 1))
    assert outcome.proposal.title == "Quintic polynomial fit"
    assert outcome.messages[-1].payload["attempts"] == 1
    assert outcome.messages[-1].latency_s >= 0.6


def test_a_first_byte_later_than_the_read_timeout_is_retried() -> None:
    answers = debate_answers(rounds=1)
    answers["proposer"].insert(0, SlowStart(Reply("too late"), first_byte_s=3.0))
    with FakeOpenAIServer(default=RoleScript(answers)) as srv:
        outcome = asyncio.run(_team(srv, read_timeout_s=0.3).debate(context(), 1))
        assert [role_of(r) for r in srv.requests] == ["proposer", "proposer"]
    assert outcome.messages[-1].payload["attempts"] == 2


def test_a_llama_cpp_python_server_gets_schemas_in_its_own_dialect() -> None:
    answers = debate_answers(rounds=1)
    answers["selector"] = ['{"votes": [5]}']
    with FakeOpenAIServer(default=RoleScript(answers), response_format_types={"text", "json_object"}) as srv:
        team = _team(srv)
        outcome = asyncio.run(team.debate(context(), 1))
        ballot = asyncio.run(team.vote(CANDIDATES, 1, 0, 1))
        types = [r.json["response_format"]["type"] for r in srv.requests]
    assert types == ["json_schema", "json_object", "json_object"]  # the selector's provider knew at once
    assert outcome.messages[-1].payload["structured_output"] is True and ballot.payload["votes"] == [5]


def test_continued_and_fallback_answers_replay_from_the_recording(tmp_path) -> None:
    """A continuation is its own recorded exchange and the schema stays in the recorded request, so a
    replay (no server) rebuilds the same stitched code and proposal."""
    from agents.llm import Recorder

    path = tmp_path / "rec.jsonl"
    answers = debate_answers(rounds=1)
    answers["engineer"] = [Reply(WHOLE), _go_on(WHOLE), _go_on(WHOLE)]
    options = TeamOptions(max_tokens={"engineer": 30})
    with FakeOpenAIServer(default=RoleScript(answers), refuse_fields={"response_format"}) as srv:
        config = providers_config(srv.base_url)
        with Recorder(path) as recorder:
            team = LLMTeam(config, recorder=recorder, options=options, sleep=InstantSleep())
            outcome = asyncio.run(team.debate(context(), 1))
            code = asyncio.run(team.engineer(context(), PROPOSAL))
    from agents.llm.recording import Recording

    recorded = {e.kind: e.response for e in Recording.load(path).exchanges}
    assert recorded["proposal"]["structured"] is False
    assert "response_format" in recorded["proposal"]["structured_fallback"]
    assert recorded["implementation_continuation"]["finish_reason"] in ("stop", "length")
    replay = LLMTeam.from_recording(path)
    again = asyncio.run(replay.debate(context(), 1))
    code_again = asyncio.run(replay.engineer(context(), PROPOSAL))
    assert again.proposal == outcome.proposal and code_again.code == code.code
    assert code_again.messages[0].payload["continuations"] == 2
    assert again.messages[-1].payload["structured_fallback"] == outcome.messages[-1].payload["structured_fallback"]


def test_a_recording_made_before_schemas_replays_with_the_old_requests(tmp_path) -> None:
    """Format-1 recordings hold requests without schemas or role output limits; their replay must ask the
    same way, and a format-2 reading of the same file must not match (so the flag is what makes it work)."""
    from agents.llm import Recorder
    from agents.llm.recording import ReplayDivergence

    path = tmp_path / "old.jsonl"
    answers = debate_answers(rounds=1)
    answers["engineer"] = [edit("DEGREE = 1", "DEGREE = 5")]
    with FakeOpenAIServer(default=RoleScript(answers)) as srv:
        with Recorder(path) as recorder:
            team = LLMTeam(providers_config(srv.base_url), recorder=recorder, sleep=InstantSleep())
            team.caller.legacy_requests = True  # asks the way the team did before format 2
            outcome = asyncio.run(team.debate(context(), 1))
            code = asyncio.run(team.engineer(context(), PROPOSAL))
        assert "response_format" not in srv.requests[0].json and "max_tokens" not in srv.requests[1].json
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    old = tmp_path / "format1.jsonl"
    old.write_text("\n".join([json.dumps({**header, "format": 1}), *lines[1:]]) + "\n")
    replay = LLMTeam.from_recording(old)
    assert asyncio.run(replay.debate(context(), 1)).proposal == outcome.proposal
    assert asyncio.run(replay.engineer(context(), PROPOSAL)).code == code.code
    with pytest.raises(ReplayDivergence):
        asyncio.run(LLMTeam.from_recording(path).debate(context(), 1))


def test_an_empty_answer_cut_at_the_limit_is_not_continued() -> None:
    """A reasoning model can spend the whole limit thinking: there is nothing to continue, so the usual
    repair request follows instead."""
    answers = debate_answers(rounds=1)
    answers["proposer"].insert(0, Reply("", finish_reason="length"))
    with FakeOpenAIServer(default=RoleScript(answers)) as srv:
        outcome = asyncio.run(_team(srv).debate(context(), 1))
        assert CONTINUE_PROMPT not in last_user_text(srv.requests[1])
    assert [m.kind for m in outcome.messages] == ["proposal", "proposal_repair"]
    assert outcome.messages[0].payload["truncated"] is True


def test_a_budget_reached_between_parts_still_hands_on_the_paid_part() -> None:
    from agents.providers import BudgetCaps, BudgetExceeded, UsageLedger

    seen = []
    ledger = UsageLedger(BudgetCaps(max_total_tokens=40))  # spent by the first part (10 in + 30 out)
    script = RoleScript({"engineer": [Reply(WHOLE), _go_on(WHOLE)]})
    with FakeOpenAIServer(default=script) as srv:
        team = LLMTeam(providers_config(srv.base_url), ledger, options=TeamOptions(max_tokens={"engineer": 30}),
                       sleep=InstantSleep(), on_message=seen.append)
        with pytest.raises(BudgetExceeded):
            asyncio.run(team.engineer(context(), PROPOSAL))
        assert len(srv.requests) == 1
    assert len(seen) == 1 and seen[0].payload["truncated"] is True and seen[0].tokens_out == 30
