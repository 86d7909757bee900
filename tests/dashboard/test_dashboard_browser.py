"""The dashboard in a real browser against a real server: launch, watch live, open a node, reload, knowledge.

The server is the tests/api harness (uvicorn on loopback, in-process workers running the scripted team with
the in-process evaluator), so a campaign takes seconds; ``delay`` keeps each candidate running long enough
for the page to be open while messages arrive.
"""

from __future__ import annotations

import re
import time

import pytest

from app.db import repository as repo
from tests.api.fakes import EXAMPLE
from tests.api.harness import wait_for
from tests.dashboard.conftest import screenshot

pytestmark = pytest.mark.timeout(240)


def _db_messages(stack, cid: str) -> list[int]:
    with stack.db.session_scope(readonly=True) as s:
        return [m.id for m in repo.list_messages(s, cid)]


def _page_message_ids(page) -> list[int]:
    return [int(x) for x in page.eval_on_selector_all("#messages .msg", "els => els.map(e => e.dataset.id)")]


def _page_total(page) -> int:
    return int(re.match(r"(\d+)", page.inner_text("#message-count")).group(1))


def _tree_ids(page) -> set[int]:
    return set(page.evaluate("() => [...window.__dashboard.campaign.tree.nodes.keys()]"))


def test_launch_watch_open_node_and_reload(stack, open_page):
    running = stack.serve(workers=1, delay=1.0)  # API keys required, as in production
    key = stack.key("write")
    page = open_page()

    # The key is asked for once and kept: the first API call answers 401.
    page.goto(f"{running.base_url}/")
    page.fill(".dialog input[name=key]", key)
    page.click(".dialog button[type=submit]")
    page.wait_for_function("() => document.querySelector('#identity').textContent.startsWith('write')")
    page.wait_for_selector("#campaigns .empty")  # the list, loaded with the key: no campaign yet

    # Upload a custom problem through the form, then launch a campaign on it.
    page.click("#upload > summary")
    page.fill("#upload-form input[name=name]", "oscillator")
    page.select_option("#upload-form select[name=kind]", "regression")
    page.fill("#upload-form textarea[name=description]", (EXAMPLE / "description.md").read_text())
    page.set_input_files("#upload-form input[name=data]", str(EXAMPLE / "data.npz"))
    page.fill("#upload-form input[name=wall_seconds]", "20")
    page.click("#upload-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#launch-form select[name=problem]').value === 'oscillator'")
    screenshot(page, "campaigns")
    for name, value in {"iterations": "3", "parents": "2", "debate_rounds": "2", "smoke_seconds": "0",
                        "debug_attempts": "1", "name": "browser test"}.items():
        page.fill(f"#launch-form input[name={name}]", value)
    page.select_option("#launch-form select[name=memory]", "none")
    page.click("#launch-form button[type=submit]")
    page.wait_for_url(re.compile(r"/ui/campaigns/[A-Za-z0-9_-]+$"))
    cid = page.url.rsplit("/", 1)[1]
    page.wait_for_selector("#live-state[data-state=live]")

    # A debate message arrives without a reload (the marker would vanish on one).
    page.evaluate("() => { window.__noReload = true; }")
    before = _page_total(page)
    page.wait_for_function(
        "n => document.querySelectorAll('#messages .msg.role-proposer, #messages .msg.role-critic').length > 0"
        " && parseInt(document.querySelector('#message-count').textContent) > n", arg=before)
    assert page.evaluate("() => window.__noReload === true")
    assert page.locator("#messages .msg .role").first.is_visible()
    screenshot(page, "campaign")
    # Absent parts of a running evaluation's card (no budget yet, no records) leave no "null" behind.
    assert not re.search(r"\b(null|undefined)\b", page.inner_text("#running"))

    # Reload in the middle of the campaign: everything stored so far is shown, and live updates go on.
    wait_for(lambda: len(stack.nodes(cid)) >= 3, timeout=60, message="three nodes")
    assert stack.status(cid) == "running", "the campaign ended before the reload; raise the scripted delay"
    stored_before = set(_db_messages(stack, cid))
    nodes_before = set(stack.nodes(cid))
    page.reload()
    page.wait_for_selector("#live-state[data-state=live]")
    assert _page_total(page) >= len(stored_before)
    assert nodes_before <= _tree_ids(page)
    shown = set(_page_message_ids(page))
    assert max(stored_before) in shown, "the newest stored message is on the page after the reload"
    assert {m for m in stored_before if m >= min(shown)} <= shown, "no stored message is missing in between"

    # The campaign finishes; without another reload the page holds every node and counts every message once.
    wait_for(lambda: stack.status(cid) == "completed", timeout=120, message="the campaign to complete")
    final_messages = _db_messages(stack, cid)
    final_nodes = set(stack.nodes(cid))
    page.wait_for_function("n => parseInt(document.querySelector('#message-count').textContent) === n",
                           arg=len(final_messages))
    page.wait_for_function("ids => ids.every(i => window.__dashboard.campaign.tree.nodes.has(i))",
                           arg=sorted(final_nodes))
    ids = _page_message_ids(page)
    assert len(ids) == len(set(ids)), "a message was shown twice"
    assert set(ids) == set(final_messages[-len(ids):]) and len(ids) >= min(len(final_messages), 50)
    page.wait_for_selector("h1 .badge.status-completed")
    assert page.locator("#iterations svg path.line").count() >= 1
    page.wait_for_function("() => !document.querySelector('#usage').textContent.includes('No agent')")

    # Open a node from the tree: its code (highlighted) and its diff against the parent.
    with stack.db.session_scope(readonly=True) as s:
        child = next(n.id for n in repo.list_nodes(s, cid) if n.parent_id is not None and n.status == "succeeded")
    page.click("#tree-panel button[title='show the whole tree']")
    page.locator("#tree-panel canvas.tree-canvas").scroll_into_view_if_needed()
    spot = page.evaluate("id => window.__dashboard.campaign.tree.positionOf(id)", child)
    page.mouse.move(spot["x"], spot["y"])
    page.wait_for_selector(".tree-tip:not([hidden])")
    assert f"#{child}" in page.inner_text(".tree-tip")
    page.mouse.click(spot["x"], spot["y"])
    page.wait_for_url(re.compile(rf"/ui/campaigns/{cid}/nodes/{child}$"))
    page.wait_for_selector("#code pre.code .tok-kw")
    assert "def solve(task)" in page.inner_text("#code pre.code")
    page.wait_for_selector("#diff table.diff tr.d-add")
    assert "DEGREE" in page.inner_text("#diff table.diff")
    page.wait_for_selector("#debate .msg")
    page.wait_for_selector("#curves svg.chart-svg")
    # Every scored node shows its prediction against the hidden reference (the engine stores predictions);
    # this problem has two inputs, so as heat maps of the reference, the prediction and the error.
    page.wait_for_selector("#prediction figure.chart.heat")
    assert [c.strip() for c in page.locator("#prediction figcaption").all_inner_texts()] == [
        "Reference", "Prediction", "|error|"]
    screenshot(page, "node")

    # The root: no parent, no design, no diff; what is absent is simply not shown (no "null" text).
    with stack.db.session_scope(readonly=True) as s:
        root = next(n.id for n in repo.list_nodes(s, cid) if n.parent_id is None)
    page.goto(f"{running.base_url}/ui/campaigns/{cid}/nodes/{root}")
    page.wait_for_selector("#diff .empty")
    page.wait_for_selector("#prediction figure.chart.heat")
    for box in ("#proposal", "#diff", "#run"):
        assert not re.search(r"\b(null|undefined)\b", page.inner_text(box)), box
    page.errors.check()


