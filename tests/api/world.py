"""A populated service for the module-scoped API tests (owner matrix, schema fuzzing): users, keys, resources.

Building it costs one short campaign run (a few seconds with the scripted team and the inline evaluator), so
the modules that need finished campaigns, nodes, batches, schedules, uploaded problems and discovered cards
build it once and share it between all their cases. The campaign is trained by a first server with one
in-process worker, which is then stopped: the server the tests talk to has no workers, so the campaigns and
batches they create stay queued (cancel, pause, resume and delete then behave deterministically).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from app.api.auth import revoke_key
from app.db import repository as repo
from app.db.artifacts import ArtifactStore
from app.db.models import KnowledgeLink
from knowledge_base.embeddings import HashingEmbedder
from knowledge_base.retrieval import MethodMemory
from tests.api.harness import Running, Stack, card_markdown, small_campaign, upload_example, wait_for

#: Limits high enough that the many queued campaigns of a test module are never refused with a 429.
SERVICE_OVERRIDES: dict[str, Any] = dict(ready_requires_workers=False, max_active_campaigns=10_000,
                                         max_active_campaigns_per_user=10_000)
SMALL_TEAM = {"iterations": 1, "parents": 1, "smoke_seconds": 0, "debug_attempts": 1, "debate_rounds": 2,
              "memory": "none"}


def batch_body(problem: str, name: str = "pair") -> dict[str, Any]:
    """A one-campaign batch on ``problem``."""
    return {"name": name, "problems": [problem], "teams": [{"name": "t0", **SMALL_TEAM}]}


def schedule_body(problem: str, name: str) -> dict[str, Any]:
    """A daily schedule (it never fires while a test runs) of a one-campaign batch."""
    return {"name": name, "cron": "0 3 * * *", "timezone": "UTC", "batch": batch_body(problem)}


@dataclass
class World:
    """The running server and everything the tests address: keys by actor, ids of alice's resources."""

    stack: Stack
    server: Running
    keys: dict[str, str | None]
    problem: str
    campaign: str  # completed, with a root node and a champion
    node: int
    queued_campaign: str
    batch: str
    schedule: int
    card: str
    bob_campaign: str
    extra: dict[str, Any] = field(default_factory=dict)

    def client(self, actor: str) -> httpx.Client:
        return self.server.client(self.keys[actor])


def _ok(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    return response.json() if response.content else {}


def _seed_dashboard_data(stack: Stack, campaign: str, node: int, card: str) -> None:
    """What the inline evaluator and the scripted team do not record, so that the prediction and card-usage
    routes answer with data rather than 404/empty: the champion's predictions (the targets, slightly off) and
    a retrieval of alice's card by that node."""
    from problems.registry import get_problem

    with stack.db.session_scope(readonly=True) as s:
        problem_ref = str(repo.get_campaign(s, campaign).config["problem"])
    targets = np.asarray(get_problem(problem_ref).load(stack.settings.cache_dir).targets, dtype=np.float64)
    buffer = io.BytesIO()
    np.save(buffer, targets * 1.01)
    with stack.db.session_scope() as s:
        digest = repo.store_artifact(s, ArtifactStore(stack.data_dir / "artifacts"), buffer.getvalue())
        repo.update_node(s, node, predictions_artifact=digest)
        s.add(KnowledgeLink(campaign_id=campaign, node_id=node, card_id=card, kind="retrieved"))


def build_world(stack: Stack, memory_dir: Path) -> World:
    """Create the users and keys, train alice's campaign, and create her other resources (see the module doc).

    Actors: ``alice`` and ``bob`` (ordinary users, write keys), ``admin`` (admin write key), ``readonly`` (a
    read key of alice's), ``revoked`` (a write key of alice's, revoked) and ``none`` (no key at all).
    """
    memory = MethodMemory(memory_dir, embedder=HashingEmbedder(256))
    keys: dict[str, str | None] = {
        "alice": stack.key("write", user="alice"), "bob": stack.key("write", user="bob"),
        "admin": stack.key("write", admin=True, user="root"),
        "readonly": stack.key("read", user="alice"), "revoked": stack.key("write", user="alice"),
        "none": None,
    }
    trainer = stack.serve(workers=1, memory=memory, **SERVICE_OVERRIDES)
    with trainer.client(keys["alice"]) as alice:
        _ok(upload_example(alice, "alice_osc"), 201)
        campaign = _ok(alice.post("/v1/campaigns", json=small_campaign("alice_osc", iterations=1)), 202)["id"]
        wait_for(lambda: alice.get(f"/v1/campaigns/{campaign}").json()["status"] in ("completed", "failed"),
                 timeout=120, message="alice's campaign to finish")
    trainer.stop()
    server = stack.serve(memory=memory, **SERVICE_OVERRIDES)
    with server.client(keys["alice"]) as alice, server.client(keys["bob"]) as bob:
        finished = _ok(alice.get(f"/v1/campaigns/{campaign}"), 200)
        assert finished["status"] == "completed" and finished["champion"], finished
        node = finished["champion"]["node_id"]
        queued = _ok(alice.post("/v1/campaigns", json=small_campaign("alice_osc", iterations=1)), 202)["id"]
        batch = _ok(alice.post("/v1/batches", json=batch_body("alice_osc")), 202)["id"]
        schedule = _ok(alice.post("/v1/schedules", json=schedule_body("alice_osc", "alice-nightly")), 201)["id"]
        card = _ok(alice.post("/v1/knowledge/cards", json={"markdown": card_markdown("alice-card")}), 201)["id"]
        bob_campaign = _ok(bob.post("/v1/campaigns", json=small_campaign("discontinuous_fit1d", iterations=1)),
                           202)["id"]
    _seed_dashboard_data(stack, campaign, node, card)
    revoked = keys["revoked"]
    assert revoked is not None and revoke_key(stack.db, revoked.split("_")[1])
    return World(stack=stack, server=server, keys=keys, problem="alice_osc", campaign=campaign, node=node,
                 queued_campaign=queued, batch=batch, schedule=schedule, card=card, bob_campaign=bob_campaign)
