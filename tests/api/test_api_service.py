"""Knowledge base routes, probes and metrics, and the evaluation gate of a worker process."""

from __future__ import annotations

import threading
import time

import pytest

from app.workers.gate import GatedEvaluator
from knowledge_base.embeddings import HashingEmbedder
from knowledge_base.retrieval import MethodMemory
from tests.api.harness import card_markdown, small_campaign, upload_example, wait_for

DISCOVERED = card_markdown("api-test-polynomial-degree", tags="polynomial, capacity")


@pytest.fixture
def kb_server(sqlite_stack, tmp_path):
    memory = MethodMemory(tmp_path / "kb", embedder=HashingEmbedder(256))
    server = sqlite_stack.serve(memory=memory)
    with server.client(sqlite_stack.key("write")) as client:
        yield client


def test_knowledge_base_list_get_search_add(kb_server):
    c = kb_server
    cards = c.get("/v1/knowledge/cards").json()["items"]
    assert len(cards) >= 30 and all(card["origin"] == "curated" and card["citation"] for card in cards)
    pinn_only = c.get("/v1/knowledge/cards", params={"kind": "pinn"}).json()["items"]
    assert 0 < len(pinn_only) < len(cards)
    one = c.get("/v1/knowledge/cards/adam-then-lbfgs").json()
    assert one["sections"]["Core idea"] and one["markdown"].startswith("---")
    assert c.get("/v1/knowledge/cards/no-such-card").status_code == 404
    hits = c.get("/v1/knowledge/search", params={"q": "L-BFGS after Adam to polish the loss", "k": 3}).json()["hits"]
    assert len(hits) == 3 and "adam-then-lbfgs" in [h["card_id"] for h in hits]
    added = c.post("/v1/knowledge/cards", json={"markdown": DISCOVERED})
    assert added.status_code == 201, added.text
    assert added.json()["origin"] == "discovered"
    assert c.get("/v1/knowledge/cards/api-test-polynomial-degree").status_code == 200
    found = c.get("/v1/knowledge/search", params={"q": "polynomial degree underfitting", "kind": "regression"}).json()
    assert "api-test-polynomial-degree" in [h["card_id"] for h in found["hits"]]


def test_knowledge_base_rejections_name_the_field(kb_server):
    c = kb_server
    citation = ("citation: {authors: A. Author, title: A paper, venue: A venue, year: 2020}\n"
                "origin: curated")
    curated = c.post("/v1/knowledge/cards", json={"markdown": DISCOVERED.replace("origin: discovered", citation)})
    assert curated.status_code == 422 and curated.json()["detail"][0]["loc"] == ["body", "markdown", "origin"]
    broken = c.post("/v1/knowledge/cards", json={"markdown": DISCOVERED.replace("## Core idea", "## Core ideas")})
    assert broken.status_code == 422 and "Core ideas" in broken.json()["detail"][0]["msg"]
    no_front = c.post("/v1/knowledge/cards", json={"markdown": "just text"})
    assert no_front.status_code == 422 and "front matter" in no_front.json()["detail"][0]["msg"]
    taken = c.post("/v1/knowledge/cards", json={"markdown": DISCOVERED.replace("api-test-polynomial-degree",
                                                                               "adam-then-lbfgs")})
    assert taken.status_code == 409
    assert c.post("/v1/knowledge/cards", json={"text": "x"}).json()["detail"][0]["loc"][:2] == ["body", "markdown"]


def test_knowledge_base_unavailable_is_503(sqlite_stack, monkeypatch):
    import knowledge_base.retrieval

    class Broken:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("index directory is read-only")

    monkeypatch.setattr(knowledge_base.retrieval, "MethodMemory", Broken)
    server = sqlite_stack.serve()
    with server.client(sqlite_stack.key("read")) as c:
        response = c.get("/v1/knowledge/cards")
        assert response.status_code == 503 and "read-only" in response.json()["detail"]
        assert c.get("/v1/campaigns").status_code == 200  # the rest of the API is unaffected


def test_readiness_follows_the_workers(stack):
    api_only = stack.serve()
    with api_only.client() as anonymous:
        health = anonymous.get("/healthz").json()
        assert health["status"] == "ok" and health["isolation"]["backend"] in ("bwrap", "unshare", "none")
        not_ready = anonymous.get("/v1/readyz")
        assert not_ready.status_code == 503 and not_ready.json()["database"] == "ok"
        pool = stack.pool(name="probe")
        pool.start()
        try:
            ready = anonymous.get("/readyz").json()
            assert ready["ready"] and ready["workers_alive"] == 1 and ready["workers"][0]["worker_id"] == "probe"
        finally:
            pool.stop()
        assert anonymous.get("/v1/readyz").status_code == 503  # a stopped pool retires its heartbeat at once


def test_metrics_describe_campaigns_queue_and_evaluations(sqlite_stack):
    stack = sqlite_stack
    server = stack.serve(workers=1)
    with server.client(stack.key()) as c:
        assert upload_example(c).status_code == 201
        cid = c.post("/v1/campaigns", json=small_campaign(iterations=1)).json()["id"]
        wait_for(lambda: stack.status(cid) == "completed", message="campaign done")
        c.post("/v1/campaigns", json=small_campaign("oscillator", iterations=1))  # picked up or queued
        text = c.get("/v1/metrics").text
    assert 'agentic_sciml_campaigns{status="completed"} 1.0' in text
    assert "agentic_sciml_evaluations_total 2.0" in text
    assert "agentic_sciml_evaluation_duration_seconds_count 2.0" in text
    assert 'agentic_sciml_queue_depth{status="queued"}' in text
    assert "agentic_sciml_workers_alive 1.0" in text
    assert 'agentic_sciml_llm_tokens_total{direction="in"} 0.0' in text
    assert "agentic_sciml_llm_cost_usd_total 0.0" in text
    assert 'agentic_sciml_http_requests_total{method="POST",route="/v1/campaigns",status="202"}' in text


def test_gate_bounds_evaluations_in_flight():
    class Slow:
        cache_dir = None

        def evaluate(self, code, problem, **kwargs):
            time.sleep(0.2)
            return "done"

        def close(self):
            pass

    gate = GatedEvaluator(Slow(), limit=2)
    threads = [threading.Thread(target=gate.evaluate, args=("", None)) for _ in range(6)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gate.peak == 2 and time.monotonic() - start >= 0.55  # three waves of two
    cancel = threading.Event()
    cancel.set()
    blocker = threading.Thread(target=gate.evaluate, args=("", None))
    gate._slots.acquire()
    gate._slots.acquire()
    blocker.start()
    t0 = time.monotonic()
    assert gate.evaluate("", None, cancel=cancel) == "done"  # a cancelled wait does not queue for a slot
    assert time.monotonic() - t0 < 0.5
    gate._slots.release()
    gate._slots.release()
    blocker.join()
