"""Long dashboard tests (``-m slow``): a campaign of 2,000 nodes and 20,000 messages, and the live page across a
server restart (the stream reconnects with Last-Event-ID; nothing is lost or shown twice)."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
import uvicorn

from app.api import create_app
from app.db import repository as repo
from app.db.session import Database
from tests.api.harness import small_campaign, upload_example, wait_for
from tests.dashboard.conftest import screenshot

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_a_big_campaign_page_stays_responsive(stack, open_page):
    from benchmarks.dashboard_render import seed_campaign

    cid = seed_campaign(stack.db, nodes=2000, messages=20000)
    running = stack.serve(embedded=True)
    page = open_page(width=1440, height=1000)
    start = time.monotonic()
    page.goto(f"{running.base_url}/ui/campaigns/{cid}")
    page.wait_for_function("() => window.__dashboard && window.__dashboard.campaign", timeout=60_000)
    assert time.monotonic() - start < 30, "first render of the big campaign took more than 30 s"
    c = page.evaluate("() => { const t = window.__dashboard.campaign.tree; return {size: t.size, drawn: t.drawn}; }")
    assert c["size"] == 2000 and c["drawn"] > 1000
    assert page.locator("#messages .msg").count() == 50
    assert page.inner_text("#message-count").startswith("20000 messages")
    redraw = page.evaluate("""() => { const t = window.__dashboard.campaign.tree; const out = [];
      for (let i = 0; i < 10; i += 1) {
        t.zoomBy(1.1); const s = performance.now(); t.draw(); out.push(performance.now() - s);
      }
      return out.sort((a, b) => a - b)[5]; }""")
    assert redraw < 100, f"a tree redraw took {redraw:.0f} ms"
    page.click("#older")
    page.wait_for_function("() => document.querySelectorAll('#messages .msg').length === 100")
    page.click("#tree-panel button[title='centre the champion']")
    screenshot(page, "campaign-2000-nodes")
    champion = page.evaluate("() => window.__dashboard.campaign.tree.champion")
    spot = page.evaluate("id => window.__dashboard.campaign.tree.positionOf(id)", champion)
    page.mouse.click(spot["x"], spot["y"])
    page.wait_for_url(re.compile(rf"/nodes/{champion}$"))
    page.wait_for_selector("#code pre.code")
    page.errors.check()


class FixedPortServer:
    def __init__(self, app, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    lifespan="on", timeout_graceful_shutdown=1, access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "FixedPortServer":
        self.thread.start()
        wait_for(lambda: self.server.started or not self.thread.is_alive(), timeout=30, message="uvicorn")
        assert self.server.started
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        assert not self.thread.is_alive()


def test_the_live_page_survives_a_server_restart(stack, open_page):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def start() -> FixedPortServer:
        service = stack.service(embedded=True)
        pool = stack.pool(size=1, delay=0.8, service=service)
        app = create_app(stack.settings, service, pool=pool, database=Database(stack.url))
        return FixedPortServer(app, port).start()

    servers = [start()]
    try:
        base = f"http://127.0.0.1:{port}"
        import httpx

        with httpx.Client(base_url=base, timeout=30) as c:
            assert upload_example(c).status_code == 201
            cid = c.post("/v1/campaigns", json=small_campaign(iterations=3)).json()["id"]
        page = open_page()
        page.goto(f"{base}/ui/campaigns/{cid}")
        page.wait_for_selector("#live-state[data-state=live]")
        page.evaluate("() => { window.__noReload = true; }")
        wait_for(lambda: len(stack.nodes(cid)) >= 2, timeout=60, message="two nodes")
        servers.pop().stop()  # the worker releases the campaign; the page loses its stream
        page.wait_for_selector("#live-state[data-state=reconnecting]")
        servers.append(start())  # same port: the page reconnects and resumes after the last event it saw
        page.wait_for_selector("#live-state[data-state=live]", timeout=60_000)
        wait_for(lambda: stack.status(cid) == "completed", timeout=180, message="the campaign to complete")
        with stack.db.session_scope(readonly=True) as s:
            messages = [m.id for m in repo.list_messages(s, cid)]
            nodes = sorted(n.id for n in repo.list_nodes(s, cid))
        page.wait_for_function("n => parseInt(document.querySelector('#message-count').textContent) === n",
                               arg=len(messages))
        page.wait_for_function("ids => ids.every(i => window.__dashboard.campaign.tree.nodes.has(i))", arg=nodes)
        assert page.evaluate("() => window.__noReload === true")
        assert page.evaluate("() => window.__dashboard.campaign.stream.connections") >= 2
        shown = [int(x) for x in page.eval_on_selector_all("#messages .msg", "els => els.map(e => e.dataset.id)")]
        assert len(shown) == len(set(shown)) and set(shown) <= set(messages)
        assert shown == messages[-len(shown):], "the newest messages, in order, none missing in between"
        page.errors.check()
    finally:
        for server in servers:
            server.stop()
