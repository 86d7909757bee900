"""Weak isolation is never silent in the service (issue 13, item 2).

A service whose sandbox is weaker than bubblewrap refuses campaign and batch requests that do not set
``allow_weak_isolation`` (422 naming the backend and the field) and says which backend it uses on
``/healthz``; a worker refuses to score a weak result for a campaign that did not allow it; and every score
produced with consent carries ``isolation`` / ``weak_isolation`` in the node, tree, campaign and batch views.
The weak backend is forced through ``sandbox_mode``; the workers use the in-process evaluator of the API tests,
made to report the backend a real runner would.
"""

from __future__ import annotations

from typing import Any

from app.campaigns.config import CampaignConfig
from app.campaigns.service import Services, create_campaign
from app.db.artifacts import ArtifactStore
from app.db.events import append_event
from app.db.session import Database
from app.settings import Settings
from app.workers.options import WorkerOptions
from app.workers.pool import WorkerPool
from app.workers.queue import enqueue_run
from tests.api.fakes import InlineEvaluator, scripted_team_with
from tests.api.harness import small_campaign, upload_example, wait_for


class BackendEvaluator(InlineEvaluator):
    """The in-process evaluator, reporting the sandbox backend a real run would have had."""

    def __init__(self, cache_dir, backend: str) -> None:
        super().__init__(cache_dir)
        self.backend = backend

    def evaluate(self, code: str, problem: Any, **kwargs: Any):
        result = super().evaluate(code, problem, **kwargs)
        result.protections = {**result.protections, "backend": self.backend}
        return result


def _weak_stack(stack, *, allow: bool = False, mode: str = "none"):
    stack.settings = Settings(data_dir=stack.data_dir, DATABASE_URL=stack.url, sandbox_mode=mode,
                              allow_weak_isolation=allow)
    return stack


def _pool(stack, backend: str) -> WorkerPool:
    services = Services(settings=stack.settings, db=Database(stack.url),
                        store=ArtifactStore(stack.data_dir / "artifacts"),
                        evaluator=BackendEvaluator(stack.data_dir / "cache", backend))
    options = WorkerOptions(**{**stack.service().worker_options().model_dump(), "reap_every_beats": 2})
    return WorkerPool(services, size=1, options=options, team_factory=scripted_team_with(0.0), name="weak",
                      owns_services=True)


def _settled(client, campaign_id: str, timeout: float = 60.0) -> dict:
    def done():
        c = client.get(f"/v1/campaigns/{campaign_id}").json()
        return c if c["status"] in ("completed", "failed", "paused") and c["run"] is None else None

    return wait_for(done, timeout=timeout, message=f"campaign {campaign_id} to finish")


def test_healthz_names_the_backend(sqlite_stack):
    server = _weak_stack(sqlite_stack, mode="none").serve()
    with server.client() as anonymous:
        for path in ("/healthz", "/v1/healthz"):
            isolation = anonymous.get(path).json()["isolation"]
            assert isolation["backend"] == "none" and isolation["weak"] is True and isolation["strength"] == "weak"
            assert isolation["allow_weak_isolation"] is False
        assert anonymous.get("/v1/readyz").json()["isolation"]["backend"] == "none"


def test_campaign_and_batch_requests_refuse_a_weak_backend_unless_allowed(sqlite_stack):
    stack = _weak_stack(sqlite_stack, mode="unshare")
    server = stack.serve()
    with server.client(stack.key("write")) as c:
        assert upload_example(c).status_code == 201
        refused = c.post("/v1/campaigns", json=small_campaign())
        assert refused.status_code == 422, refused.text
        detail = str(refused.json())
        assert "'unshare'" in detail and "allow_weak_isolation" in detail and "bubblewrap" in detail
        assert c.get("/v1/campaigns").json()["total"] == 0  # nothing was created

        accepted = c.post("/v1/campaigns", json=small_campaign(allow_weak_isolation=True))
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["config"]["allow_weak_isolation"] is True

        batch = {"name": "weak", "problems": ["oscillator"], "defaults": {"iterations": 0, "memory": "none"}}
        refused = c.post("/v1/batches", json=batch)
        assert refused.status_code == 422 and "allow_weak_isolation" in str(refused.json())
        accepted = c.post("/v1/batches", json={**batch, "allow_weak_isolation": True})
        assert accepted.status_code == 202, accepted.text


