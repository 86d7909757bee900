"""A whole LLM campaign over the Anthropic protocol with a fault at every step the issue names.

The fake Anthropic server answers like a sensible team, except where the plan below injects a fault:
root code without fences, a 429 with Retry-After, a 500, a malformed body, an edit that does not apply,
code that crashes (the debugger then fixes it), and a token budget that runs out in the middle of the
third iteration. The campaign must end ``completed`` on the budget rule with a consistent state: no node
left pending or running, every paid exchange stored once with its usage, events numbered without gaps.
"""

from __future__ import annotations

import asyncio
import collections
import re
import threading
from pathlib import Path

from agents.llm import LLMTeam
from agents.providers import BudgetCaps, UsageLedger
from app.campaigns.config import CampaignConfig
from app.campaigns.engine import CampaignEngine
from app.campaigns.service import create_campaign
from app.db import repository as repo
from app.db.artifacts import ArtifactStore
from app.db.events import list_events
from app.db.session import Database, upgrade_database
from sandbox.evaluate import Evaluator
from tests.campaigns.scripted_team import poly
from tests.fakes.anthropic_server import FakeAnthropicServer
from tests.fakes.script import Malformed, Reply, Status, rate_limited
from tests.llm.helpers import InstantSleep, last_user_text, providers_config, role_of
from tests.llm.test_engine_with_llm_team import Router

EXAMPLE = str(Path(__file__).resolve().parents[2] / "problems" / "examples" / "damped_oscillator")


def _current_degree(req) -> str:
    return re.search(r"DEGREE = (\d+)", last_user_text(req)).group(1)


class FaultPlan:
    """Router answers, with the n-th request of a role replaced by a fault."""

    def __init__(self) -> None:
        self.router = Router()
        self.seen: collections.Counter[str] = collections.Counter()
        self.injected: list[tuple[str, int, str]] = []
        self._lock = threading.Lock()
        self.plan = {
            ("root_engineer", 1): lambda req: Reply(poly(1)),  # no code fences
            ("proposer", 1): lambda req: rate_limited("2"),
            ("critic", 1): lambda req: Status(500, message="overloaded"),
            ("engineer", 1): lambda req: Malformed(),  # the transport retries: request 2 is the same call
            ("engineer", 2): lambda req: Reply("<<<<<<< SEARCH\nDEGREE = 99\n=======\nDEGREE = 4\n>>>>>>> REPLACE\n"),
            ("engineer", 3): lambda req: Reply("<<<<<<< SEARCH\nDEGREE = 1\n=======\nDEGREE = 4\n>>>>>>> REPLACE\n"),
            # second child: an edit that applies but crashes when it runs; the debugger repairs it
            ("engineer", 4): lambda req: Reply(f"<<<<<<< SEARCH\nDEGREE = {_current_degree(req)}\n=======\n"
                                               "DEGREE = int('three')\n>>>>>>> REPLACE\n"),
            ("debugger", 1): lambda req: Reply("The degree must be an integer literal.\n```python\n" + poly(3)
                                               + "```"),
        }

    def __call__(self, req):
        role = role_of(req)
        with self._lock:
            self.seen[role] += 1
            fault = self.plan.pop((role, self.seen[role]), None)
            if fault is not None:
                self.injected.append((role, self.seen[role], type(fault(req)).__name__))
        return fault(req) if fault is not None else self.router(req)


def test_a_campaign_survives_every_fault_and_stops_cleanly_on_its_budget(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade_database(url)
    db = Database(url)
    plan, sleep, ledger = FaultPlan(), InstantSleep(), UsageLedger()
    with Evaluator(tmp_path / "runs", tmp_path / "cache", secret_dirs=[tmp_path], warm_workers=0) as evaluator, \
            FakeAnthropicServer(default=plan) as srv:
        config = CampaignConfig(problem=EXAMPLE, iterations=3, parents=1, selectors=1, smoke_seconds=0,
                                debate_rounds=2, candidate_seconds=20, debug_attempts=1)
        campaign_id = create_campaign(db, config)
        team = LLMTeam(providers_config(srv.base_url, kind="anthropic"), ledger, campaign_id=campaign_id,
                       sleep=sleep)

        def on_event(type_, payload, node_id):
            if type_ == "iteration.finished" and payload["iteration"] == 2:
                # A few more calls' worth of tokens: the third iteration's debate runs out of budget.
                used = ledger.totals(campaign_id).total_tokens
                ledger.set_caps(BudgetCaps(max_total_tokens=used + 60), campaign_id=campaign_id)

        engine = CampaignEngine(db, ArtifactStore(tmp_path / "artifacts"), evaluator, team, on_event=on_event)
        summary = asyncio.run(engine.run(campaign_id))
        asyncio.run(team.aclose())

    assert 2.0 in sleep.calls  # Retry-After honoured
    assert summary["status"] == "completed", summary
    with db.session_scope(readonly=True) as s:
        campaign = repo.get_campaign(s, campaign_id)
        reason = [e.payload.get("reason") for e in list_events(s, campaign_id, limit=100_000)
                  if e.type == "campaign.completed"]
        seqs = [e.seq for e in list_events(s, campaign_id, limit=100_000)]
        nodes = [(n.iteration, n.status, n.score, n.code) for n in repo.list_nodes(s, campaign_id)]
        attempts = [a.outcome for n in repo.list_nodes(s, campaign_id) for a in n.attempts]
        messages = repo.list_messages(s, campaign_id)
        stored = [(m.role, m.tokens_in, m.tokens_out) for m in messages]
        campaign_tokens = (campaign.tokens_in, campaign.tokens_out)
        errors = [(n.id, n.status, n.error) for n in repo.list_nodes(s, campaign_id)]
    assert not plan.plan, f"faults never triggered: {sorted(plan.plan)}; injected {plan.injected}; {errors}"
    assert reason and "budget reached" in reason[0]
    assert seqs == list(range(1, len(seqs) + 1))
    # Root, two children; the third iteration's child was never made (the budget ran out in its debate).
    assert [(i, st) for i, st, _, _ in nodes] == [(0, "succeeded"), (1, "succeeded"), (2, "succeeded")]
    assert "DEGREE = 3" in nodes[2][3] and attempts == ["retrying"]  # the debugger's fix is what was scored
    assert "DEGREE = 4" in nodes[1][3]  # the edit was sent back once, then applied
    totals = ledger.totals(campaign_id)
    assert campaign_tokens == (totals.input_tokens, totals.output_tokens)  # every paid call counted once
    roles = collections.Counter(role for role, _, _ in stored)
    assert roles["debugger"] == 1 and roles["proposer"] >= 5 and roles["critic"] >= 2
    db.dispose()
