"""The dashboard's server side without a browser: the pages and static files, and the aggregate endpoints
(/dashboard, /messages/recent, /usage, /prediction, card usage), on a real server with a seeded database."""

from __future__ import annotations

import io

import numpy as np
import pytest

from app.campaigns.config import CampaignConfig
from app.campaigns.service import create_campaign
from app.db import repository as repo
from app.db.events import append_event
from app.api.routers.dashboard_data import MAX_PLOT_POINTS, prediction_payload
from problems.registry import get_problem


def _seed(stack, *, messages: int = 7) -> tuple[str, dict[str, int]]:
    """root (scored) -> a (better, retrieved a card) -> b (failed); messages by three roles; a running node."""
    cid = create_campaign(stack.db, CampaignConfig(problem="discontinuous_fit1d"), name="seeded")
    with stack.db.session_scope() as s:
        root = repo.add_node(s, cid, code="def solve(task):\n    return 0\n", status="succeeded",
                             proposal={"title": "root"})
        repo.record_node_score(s, root.id, 0.4)
        a = repo.add_node(s, cid, parent_id=root.id, iteration=1, code="def solve(task):\n    return 1\n",
                          status="succeeded", proposal={"title": "better", "card": "adam-then-lbfgs"})
        repo.record_node_score(s, a.id, 0.1)
        repo.link_knowledge(s, cid, "adam-then-lbfgs", "retrieved", node_id=a.id, score=0.8)
        b = repo.add_node(s, cid, parent_id=a.id, iteration=2, status="failed", error="x" * 1000,
                          proposal={"title": "broken"})
        r = repo.add_node(s, cid, parent_id=a.id, iteration=2, status="running", proposal={"title": "training"},
                          code="def solve(task):\n    return 2\n")
        for i in range(messages):
            repo.add_message(s, cid, ["proposer", "critic", "engineer"][i % 3], f"m{i}", node_id=a.id,
                             model="m-large" if i % 3 == 0 else "m-small", tokens_in=10, tokens_out=i, cost_usd=0.01)
        append_event(s, cid, "campaign.started", {})
        append_event(s, cid, "evaluation.smoke", {"status": "succeeded"}, node_id=r.id)
        append_event(s, cid, "training.log", {"step": 0, "t": 0.1, "loss": 9.0}, node_id=r.id)  # the smoke run's
        append_event(s, cid, "evaluation.started", {"budget": {"wall_seconds": 30}}, node_id=r.id)
        for step in range(3):
            append_event(s, cid, "training.log", {"step": step, "t": step * 0.5, "loss": 1.0 / (step + 1)},
                         node_id=r.id)
        ids = {"root": root.id, "a": a.id, "b": b.id, "running": r.id}
    return cid, ids


