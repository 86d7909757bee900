"""How fast the dashboard's campaign page renders a big campaign: 2,000 nodes and 20,000 messages by default.

Seeds one campaign straight into a fresh database (an evolutionary tree: each iteration mutates the best
node and a few good ones; some children fail or duplicate their parent; ten agent messages per node),
serves it with the real app on loopback, and opens ``/ui/campaigns/ID`` in Debian's Chromium (Playwright,
headless, a fresh browser context per run). Reported per run, then as median and range:

* ``api_ms``: the one request the first paint needs (``GET /v1/campaigns/ID/dashboard``), seen by the browser;
* ``tree_ms``: laying out and drawing the tree (every node, in one SVG);
* ``first_render_ms``: navigation start to the page fully drawn (header, tree, charts, usage, the newest page
  of messages), i.e. ``performance.now()`` when the page declares itself ready;
* ``redraw_ms``: one pan/zoom redraw of the tree (median of 30), what dragging or wheeling costs per frame;
* ``older_ms``: loading and inserting the previous page of 50 messages;
* ``dom_nodes``: elements in the document once rendered (messages are paged, so it does not grow with them).

    python benchmarks/dashboard_render.py [--nodes 2000] [--messages 20000] [--runs 5] [--database-url URL]

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text, update  # noqa: E402 - after the path set-up above

from app.campaigns.config import CampaignConfig  # noqa: E402
from app.campaigns.service import create_campaign  # noqa: E402
from app.db.models import Campaign, Event, Message, Node  # noqa: E402
from app.db.session import Database, upgrade_database  # noqa: E402
from app.db.types import utcnow  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ROLES = ("proposer", "critic", "proposer", "critic", "engineer", "result_analyst", "selector", "retriever",
         "proposer", "critic")
WORDS = ("residual loss boundary spectral bias Fourier features adaptive weights causal training curriculum "
         "collocation resampling gradient pathology stiffness learning rate Adam L-BFGS width depth activation "
         "tanh sine SIREN operator branch trunk sensors smoothness jump oscillation noise regularisation").split()
CODE = '''import numpy as np
import torch

WIDTH = {width}

def solve(task):
    task.seed_everything()
    x = torch.as_tensor(task.train["x"], dtype=torch.float32)
    y = torch.as_tensor(task.train["y"], dtype=torch.float32).reshape(-1, 1)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], WIDTH), torch.nn.Tanh(), torch.nn.Linear(WIDTH, 1))
    opt = torch.optim.Adam(net.parameters(), lr={lr})
    step = 0
    while task.time_left() > 1:
        loss = ((net(x) - y) ** 2).mean()
        opt.zero_grad(); loss.backward(); opt.step()
        task.log(step, loss=loss.item()); step += 1
    q = torch.as_tensor(task.query_inputs["x"], dtype=torch.float32)
    return net(q).detach().numpy().reshape(-1)
'''


def _text(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi))).capitalize() + "."


def seed_campaign(db: Database, *, nodes: int = 2000, messages: int = 20000, seed: int = 0) -> str:
    """Write a finished campaign of ``nodes`` nodes and ``messages`` messages; returns its id."""
    rng = random.Random(seed)
    config = CampaignConfig(problem="discontinuous_fit1d", iterations=max(1, (nodes - 1 + 19) // 20))
    cid = create_campaign(db, config, name=f"benchmark: {nodes} nodes, {messages} messages")
    start = utcnow() - timedelta(hours=6)
    with db.session_scope() as s:
        first_id = int(s.scalar(select(func.max(Node.id))) or 0) + 1
    rows: list[dict[str, Any]] = []
    scores: dict[int, float] = {}
    depth: dict[int, int] = {}
    per_iteration = 20
    for k in range(nodes):
        nid = first_id + k
        if k == 0:
            parent, iteration, status, score = None, 0, "succeeded", 0.35
        else:
            iteration = 1 + (k - 1) // per_iteration
            scored = sorted((v, n) for n, v in scores.items())
            pool = scored[: max(1, len(scored) // 10)]
            parent = scored[0][1] if rng.random() < 0.35 else rng.choice(pool)[1]
            draw = rng.random()
            status = "failed" if draw < 0.12 else "skipped_duplicate" if draw < 0.16 else "succeeded"
            # children are mostly a little worse than their parent, sometimes better; errors level off near 1e-4
            score = max(1e-4 * (1 + rng.random()), scores[parent] * math.exp(rng.gauss(0.1, 0.2))) \
                if status == "succeeded" else None
        depth[nid] = 0 if parent is None else depth[parent] + 1
        if score is not None:
            scores[nid] = score
        width = rng.choice([32, 64, 128])
        title = "root" if parent is None else f"{rng.choice(WORDS)} {rng.choice(WORDS)} (width {width})"
        rows.append(dict(
            id=nid, campaign_id=cid, parent_id=parent, iteration=iteration, depth=depth[nid],
            operation="root" if parent is None else "improve", status=status,
            code=CODE.format(width=width, lr=rng.choice([1e-3, 3e-3])),
            proposal={"title": title, "rationale": _text(rng, 20, 60),
                      "card": rng.choice([None, "adam-then-lbfgs", "siren"])},
            score=score, error=f"[full] exception: RuntimeError: {_text(rng, 5, 12)}" if status == "failed" else None,
            created_at=start + timedelta(seconds=10 * k), finished_at=start + timedelta(seconds=10 * k + 8),
            wall_seconds=8.0, tokens_in=0, tokens_out=0, cost_usd=0.0,
        ))
    champion = min(scores, key=scores.get)
    ids = [r["id"] for r in rows]
    msg_rows = []
    for m in range(messages):
        node = ids[min(len(ids) - 1, m * len(ids) // max(1, messages))]
        role = ROLES[m % len(ROLES)]
        msg_rows.append(dict(campaign_id=cid, node_id=node, iteration=rows[node - first_id]["iteration"], role=role,
                             kind={"proposer": "reasoning", "critic": "critique"}.get(role, "report"),
                             model=rng.choice(["gpt-4.1", "claude-sonnet-4-5", "local-qwen"]), text=_text(rng, 30, 200),
                             payload={"round": 1 + (m % 10) // 2}, tokens_in=rng.randint(500, 4000),
                             tokens_out=rng.randint(50, 800), cost_usd=rng.random() * 0.01,
                             created_at=start + timedelta(seconds=m)))
    event_rows = []
    seq = 0
    for r in rows:
        seq += 1
        event_rows.append(dict(campaign_id=cid, seq=seq, type="node.created", node_id=r["id"], payload={},
                               created_at=r["created_at"]))
        seq += 1
        event_rows.append(dict(campaign_id=cid, seq=seq, type="evaluation.finished", node_id=r["id"],
                               payload={"status": r["status"], "score": r["score"]}, created_at=r["finished_at"]))
    with db.session_scope() as s:
        s.execute(insert(Node), rows)
        s.execute(insert(Message), msg_rows)
        s.execute(insert(Event), event_rows)
        s.execute(update(Campaign).where(Campaign.id == cid).values(
            status="completed", root_node_id=first_id, champion_node_id=champion, best_score=scores[champion],
            iterations_done=rows[-1]["iteration"], evaluations=len(scores),
            failures=sum(r["status"] == "failed" for r in rows),
            tokens_in=sum(m["tokens_in"] for m in msg_rows), tokens_out=sum(m["tokens_out"] for m in msg_rows),
            cost_usd=sum(m["cost_usd"] for m in msg_rows), last_event_seq=seq, started_at=start,
            config={**config.model_dump(), "_state": {"active_seconds": 10.0 * nodes}},
            finished_at=start + timedelta(seconds=10 * nodes)))
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SELECT setval(pg_get_serial_sequence('nodes', 'id'), (SELECT max(id) FROM nodes))"))
    return cid


class Server:
    """uvicorn on 127.0.0.1 (an ephemeral port) in a thread of this process."""

    def __init__(self, app: Any) -> None:
        import threading

        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                                    access_log=False, timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def measure(base_url: str, cid: str, runs: int) -> list[dict[str, float]]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1440, "height": 1000})
                page = context.new_page()
                page.goto(f"{base_url}/ui/campaigns/{cid}")
                page.wait_for_function("() => window.__dashboard && window.__dashboard.campaign", timeout=120_000)
                r = page.evaluate("""async () => {
                  const c = window.__dashboard.campaign;
                  const res = performance.getEntriesByType('resource').find(e => e.name.includes('/dashboard'));
                  const redraws = [];
                  for (let i = 0; i < 30; i += 1) {
                    c.tree.zoomBy(i % 2 ? 1 / 1.15 : 1.15);
                    const t = performance.now(); c.tree.draw(); redraws.push(performance.now() - t);
                  }
                  redraws.sort((a, b) => a - b);
                  await new Promise(r => setTimeout(r, 500));  // let the redraws' frames settle first
                  const before = document.querySelectorAll('#messages .msg').length;
                  const t = performance.now();
                  document.querySelector('#older').click();
                  const count = () => document.querySelectorAll('#messages .msg').length;
                  while (count() === before) await new Promise(r => setTimeout(r, 5));
                  const older = performance.now() - t;
                  return { api_ms: res ? res.responseEnd - res.startTime : c.apiMs, tree_ms: c.treeMs,
                           first_render_ms: c.readyAt, redraw_ms: redraws[15], older_ms: older,
                           dom_nodes: document.getElementsByTagName('*').length, tree_nodes: c.tree.size,
                           messages_in_dom: document.querySelectorAll('#messages .msg').length };
                }""")
                out.append(r)
                context.close()
        finally:
            browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary directory")
    args = parser.parse_args()

    from app.api import create_app
    from app.api.settings import ServiceSettings
    from app.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade_database(url)
        db = Database(url)
        t = time.perf_counter()
        cid = seed_campaign(db, nodes=args.nodes, messages=args.messages)
        seeded = time.perf_counter() - t
        settings = Settings(data_dir=Path(tmp) / "data", DATABASE_URL=url)
        service = ServiceSettings(embedded=True, workers=0, ready_requires_workers=False)
        try:
            with Server(create_app(settings, service, database=Database(url))) as base_url:
                runs = measure(base_url, cid, args.runs)
        finally:
            db.dispose()

    keys = ["api_ms", "tree_ms", "first_render_ms", "redraw_ms", "older_ms", "dom_nodes"]
    summary = {k: {"median": statistics.median(r[k] for r in runs), "min": min(r[k] for r in runs),
                   "max": max(r[k] for r in runs)} for k in keys}
    print(f"campaign: {runs[0]['tree_nodes']} nodes drawn, {args.messages} messages "
          f"({runs[0]['messages_in_dom']} in the page after one 'load older'); "
          f"seeded in {seeded:.1f} s; {args.runs} runs")
    print(f"{'metric':<18}{'median':>10}{'min':>10}{'max':>10}")
    for k in keys:
        v = summary[k]
        print(f"{k:<18}{v['median']:>10.1f}{v['min']:>10.1f}{v['max']:>10.1f}")
    print(json.dumps({"nodes": args.nodes, "messages": args.messages, "runs": runs, "summary": summary,
                      "database": "postgresql" if args.database_url and "postgres" in args.database_url else "sqlite"}))


if __name__ == "__main__":
    main()
