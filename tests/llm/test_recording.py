"""Record a team's exchanges, then replay them with no server at all."""

from __future__ import annotations

import asyncio
import json

import pytest

from agents.llm import LLMTeam, Recorder, ReplayDivergence, TeamOptions
from agents.llm.recording import Recording, ReplayBook, ReplayProvider, request_hash
from agents.providers import ChatMessage, ChatRequest, ChatResponse, UsageLedger
from tests.fakes.openai_server import FakeOpenAIServer
from tests.llm.helpers import InstantSleep, context, providers_config
from tests.llm.test_team_flow import full_script, run_flow


def _dump(out: dict) -> str:
    def plain(value):
        if hasattr(value, "model_dump"):
            return value.model_dump(mode="json")
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return json.dumps({k: plain(v) for k, v in out.items()}, sort_keys=True)


def test_record_then_replay_gives_identical_outputs_without_a_server(tmp_path) -> None:
    path = tmp_path / "campaign.jsonl"
    options = TeamOptions(engineer_attempts=2, temperature={"proposer": 0.9})
    with FakeOpenAIServer(default=full_script()) as srv:
        config = providers_config(srv.base_url, proposer_model="gpt-4.1", selector_models=["gpt-4o", "o3"])
        with Recorder(path) as recorder:
            team = LLMTeam(config, UsageLedger(), recorder, options=options, campaign_id="c1",
                           sleep=InstantSleep())
            original = asyncio.run(run_flow(team))
        url = srv.base_url
    # The server is gone: any network call would now fail.
    assert url in path.read_text()  # where the provider lives is recorded, keys are not
    ledger = UsageLedger()
    replay = LLMTeam.from_recording(path, ledger, campaign_id="c1")
    assert replay.options == options
    replayed = asyncio.run(run_flow(replay))
    assert _dump(replayed) == _dump(original)
    assert ledger.totals("c1").calls == 14 and ledger.totals("c1").cost_usd > 0
    # A second replay of the same flow finds every answer already used.
    with pytest.raises(ReplayDivergence, match="no unused 'data_analyst' exchanges left"):
        asyncio.run(run_flow(replay))


def test_divergent_request_fails_clearly(tmp_path) -> None:
    path = tmp_path / "rec.jsonl"
    with FakeOpenAIServer(default=full_script()) as srv:
        with Recorder(path) as recorder:
            team = LLMTeam(providers_config(srv.base_url), recorder=recorder, sleep=InstantSleep())
            asyncio.run(team.debate(context(), 4))
    replay = LLMTeam.from_recording(path)
    changed = context(parent_code=context().parent_code.replace("DEGREE = 1", "DEGREE = 2"))
    with pytest.raises(ReplayDivergence) as info:
        asyncio.run(replay.debate(changed, 4))
    message = str(info.value)
    assert "'proposer'" in message and "#1" in message and "first differs at character" in message
    assert "DEGREE = 1" in message or "DEGREE = 2" in message


def _response(text: str) -> ChatResponse:
    return ChatResponse(text=text, model="m", provider="p", input_tokens=1, output_tokens=1, latency_s=0.1,
                        cost_usd=0.0)


def test_replay_book_keys_by_role_and_hash_and_recorder_continues_numbering(tmp_path) -> None:
    path = tmp_path / "r.jsonl"
    same = ChatRequest(messages=[ChatMessage(role="user", content="vote")])
    with Recorder(path) as rec:
        rec.write_header()
        rec.record(role="selector", kind="vote", provider="p", model="a", request=same, response=_response("A1"))
        rec.record(role="selector", kind="vote", provider="p", model="b", request=same, response=_response("B1"))
        rec.record(role="selector", kind="vote", provider="p", model="a", request=same, response=_response("A2"))
    with Recorder(path) as rec:  # a resumed campaign appends
        rec.record(role="critic", kind="critique", provider="p", model="a", request=same, response=_response("C"))
    recording = Recording.load(path)
    assert [e.seq for e in recording.exchanges] == [1, 2, 3, 4]
    assert recording.providers_config() is None
    assert request_hash("selector", "a", same) != request_hash("selector", "b", same)
    assert request_hash("selector", "a", same) != request_hash("critic", "a", same)

    book = ReplayBook(recording)
    a, b = ReplayProvider(book, "selector", "a"), ReplayProvider(book, "selector", "b")
    answers = asyncio.run(_ask_all([b, a, a], same))
    assert answers == ["B1", "A1", "A2"]  # same prompt to two models: each gets its own answers, in order
    assert book.remaining == 1
    with pytest.raises(ReplayDivergence, match="left"):
        asyncio.run(a.complete(same))


async def _ask_all(providers, request):
    return [(await p.complete(request)).text for p in providers]


def test_truncated_last_line_is_tolerated_but_corruption_is_not(tmp_path) -> None:
    path = tmp_path / "r.jsonl"
    request = ChatRequest(messages=[ChatMessage(role="user", content="x")])
    with Recorder(path) as rec:
        rec.record(role="critic", kind="critique", provider="p", model="a", request=request,
                   response=_response("C"))
    text = path.read_text()
    path.write_text(text + text[: len(text) // 2])  # killed mid-write
    assert len(Recording.load(path).exchanges) == 1
    path.write_text(text[: len(text) // 2] + "\n" + text)
    with pytest.raises(ValueError, match=":1: not a recording line"):
        Recording.load(path)


def test_header_keeps_where_keys_live_but_never_a_key(tmp_path) -> None:
    from agents.providers import ProvidersConfig

    config = ProvidersConfig.model_validate({"roles": {"default": {
        "provider": "openai", "model": "m", "api_key": "sk-inline-secret", "base_url": "http://127.0.0.1:1/v1",
        "extra_headers": {"Authorization": "Bearer sk-header-secret", "HTTP-Referer": "https://example.org"}}}})
    path = tmp_path / "h.jsonl"
    with Recorder(path) as rec:
        rec.write_header(config, {"debate_rounds": 4})
    text = path.read_text()
    assert "secret" not in text and "<redacted>" in text and "https://example.org" in text
    assert Recording.load(path).providers_config().roles["default"][0].model == "m"


def test_lenient_replay_answers_in_recorded_order_and_counts_divergences(tmp_path) -> None:
    path = tmp_path / "rec.jsonl"
    with FakeOpenAIServer(default=full_script()) as srv:
        with Recorder(path) as recorder:
            team = LLMTeam(providers_config(srv.base_url), recorder=recorder, sleep=InstantSleep())
            original = asyncio.run(team.debate(context(), 4))
    changed = context(parent_code=context().parent_code.replace("DEGREE = 1", "DEGREE = 2"))
    replay = LLMTeam.from_recording(path, strict=False)
    outcome = asyncio.run(replay.debate(changed, 4))
    assert [m.text for m in outcome.messages] == [m.text for m in original.messages]
    book = replay.caller.provider("proposer", 0)[0].book
    assert len(book.divergences) == 7 and book.remaining == 0