def test_pages_and_static_files_are_served_with_a_strict_policy(stack):
    running = stack.serve()  # auth on: the page itself needs no key, its data does
    with running.client() as c:
        assert c.get("/", follow_redirects=False).headers["location"] == "/ui/"
        for path in ("/ui/", "/ui/campaigns/abc", "/ui/campaigns/abc/nodes/3", "/ui/knowledge/some-card"):
            r = c.get(path)
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
            assert "script-src 'self'" in r.headers["content-security-policy"]
            assert '<script type="module" src="/ui/static/js/app.js">' in r.text
        js = c.get("/ui/static/js/app.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]
        assert js.headers["cache-control"] == "no-cache"
        assert c.get("/ui/static/css/dashboard.css").status_code == 200
        assert c.get("/ui/static/js/nope.js").status_code == 404
        assert c.get("/ui/static/../../app/settings.py").status_code == 404
        assert c.get("/v1/campaigns/abc/dashboard").status_code == 401


def test_every_module_the_page_imports_exists(stack):
    """A missing or misnamed static file would only show in a browser; follow the imports here too."""
    import re

    from app.dashboard import STATIC_DIR

    seen, todo = set(), ["js/app.js"]
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        path = STATIC_DIR / rel
        assert path.is_file(), f"{rel} is imported but missing"
        for target in re.findall(r"""^import .* from '(\.{1,2}/[^']+)';""", path.read_text(), flags=re.M):
            todo.append(str((path.parent / target).resolve().relative_to(STATIC_DIR)))
    assert {"js/app.js", "js/tree.js", "js/sse.js", "js/pages/campaign.js", "js/pages/node.js"} <= seen
    page = (STATIC_DIR / "index.html").read_text()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/ui/static/([^"]+)">', page))
    assert preloaded == seen - {"js/app.js"}, "index.html preloads exactly the modules app.js pulls in"


def test_campaign_dashboard_in_one_response(any_stack):
    stack = any_stack
    cid, ids = _seed(stack)
    running = stack.serve(embedded=True)
    with running.client() as c:
        d = c.get(f"/v1/campaigns/{cid}/dashboard").json()
    assert d["campaign"]["id"] == cid and d["metric"] == "rel_l2"
    assert d["message_count"] == 7 and d["last_event_seq"] >= 7
    assert d["segment_started_at"] is not None
    tree = d["tree"]
    assert tree["ids"] == sorted(ids.values())
    at = {nid: i for i, nid in enumerate(tree["ids"])}
    assert tree["parents"][at[ids["a"]]] == ids["root"] and tree["parents"][at[ids["root"]]] is None
    assert tree["statuses"][at[ids["b"]]] == "failed" and len(tree["errors"][at[ids["b"]]]) == 300
    assert tree["scores"][at[ids["a"]]] == pytest.approx(0.1) and tree["cards"][at[ids["a"]]] == "adam-then-lbfgs"
    # the running node's curve is that of its full run, not of the smoke run before it
    (run,) = d["running"]
    assert run["node_id"] == ids["running"] and run["budget"] == {"wall_seconds": 30}
    assert [r["step"] for r in run["records"]] == [0, 1, 2] and run["records"][0]["loss"] == 1.0
    by_role = {(u["role"], u["model"]): u for u in d["usage"]}
    assert by_role[("proposer", "m-large")]["messages"] == 3
    assert sum(u["messages"] for u in d["usage"]) == 7
    assert sum(u["cost_usd"] for u in d["usage"]) == pytest.approx(0.07)


def test_recent_messages_page_backwards_without_gaps(any_stack):
    stack = any_stack
    cid, _ = _seed(stack, messages=23)
    running = stack.serve(embedded=True)
    with running.client() as c:
        seen, before = [], None
        while True:
            q = {"limit": 5, **({"before_id": before} if before else {})}
            page = c.get(f"/v1/campaigns/{cid}/messages/recent", params=q).json()
            assert page["total"] == 23
            ids = [m["id"] for m in page["items"]]
            assert ids == sorted(ids)
            seen = ids + seen
            if not page["has_more"]:
                break
            before = ids[0]
        with stack.db.session_scope(readonly=True) as s:
            assert seen == [m.id for m in repo.list_messages(s, cid)]
        critic = c.get(f"/v1/campaigns/{cid}/messages/recent", params={"role": "critic", "limit": 500}).json()
        assert critic["total"] == 8 and {m["role"] for m in critic["items"]} == {"critic"} and not critic["has_more"]
        assert c.get(f"/v1/campaigns/{cid}/usage").json()["items"]
        for bad in ({"limit": 0}, {"limit": 501}, {"before_id": 0}, {"role": "Robert'); DROP"}, {"node_id": -1}):
            assert c.get(f"/v1/campaigns/{cid}/messages/recent", params=bad).status_code == 422
        assert c.get("/v1/campaigns/nope/messages/recent").status_code == 404
        assert c.get("/v1/campaigns/nope/dashboard").status_code == 404


def test_a_user_sees_only_their_campaigns_through_the_dashboard_routes(any_stack):
    stack = any_stack
    cid, ids = _seed(stack)
    running = stack.serve()
    with running.client(stack.key("read", user="mallory")) as c:
        for path in (f"/campaigns/{cid}/dashboard", f"/campaigns/{cid}/usage", f"/campaigns/{cid}/messages/recent",
                     f"/campaigns/{cid}/nodes/{ids['a']}/prediction"):
            assert c.get(f"/v1{path}").status_code == 404, path
        assert c.get("/v1/knowledge/cards/adam-then-lbfgs/usage").json()["campaigns"] == []
    with running.client(stack.key("read", admin=True)) as c:
        (use,) = c.get("/v1/knowledge/cards/adam-then-lbfgs/usage").json()["campaigns"]
    assert use["campaign_id"] == cid and use["retrieved"] == 1 and use["improved"] == 1
    assert use["median_factor"] == pytest.approx(4.0) and use["nodes"][0]["parent_score"] == pytest.approx(0.4)


def test_prediction_against_the_reference(stack):
    cid, ids = _seed(stack)
    data = get_problem("discontinuous_fit1d").load(stack.settings.cache_dir)
    noisy = data.targets + 0.01 * np.sin(np.arange(data.targets.size))
    buffer = io.BytesIO()
    np.save(buffer, noisy)
    with stack.db.session_scope() as s:
        digest = repo.store_artifact(s, _store(stack), buffer.getvalue())
        repo.update_node(s, ids["a"], predictions_artifact=digest)
    running = stack.serve(embedded=True)
    with running.client() as c:
        p = c.get(f"/v1/campaigns/{cid}/nodes/{ids['a']}/prediction").json()
        missing = c.get(f"/v1/campaigns/{cid}/nodes/{ids['root']}/prediction")
    assert p["layout"] == "curve" and p["points"] == data.targets.size
    x = np.asarray(p["coords"][0])
    assert np.all(np.diff(x) >= 0), "a curve is sent sorted by its coordinate"
    order = np.argsort(np.asarray(data.query_inputs["x"]).reshape(-1), kind="stable")
    np.testing.assert_allclose(p["reference"], data.targets.reshape(-1)[order], rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(np.asarray(p["prediction"]) - np.asarray(p["reference"]),
                               (noisy - data.targets).reshape(-1)[order], atol=1e-7)
    assert missing.status_code == 404 and "stored predictions" in missing.json()["detail"]


def _store(stack):
    from app.db.artifacts import ArtifactStore

    return ArtifactStore(stack.data_dir / "artifacts")


def test_prediction_layouts_follow_the_problem_shape():
    class Spec:
        def __init__(self, kind, pde=None):
            self.kind, self.metric, self.pde = kind, "rel_l2", pde

    grid = np.stack(np.meshgrid(np.linspace(0, 1, 30), np.linspace(0, 2, 20)), -1).reshape(-1, 2)
    field = prediction_payload(1, Spec("pinn"), {"x": grid}, grid[:, 0] * grid[:, 1], grid.sum(1))
    assert field.layout == "field" and field.axes == ["x0", "x1"] and field.shown == 600
    assert field.coords[1][:3] == pytest.approx(grid[:3, 1].tolist())

    many = np.random.default_rng(0).random((3 * MAX_PLOT_POINTS, 1))
    curve = prediction_payload(1, Spec("regression"), {"x": many}, many[:, 0], many[:, 0])
    assert curve.points == 3 * MAX_PLOT_POINTS and curve.shown <= MAX_PLOT_POINTS

    targets = np.arange(500 * 100, dtype=float).reshape(500, 100)
    pred = targets.copy()
    pred[0, 0] = np.nan  # not JSON: sent as null
    op = prediction_payload(1, Spec("operator"), {"u": np.zeros((500, 10)), "y": np.linspace(0, 1, 100)[:, None]},
                            targets, pred)
    assert op.layout == "operator" and len(op.samples) <= 200 and op.prediction[0][0] is None
    assert len(op.coords[0]) == len(op.prediction[0]) and op.reference[1][0] == targets[op.samples[1], 0]
    points = prediction_payload(1, Spec("regression"), {"x": np.ones((10, 3))}, np.zeros(10), np.zeros(10))
    assert points.layout == "points" and points.coords[0] == list(range(10))