def test_scores_under_a_weak_backend_are_marked_everywhere(sqlite_stack):
    stack = _weak_stack(sqlite_stack, mode="none")
    server = stack.serve()
    pool = _pool(stack, "none")
    pool.start()
    try:
        with server.client(stack.key("write")) as c:
            assert upload_example(c).status_code == 201
            response = c.post("/v1/campaigns", json=small_campaign(iterations=1, allow_weak_isolation=True))
            assert response.status_code == 202, response.text
            campaign_id = response.json()["id"]
            pool.notify()
            campaign = _settled(c, campaign_id)
            assert campaign["status"] == "completed", campaign["error"]
            isolation = campaign["isolation"]
            assert isolation["weak_isolation"] is True and isolation["allow_weak_isolation"] is True
            assert isolation["backends"] == {"none": isolation["weak_scores"]} and isolation["weak_scores"] >= 2

            page = c.get("/v1/campaigns").json()["items"]
            assert page[0]["isolation"]["weak_isolation"] is True

            tree = c.get(f"/v1/campaigns/{campaign_id}/tree").json()["nodes"]
            scored = [n for n in tree if n["score"] is not None]
            assert scored and all(n["weak_isolation"] is True and n["isolation"] == "none" for n in scored)
            node = c.get(f"/v1/campaigns/{campaign_id}/nodes/{scored[0]['node_id']}").json()
            assert node["isolation"] == "none" and node["weak_isolation"] is True
            assert node["metrics"]["weak_isolation"] is True
    finally:
        pool.stop()


def test_a_worker_does_not_score_weak_results_the_campaign_did_not_allow(sqlite_stack):
    """Where the backend is only known from the result (Ray with sandbox_mode=auto), the first weak result
    stops the campaign unscored, with a message naming the backend and how to allow it."""
    stack = _weak_stack(sqlite_stack, mode="auto", allow=False)
    config = CampaignConfig(**{**small_campaign(problem="discontinuous_fit1d"), "iterations": 1})
    campaign_id = create_campaign(stack.db, config)
    with stack.db.session_scope() as s:
        enqueue_run(s, campaign_id, max_attempts=1, reason="created")
        append_event(s, campaign_id, "campaign.queued", {"reason": "created", "by": "test"})
    pool = _pool(stack, "unshare")
    _run_until_failed(stack, pool, campaign_id)
    with stack.db.session_scope(readonly=True) as s:
        from app.db import repository as repo

        campaign = repo.get_campaign(s, campaign_id)
        assert "'unshare'" in campaign.error and "allow_weak_isolation" in campaign.error
        assert "--allow-weak-isolation" in campaign.error
        nodes = repo.list_nodes(s, campaign_id)
        assert all(n.score is None for n in nodes) and campaign.best_score is None


def _run_until_failed(stack, pool, campaign_id: str) -> None:
    """Run the worker pool until the campaign has failed (the refusal under test), then stop it."""
    pool.start()
    try:
        wait_for(lambda: stack.status(campaign_id) == "failed", timeout=60, message="the campaign to fail")
    finally:
        pool.stop()


def test_a_worker_on_a_weak_sandbox_refuses_a_campaign_before_any_candidate_runs(sqlite_stack):
    """A worker whose own runner is weak (another machine than the API's) fails a campaign that did not allow
    it at the start, with the backend and how to allow it; nothing is evaluated."""
    from sandbox.evaluate import Evaluator

    stack = _weak_stack(sqlite_stack, mode="auto", allow=False)
    campaign_id = create_campaign(stack.db, CampaignConfig(**small_campaign(problem="discontinuous_fit1d")))
    with stack.db.session_scope() as s:
        enqueue_run(s, campaign_id, max_attempts=1, reason="created")
    evaluator = Evaluator(stack.data_dir / "runs", stack.data_dir / "cache", backend="none")
    services = Services(settings=stack.settings, db=Database(stack.url),
                        store=ArtifactStore(stack.data_dir / "artifacts"), evaluator=evaluator)
    options = WorkerOptions(**{**stack.service().worker_options().model_dump(), "reap_every_beats": 2})
    pool = WorkerPool(services, size=1, options=options, team_factory=scripted_team_with(0.0), name="weak",
                      owns_services=True)
    _run_until_failed(stack, pool, campaign_id)
    with stack.db.session_scope(readonly=True) as s:
        from app.db import repository as repo

        campaign = repo.get_campaign(s, campaign_id)
        assert "'none'" in campaign.error and "allow_weak_isolation" in campaign.error
        assert repo.list_nodes(s, campaign_id) == [] and campaign.evaluations == 0
