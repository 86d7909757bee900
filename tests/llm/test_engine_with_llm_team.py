"""The campaign engine driving ``LLMTeam`` against a fake OpenAI server: real sandbox runs, real database.

This checks the wiring the unit tests cannot: that the engine accepts the team's messages and votes, that
the engineer's edits produce runnable candidates, and that the ledger sees the whole campaign.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from pathlib import Path

import pytest

from agents.llm import LLMTeam
from agents.providers import UsageLedger
from app.campaigns.config import CampaignConfig
from app.campaigns.engine import CampaignEngine
from app.campaigns.service import create_campaign
from app.db import repository as repo
from app.db.artifacts import ArtifactStore
from app.db.session import Database, upgrade_database
from sandbox.evaluate import Evaluator
from tests.campaigns.scripted_team import poly
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.script import Reply, Status
from tests.llm.helpers import InstantSleep, last_user_text, proposal_json, providers_config, role_of

EXAMPLE = str(Path(__file__).resolve().parents[2] / "problems" / "examples" / "damped_oscillator")


class Router:
    """Plausible answers for every role, computed from the request."""

    def __init__(self) -> None:
        self.degrees = itertools.count(3)

    def __call__(self, req) -> Reply:
        role, user = role_of(req), last_user_text(req)
        if role == "root_engineer":
            return Reply("```python\n" + poly(1) + "```")
        if role == "proposer":
            if "final round" in user:
                return Reply(proposal_json(title="Higher polynomial degree",
                                           rationale="Raise DEGREE so the fit follows the oscillation."))
            return Reply("The straight line cannot follow the oscillation; raise the degree.")
        if role == "engineer":
            current = re.search(r"DEGREE = (\d+)", user).group(1)
            return Reply(f"<<<<<<< SEARCH\nDEGREE = {current}\n=======\nDEGREE = {next(self.degrees)}\n"
                         ">>>>>>> REPLACE\n")
        if role == "selector":
            ids = [int(i) for i in re.findall(r"^node (\d+):", user, re.MULTILINE)]
            return Reply(json.dumps({"votes": ids[:1], "reason": "lowest error"}))
        if role == "debugger":
            return Reply("GIVE UP: cannot tell")
        return Reply(f"{role} report: nothing unusual.")


def fresh_db(tmp_path) -> Database:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade_database(url)
    return Database(url)


def small_config(iterations: int) -> CampaignConfig:
    return CampaignConfig(problem=EXAMPLE, iterations=iterations, parents=1, selectors=1, smoke_seconds=0,
                          debate_rounds=2, candidate_seconds=20)


def run_with_fresh_team(db, tmp_path, evaluator, base_url: str, campaign_id: str) -> dict:
    """Run (or resume) the campaign with a new team on the fake server, as a new process would."""
    team = LLMTeam(providers_config(base_url), UsageLedger(), campaign_id=campaign_id, sleep=InstantSleep())
    try:
        return asyncio.run(CampaignEngine(db, ArtifactStore(tmp_path / "artifacts"), evaluator, team)
                           .run(campaign_id))
    finally:
        asyncio.run(team.aclose())


def test_engine_runs_a_campaign_with_the_llm_team(tmp_path, monkeypatch) -> None:
    # Every answer is flushed from the live buffer at the loop's next turn, as an answer slower than
    # LIVE_FLUSH_S is (this fake answers in milliseconds; tests/campaigns/test_commit_budget.py checks that
    # fast answers share their step's transaction instead).
    monkeypatch.setattr("app.campaigns.engine.LIVE_FLUSH_S", 0.0)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade_database(url)
    db = Database(url)
    ledger = UsageLedger()
    with Evaluator(tmp_path / "runs", tmp_path / "cache", secret_dirs=[tmp_path], warm_workers=1) as evaluator, \
            FakeOpenAIServer(default=Router()) as srv:
        config = CampaignConfig(problem=EXAMPLE, iterations=2, parents=2, selectors=2, smoke_seconds=0,
                                debate_rounds=2, candidate_seconds=20)
        campaign_id = create_campaign(db, config)
        team = LLMTeam(providers_config(srv.base_url), ledger, campaign_id=campaign_id, sleep=InstantSleep())
        engine = CampaignEngine(db, ArtifactStore(tmp_path / "artifacts"), evaluator, team)
        summary = asyncio.run(engine.run(campaign_id))
        asyncio.run(team.aclose())
    assert summary["status"] == "completed", summary
    assert summary["champion_score"] < summary["root_score"]
    with db.session_scope(readonly=True) as s:
        nodes = repo.list_nodes(s, campaign_id)
        messages = repo.list_messages(s, campaign_id)
        assert all(n.status == "succeeded" for n in nodes), [(n.id, n.status, n.error) for n in nodes]
        assert len(nodes) >= 3
        roles = {m.role for m in messages}
        assert {"data_analyst", "proposer", "critic", "engineer", "result_analyst", "selector"} <= roles
        llm_messages = [m for m in messages if m.role in ("proposer", "critic", "engineer", "selector")]
        assert all(m.prompt_version and m.model == "gpt-4o" and m.tokens_in > 0 for m in llm_messages)
    by_role = ledger.by_role(campaign_id)
    assert by_role["proposer"].calls == 2 * (len(nodes) - 1)  # plan + final per child

    # Live: each exchange was stored and streamed as it completed, i.e. a child's debate messages were
    # emitted before the child existed (with the parent named), then attached to the child, each once.
    from app.db.events import list_events

    with db.session_scope(readonly=True) as s:
        events = [(e.seq, e.type, e.node_id, dict(e.payload or {}))
                  for e in list_events(s, campaign_id, limit=100_000)]
        campaign_tokens_in = repo.get_campaign(s, campaign_id).tokens_in
        children = [(n.id, n.parent_id) for n in repo.list_nodes(s, campaign_id) if n.parent_id is not None]
        said = [(m.id, m.node_id, m.role) for m in repo.list_messages(s, campaign_id)]
    created = {node_id: seq for seq, kind, node_id, _ in events if kind == "node.created"}
    events_of = {payload.get("message_id"): (seq, node_id, payload)
                 for seq, kind, node_id, payload in events if kind == "message"}
    assert children
    for node_id, parent_id in children:
        debate = [mid for mid, on, role in said if on == node_id and role in ("proposer", "critic")]
        assert len(debate) == 3  # two rounds: a plan, its feasibility check, then the final proposal
        for mid in debate:
            seq, event_node, payload = events_of[mid]
            assert seq < created[node_id] and event_node is None
            assert payload["parent_id"] == parent_id
    assert by_role["proposer"].calls + by_role["critic"].calls == len(
        [mid for mid, _, role in said if role in ("proposer", "critic")])
    totals = ledger.totals(campaign_id)
    assert campaign_tokens_in == totals.input_tokens  # usage counted once, not again for merged answers
    assert by_role["selector"].calls == 2
    db.dispose()


class Outage:
    """The Router's answers, until the first critic call: from then on every request gets ``status`` until
    ``failing`` is cleared (the provider went down, or the key was revoked, mid-debate)."""

    def __init__(self, status: int) -> None:
        self.router, self.status, self.failing, self.tripped = Router(), status, False, False
        self.refused = 0

    def __call__(self, req) -> Reply | Status:
        if not self.tripped and role_of(req) == "critic":
            self.failing = self.tripped = True
        if self.failing:
            self.refused += 1
            return Status(self.status, message="service unavailable" if self.status >= 500 else "invalid api key")
        return self.router(req)


@pytest.mark.parametrize("status, reason", [(503, "LLM provider unavailable"), (401, "LLM provider refused")])
def test_a_provider_failure_mid_debate_pauses_the_campaign_and_resume_finishes_it(tmp_path, status, reason):
    db = fresh_db(tmp_path)
    outage = Outage(status)
    with Evaluator(tmp_path / "runs", tmp_path / "cache", secret_dirs=[tmp_path], warm_workers=0) as evaluator, \
            FakeOpenAIServer(default=outage) as srv:
        campaign_id = create_campaign(db, small_config(2))
        paused = run_with_fresh_team(db, tmp_path, evaluator, srv.base_url, campaign_id)
        with db.session_scope(readonly=True) as s:
            campaign = repo.get_campaign(s, campaign_id)
            state, error = campaign.status, campaign.error
            before = [(n.id, n.status) for n in repo.list_nodes(s, campaign_id)]
            said_before = len(repo.list_messages(s, campaign_id))
        assert paused["status"] == "paused" and state == "paused", (paused, error)
        assert reason in error and f"HTTP {status}" in error and "resume" in error
        assert outage.refused == (3 if status == 503 else 1)  # retried to the last attempt only when it may help
        assert before == [(before[0][0], "succeeded")]  # the root is kept; no half-made child was stored

        outage.failing = False
        finished = run_with_fresh_team(db, tmp_path, evaluator, srv.base_url, campaign_id)
        with db.session_scope(readonly=True) as s:
            nodes = [(n.id, n.status) for n in repo.list_nodes(s, campaign_id)]
            said_after = len(repo.list_messages(s, campaign_id))
    assert finished["status"] == "completed", finished
    assert nodes[0] == before[0] and len(nodes) == 3 and {st for _, st in nodes} == {"succeeded"}
    assert said_after > said_before  # what was said before the pause is kept, the resumed run adds to it
    db.dispose()


@pytest.mark.parametrize("slow_role", ["proposer", "result_analyst"])
def test_an_interrupt_does_not_wait_for_a_slow_llm_answer(tmp_path, slow_role):
    """Ctrl-C (or a pause) while the proposer, or the result analyst of a child, takes minutes: the campaign
    pauses within seconds; a resume proposes the cut child again, or writes the cut analysis."""
    import threading
    import time

    db = fresh_db(tmp_path)
    router, slow = Router(), {"on": True, "asked": threading.Event(), "seen": 0}

    def answer(req):
        role = role_of(req)
        if role == slow_role:
            slow["seen"] += 1
        # The root's analysis is answered: it is the child's that is slow.
        if role == slow_role and slow["on"] and (role != "result_analyst" or slow["seen"] > 1):
            slow["asked"].set()
            return Reply("thinking...", delay_s=60)
        return router(req)

    with Evaluator(tmp_path / "runs", tmp_path / "cache", secret_dirs=[tmp_path], warm_workers=0) as evaluator, \
            FakeOpenAIServer(default=answer) as srv:
        campaign_id = create_campaign(db, small_config(1))

        def engine_and_team():
            team = LLMTeam(providers_config(srv.base_url, read_timeout_s=120), UsageLedger(),
                           campaign_id=campaign_id, sleep=InstantSleep())
            return CampaignEngine(db, ArtifactStore(tmp_path / "artifacts"), evaluator, team), team

        engine, team = engine_and_team()
        outcome: dict = {}
        runner = threading.Thread(target=lambda: outcome.update(asyncio.run(engine.run(campaign_id))))
        runner.start()
        assert slow["asked"].wait(60), f"the {slow_role} was never asked"
        time.sleep(0.3)
        asked_at = time.monotonic()
        engine.cancel.set()
        runner.join(30)
        waited = time.monotonic() - asked_at
        asyncio.run(team.aclose())
        assert not runner.is_alive() and outcome["status"] == "paused", outcome
        assert waited < 10, f"the interrupt waited {waited:.1f} s for the LLM"
        with db.session_scope(readonly=True) as s:
            paused = [(n.status, n.analysis is not None) for n in repo.list_nodes(s, campaign_id)]
            assert "resume" in repo.get_campaign(s, campaign_id).error
        if slow_role == "proposer":
            assert paused == [("succeeded", True)]  # the root only
        else:
            assert paused == [("succeeded", True), ("succeeded", False)]  # scored, its analysis cut

        slow["on"] = False
        finished = run_with_fresh_team(db, tmp_path, evaluator, srv.base_url, campaign_id)
    assert finished["status"] == "completed"
    with db.session_scope(readonly=True) as s:
        nodes = [(n.id, n.status, bool(n.analysis)) for n in repo.list_nodes(s, campaign_id)]
        analyses = [m.node_id for m in repo.list_messages(s, campaign_id) if m.role == "result_analyst"]
    assert [(st, a) for _, st, a in nodes] == [("succeeded", True), ("succeeded", True)]
    assert sorted(analyses) == [i for i, _, _ in nodes]  # one analysis each, none lost, none doubled
    db.dispose()


class CardsMemory:
    """A method memory offering fixed cards; ``grown`` adds a card first, as a finished campaign does."""

    name = "full"

    def __init__(self, grown: bool = False) -> None:
        self.cards = [{"id": f"card-{i}", "title": f"Method {i}", "family": "test", "failure_modes": ["x"],
                       "body": f"Use method {i}.", "score": 0.9 - i / 10} for i in range(3)]
        if grown:
            self.cards.insert(0, {"id": "discovered-1", "title": "What the campaign found", "family": "found",
                                  "failure_modes": [], "body": "Its own champion.", "score": 0.99})

    async def shortlist(self, ctx):
        return [dict(c) for c in self.cards]


def test_a_strict_replay_does_not_depend_on_the_memory_having_grown(tmp_path):
    from agents.llm.recording import NodeAliases, Recorder, Recording

    db = fresh_db(tmp_path)
    router = Router()

    def answer(req):
        if role_of(req) == "retriever":
            return Reply(json.dumps({"card": re.search(r"card id: (\S+)", last_user_text(req)).group(1),
                                     "reason": "first on the list"}))
        return router(req)

    path = tmp_path / "recording.jsonl"
    config = small_config(2)
    with Evaluator(tmp_path / "runs", tmp_path / "cache", secret_dirs=[tmp_path], warm_workers=0) as evaluator:
        with FakeOpenAIServer(default=answer) as srv:
            original = create_campaign(db, config)
            team = LLMTeam(providers_config(srv.base_url), UsageLedger(), Recorder(path), campaign_id=original,
                           sleep=InstantSleep())
            recorded = asyncio.run(CampaignEngine(db, ArtifactStore(tmp_path / "artifacts"), evaluator, team,
                                                  memory=CardsMemory()).run(original))
            asyncio.run(team.aclose())
        assert len(Recording.load(path).shortlists) == 2  # one per child

        # No server now; memory offers a card the recorded campaign never saw, first.
        with db.session_scope(readonly=True) as s:
            aliases = NodeAliases((n.id, n.parent_id, n.iteration) for n in repo.list_nodes(s, original))
        replay = create_campaign(db, config)
        team = LLMTeam.from_recording(path, strict=True, campaign_id=replay, node_aliases=aliases)

        def observe(type_, payload, node_id):
            if node_id is not None and not aliases.knows(node_id):
                with db.session_scope(readonly=True) as s:
                    node = repo.get_node(s, node_id)
                    aliases.observe(node.id, node.parent_id, node.iteration)

        replayed = asyncio.run(CampaignEngine(db, ArtifactStore(tmp_path / "artifacts"), evaluator, team,
                                              memory=CardsMemory(grown=True), on_event=observe).run(replay))
    assert recorded["status"] == replayed["status"] == "completed", replayed
    with db.session_scope(readonly=True) as s:
        def tree(cid):
            return [(n.iteration, n.status, n.score, (n.proposal or {}).get("card"))
                    for n in repo.list_nodes(s, cid)]
        assert tree(replay) == tree(original)
        assert [c for *_, c in tree(original)] == [None, "card-0", "card-0"]
    db.dispose()


def test_a_request_the_provider_rejects_fails_that_child_only(tmp_path):
    """A 400 (the prompt is too long for the model, say) would come back on every resume: it fails the
    child whose debate hit it, with the provider's words, and the campaign goes on."""
    db = fresh_db(tmp_path)
    router, seen = Router(), {"critic": 0}

    def answer(req):
        if role_of(req) == "critic":
            seen["critic"] += 1
            if seen["critic"] == 1:
                return Status(400, message="maximum context length exceeded")
        return router(req)

    with Evaluator(tmp_path / "runs", tmp_path / "cache", secret_dirs=[tmp_path], warm_workers=0) as evaluator, \
            FakeOpenAIServer(default=answer) as srv:
        campaign_id = create_campaign(db, small_config(2))
        summary = run_with_fresh_team(db, tmp_path, evaluator, srv.base_url, campaign_id)
    assert summary["status"] == "completed", summary
    with db.session_scope(readonly=True) as s:
        nodes = [(n.iteration, n.status, n.error) for n in repo.list_nodes(s, campaign_id)]
    assert [(i, st) for i, st, _ in nodes] == [(0, "succeeded"), (1, "failed"), (2, "succeeded")]
    assert "HTTP 400" in nodes[1][2] and "maximum context length exceeded" in nodes[1][2]
    db.dispose()
