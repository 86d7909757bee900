"""The Ray executor on a real local cluster: a head without evaluation slots plus separate worker nodes.

One fast smoke test (a cluster start is ~20 s on two cores); the campaign, node-failure and cancel tests
are marked slow. Candidates are the scripted team's numpy polynomial fits on the damped-oscillator example,
run in the real sandbox on the worker nodes and scored here.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from problems.registry import get_problem
from sandbox.evaluate import Evaluator
from tests.campaigns.scripted_team import ScriptedTeam, poly
from tests.api.harness import wait_for as wait_until
from tests.executors.ray_cluster import jails_under, local_ray_cluster, running

pytest.importorskip("ray")

EXAMPLE = Path(__file__).resolve().parents[2] / "problems" / "examples" / "damped_oscillator"
SLEEPER = """
import time
import numpy as np

def solve(task):
    time.sleep(60)
    return np.zeros(task.output_shape)
"""


@pytest.fixture(scope="module")
def problem():
    return get_problem(str(EXAMPLE))


def _ray_executor(cluster, tmp_path, **kwargs):
    from sandbox.executors.ray_executor import RayExecutor

    return RayExecutor(address=cluster.address, scratch_dir=tmp_path / "ray-predictions", **kwargs)


def test_ray_smoke_an_evaluation_runs_on_the_worker_node_and_is_scored_here(problem, tmp_path):
    with Evaluator(tmp_path / "local-runs", tmp_path / "cache") as local:
        expected = local.evaluate(poly(3), problem)
    assert expected.status == "succeeded"
    with local_ray_cluster(worker_cpus=(1,)) as cluster:
        worker_id = cluster.node_id(cluster.workers[0])
        with Evaluator(
            tmp_path / "runs", tmp_path / "cache", executor=_ray_executor(cluster, tmp_path)
        ) as ev:
            streamed: list[dict] = []
            result = ev.evaluate(poly(3), problem, on_log=streamed.append)
            assert result.status == "succeeded", result.reason
            assert result.score == pytest.approx(expected.score, rel=1e-12)
            placement = result.protections["placement"]
            assert placement["executor"] == "ray" and placement["node_id"] == worker_id
            assert placement["attempts"] == 1 and placement["resources"]["CPU"] == 1.0
            assert placement["resources"]["GPU"] == 0.0
            assert result.protections["backend"] == expected.protections["backend"]  # same jail over there
            assert result.logs and streamed and "residual" in streamed[0]
            assert result.device == "cpu" and result.gpu is None
            assert not list((tmp_path / "ray-predictions").iterdir())  # released after scoring
            # A GPU the cluster does not have is refused at once, not queued forever.
            start = time.monotonic()
            refused = ev.evaluate(poly(3), problem, budget={"device": "cuda"})
            assert (refused.status, refused.failure) == ("failed", "sandbox_error")
            assert "no live Ray node" in refused.reason and "1 GPU" in refused.reason
            assert time.monotonic() - start < 10


def _campaign_services(tmp_path, cluster, name: str):
    from app.campaigns.service import open_services
    from app.settings import Settings

    data = tmp_path / name
    settings = (
        Settings(
            data_dir=data,
            DATABASE_URL=f"sqlite:///{data / 'db.sqlite'}",
            executor="ray",
            ray_address=cluster.address,
        )
        if cluster
        else Settings(data_dir=data, DATABASE_URL=f"sqlite:///{data / 'db.sqlite'}")
    )
    return open_services(settings)


def _run_campaign(services, team: ScriptedTeam, **overrides) -> tuple[str, dict]:
    from app.campaigns.config import CampaignConfig
    from app.campaigns.service import create_campaign, run_campaign

    fields = dict(
        problem=str(EXAMPLE),
        iterations=2,
        parents=2,
        smoke_seconds=0,
        debate_rounds=2,
        debug_attempts=1,
        concurrency=2,
        memory="none",
    )
    config = CampaignConfig(**{**fields, **overrides})
    campaign_id = create_campaign(services.db, config)
    return campaign_id, run_campaign(services, campaign_id, team=team)


def _nodes(services, campaign_id: str) -> list[SimpleNamespace]:
    from app.db import repository as repo

    keys = ("id", "parent_id", "iteration", "status", "score", "error", "protections", "curves")
    with services.db.session_scope(readonly=True) as s:
        return [SimpleNamespace(**{k: getattr(n, k) for k in keys}) for n in repo.list_nodes(s, campaign_id)]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_small_campaign_on_two_ray_worker_nodes_matches_the_local_run(problem, tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTIC_SCIML_EMBEDDER", "hashing")
    with _campaign_services(tmp_path, None, "local") as services:
        local_id, local_summary = _run_campaign(services, ScriptedTeam())
        local_scores = sorted((n.iteration, n.status, n.score) for n in _nodes(services, local_id))
    with local_ray_cluster(worker_cpus=(1, 1)) as cluster:
        workers = {cluster.node_id(n) for n in cluster.workers}
        with _campaign_services(tmp_path, cluster, "ray") as services:
            ray_id, summary = _run_campaign(services, ScriptedTeam())
            nodes = _nodes(services, ray_id)
    assert summary["status"] == "completed"
    assert (summary["root_score"], summary["champion_score"]) == (
        local_summary["root_score"],
        local_summary["champion_score"],
    )
    assert sorted((n.iteration, n.status, n.score) for n in nodes) == local_scores
    trained = [n for n in nodes if n.status == "succeeded"]
    assert len(trained) >= 3
    for node in trained:
        placement = node.protections["placement"]
        assert placement["executor"] == "ray" and placement["node_id"] in workers  # never the head
        assert node.curves, "training curves came back with the result"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_worker_node_killed_mid_evaluation_means_a_retried_evaluation(problem, tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTIC_SCIML_EMBEDDER", "hashing")
    with local_ray_cluster(worker_cpus=(1,)) as cluster:
        doomed = cluster.workers[0]
        doomed_id, doomed_raylet = cluster.node_id(doomed), cluster.raylet_pid(doomed)
        with _campaign_services(tmp_path, cluster, "ray") as services:
            outcome: dict = {}

            def run() -> None:
                try:
                    outcome["campaign"] = _run_campaign(services, ScriptedTeam(delay=6.0), iterations=1)
                except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                    outcome["error"] = exc

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            # The root's candidate is training inside its jail on the doomed node: kill the node.
            jails = wait_until(
                lambda: jails_under(doomed_raylet), timeout=120, message="a jail on the worker node"
            )
            cluster.kill_worker(doomed)
            wait_until(
                lambda: not any(running(pid) for pid in jails),
                timeout=30,
                message="the jail to die with its node",
            )
            replacement = cluster.add_worker(1)
            thread.join(240)
            assert not thread.is_alive(), "the campaign did not finish"
            assert "error" not in outcome, outcome.get("error")
            campaign_id, summary = outcome["campaign"]
            nodes = _nodes(services, campaign_id)
    assert summary["status"] == "completed" and summary["root_score"] is not None
    root = next(n for n in nodes if n.parent_id is None)
    assert root.status == "succeeded" and root.score is not None
    placement = root.protections["placement"]
    assert placement["attempts"] == 2, placement
    assert placement["nodes"][0] == doomed_id and placement["node_id"] == cluster.node_id(replacement)
    assert all(n.status in ("succeeded", "skipped_duplicate") for n in nodes), [
        (n.id, n.status, n.error) for n in nodes
    ]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_cancel_reaches_a_remote_evaluation_and_its_jail(problem, tmp_path):
    with local_ray_cluster(worker_cpus=(1,)) as cluster:
        raylet = cluster.raylet_pid(cluster.workers[0])
        with Evaluator(
            tmp_path / "runs", tmp_path / "cache", executor=_ray_executor(cluster, tmp_path)
        ) as ev:
            cancel = threading.Event()
            box: dict = {}
            thread = threading.Thread(
                target=lambda: box.update(
                    result=ev.evaluate(SLEEPER, problem, budget={"wall_seconds": 120}, cancel=cancel)
                ),
                daemon=True,
            )
            thread.start()
            jails = wait_until(lambda: jails_under(raylet), timeout=120, message="the jail")
            started = time.monotonic()
            cancel.set()
            thread.join(60)
            assert not thread.is_alive()
            assert time.monotonic() - started < 30
            assert (box["result"].status, box["result"].failure) == ("failed", "killed")
            wait_until(
                lambda: not any(running(pid) for pid in jails), timeout=30, message="the jail to be killed"
            )