def test_knowledge_schedules_and_phone_width(stack, open_page):
    """Cards: search, read one, see a campaign that used it and the effect; schedules; the campaign page at phone
    width. The campaign is written straight into the database, no worker needed."""
    from app.campaigns.config import CampaignConfig
    from app.campaigns.service import create_campaign

    cid = create_campaign(stack.db, CampaignConfig(problem="discontinuous_fit1d"), name="seeded")
    with stack.db.session_scope() as s:
        root = repo.add_node(s, cid, code="def solve(task):\n    return 0\n", status="succeeded",
                             proposal={"title": "root"})
        repo.record_node_score(s, root.id, 0.5)
        child = repo.add_node(s, cid, parent_id=root.id, iteration=1, code="def solve(task):\n    return 1\n",
                              status="succeeded",
                              proposal={"title": "with fourier features", "card": "fourier-features-regression"})
        repo.record_node_score(s, child.id, 0.05)
        repo.link_knowledge(s, cid, "fourier-features-regression", "retrieved", node_id=child.id, score=0.9)
        for i in range(3):
            repo.add_message(s, cid, ["proposer", "critic", "engineer"][i], f"message {i}", node_id=child.id,
                             model="fake-model", tokens_in=100, tokens_out=10 * i, cost_usd=0.001)
    running = stack.serve(embedded=True)
    page = open_page()

    page.goto(f"{running.base_url}/ui/knowledge")
    page.wait_for_selector("#cards table")
    page.fill("input[name=q]", "high frequency oscillations spectral bias")
    page.click("form.search button[type=submit]")
    page.wait_for_selector("#search-results table tbody tr")
    assert "q=high" in page.url
    screenshot(page, "knowledge")
    page.goto(f"{running.base_url}/ui/knowledge/fourier-features-regression")
    page.wait_for_selector("#card-usage .card-use")
    usage = page.inner_text("#card-usage")
    assert "seeded" in usage and "1/1 improved" in usage and "×10.0" in usage
    screenshot(page, "knowledge-card")

    # The node shows the card it retrieved; the campaign page shows cost per role.
    page.goto(f"{running.base_url}/ui/campaigns/{cid}/nodes/{child.id}")
    page.wait_for_selector("#card h3 a")
    assert page.inner_text("#card h3").strip() != ""
    page.goto(f"{running.base_url}/ui/campaigns/{cid}")
    page.wait_for_selector("#usage table")
    assert "fake-model" in page.inner_text("#usage")

    # Phone width: the campaign page reflows to one column without sideways scrolling.
    phone = open_page(width=390, height=844, is_mobile=True, has_touch=True, device_scale_factor=2)
    phone.goto(f"{running.base_url}/ui/campaigns/{cid}")
    phone.wait_for_function("() => window.__dashboard.campaign && window.__dashboard.campaign.tree.drawn === 2")
    assert phone.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    screenshot(phone, "campaign-phone")
    # ...and so does every other page.
    for path, ready in [("/ui/campaigns", "main table, main .empty"),
                        (f"/ui/campaigns/{cid}/nodes/{child.id}", "#card h3 a"),
                        ("/ui/knowledge", "#cards table"),
                        ("/ui/knowledge/fourier-features-regression", "#card-usage .card-use"),
                        ("/ui/schedules", "#schedules .empty, #schedules table")]:
        phone.goto(f"{running.base_url}{path}")
        phone.wait_for_selector(ready)
        wide = phone.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 1, f"{path} scrolls sideways by {wide}px at phone width"

    # Schedules: the list (empty here), and a server without scheduling is told apart from an error.
    page.goto(f"{running.base_url}/ui/schedules")
    page.wait_for_selector("#schedules .empty, #schedules table")
    screenshot(page, "schedules")
    page.route("**/v1/schedules", lambda route: route.fulfill(status=404, json={"detail": "Not Found"}))
    page.reload()
    page.wait_for_selector("#schedules-unavailable")
    page.errors.check()
    phone.errors.check()
