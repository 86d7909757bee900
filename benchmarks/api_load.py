"""Load on the REST API over loopback: read latency (p50/p99) and how many SSE clients one server holds.

A server runs in a subprocess (so the clients' work does not share its interpreter) with one in-process
worker. Three phases, all bounded:

1. read latency, idle: every read endpoint ``--requests`` times from ``--threads`` client threads;
2. live streams: ``--sse-clients`` clients follow one campaign's event stream while a worker runs it; each
   must receive every event exactly once (checked against the event log), and the delivery delay
   (receipt time minus the event's ``created_at``) is recorded;
3. read latency again while those streams are open and the campaign runs.

By default the worker runs the scripted test team with candidates evaluated in the worker's process: this
measures the service (database, queue, streams), not the sandbox, which ``benchmarks/runner_overhead.py``
covers. ``--sandbox`` evaluates candidates in the real sandbox instead.

    python benchmarks/api_load.py [--requests 200] [--threads 4] [--sse-clients 100] [--iterations 3]
                                  [--delay 0.3] [--sandbox] [--database-url URL]

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402 - after the path set-up above


# -- the server process ---------------------------------------------------------------------------------------
def serve(data_dir: Path, url: str, port: int, sandbox: bool, delay: float) -> None:
    """Server mode (run in the subprocess): API plus one worker with the scripted team."""
    import uvicorn

    from app.api import create_app
    from app.api.settings import ServiceSettings
    from app.campaigns.service import Services, open_services
    from app.db.artifacts import ArtifactStore
    from app.db.session import Database, upgrade_database
    from app.settings import Settings
    from app.workers.pool import WorkerPool
    from tests.api.fakes import InlineEvaluator, scripted_team_with

    settings = Settings(data_dir=data_dir, DATABASE_URL=url)
    service = ServiceSettings(port=port, workers=1, lease_seconds=10, heartbeat_seconds=1, poll_seconds=0.2,
                              sse_poll_seconds=0.1, max_active_campaigns=1000, max_active_campaigns_per_user=1000)
    upgrade_database(url)
    if sandbox:
        services = open_services(settings, warm_workers=1)
    else:
        services = Services(settings=settings, db=Database(url), store=ArtifactStore(data_dir / "artifacts"),
                            evaluator=InlineEvaluator(data_dir / "cache"))
    pool = WorkerPool(services, size=1, options=service.worker_options(), team_factory=scripted_team_with(delay),
                      owns_services=True)
    app = create_app(settings, service, pool=pool)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, backlog=4096,
                timeout_graceful_shutdown=2)


# -- measurement helpers --------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarize(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 2), "p90_ms": round(percentile(ms, 90), 2),
            "p99_ms": round(percentile(ms, 99), 2), "max_ms": round(max(ms), 2) if ms else float("nan"),
            "mean_ms": round(statistics.fmean(ms), 2) if ms else float("nan")}


def read_latencies(base: str, key: str, paths: list[str], requests: int, threads: int) -> dict[str, dict[str, float]]:
    """Each path ``requests`` times, spread over ``threads`` keep-alive clients."""
    headers = {"Authorization": f"Bearer {key}"}
    out: dict[str, dict[str, float]] = {}
    per_thread = max(1, requests // threads)
    for path in paths:

        def run(_: int, path: str = path) -> list[float]:
            samples = []
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                for _ in range(per_thread):
                    start = time.perf_counter()
                    response = client.get(path)
                    samples.append(time.perf_counter() - start)
                    if response.status_code != 200:
                        raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
            return samples

        wall = time.perf_counter()
        with ThreadPoolExecutor(threads) as executor:
            samples = [s for chunk in executor.map(run, range(threads)) for s in chunk]
        wall = time.perf_counter() - wall
        out[path] = {**summarize(samples), "req_per_s": round(len(samples) / wall, 1)}
    return out


async def follow_stream(base: str, key: str, campaign_id: str, received: list, ready: asyncio.Event,
                        connected: list[int]) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=httpx.Timeout(120, connect=30)) as client:
        async with client.stream("GET", f"/v1/campaigns/{campaign_id}/events") as response:
            response.raise_for_status()
            connected.append(1)
            data: str | None = None
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    data = line[6:]
                elif line == "" and data is not None:
                    event = json.loads(data)
                    received.append((event["seq"], time.time(), event["created_at"], event["type"]))
                    data = None
                    if event["type"] in ("campaign.completed", "campaign.failed"):
                        return
                elif line.startswith("retry:"):
                    ready.set()


async def hold_streams(base: str, key: str, campaign_id: str, clients: int, start_campaign: Any) -> dict[str, Any]:
    received: list[list] = [[] for _ in range(clients)]
    connected: list[int] = []
    ready = asyncio.Event()
    tasks = [asyncio.create_task(follow_stream(base, key, campaign_id, received[i], ready, connected))
             for i in range(clients)]
    deadline = time.monotonic() + 60
    while len(connected) < clients and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    held = len(connected)
    t0 = time.monotonic()
    await asyncio.to_thread(start_campaign)
    done, pending = await asyncio.wait(tasks, timeout=600)
    for task in pending:
        task.cancel()
    errors = [repr(t.exception()) for t in done if t.exception() is not None]
    return {"received": received, "held": held, "seconds": time.monotonic() - t0, "errors": errors[:3],
            "unfinished": len(pending)}


# -- the benchmark --------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per read endpoint and phase")
    parser.add_argument("--threads", type=int, default=4, help="client threads for the read phases")
    parser.add_argument("--sse-clients", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=3, help="iterations of the campaign the streams follow")
    parser.add_argument("--delay", type=float, default=0.3, help="seconds each scripted candidate trains")
    parser.add_argument("--sandbox", action="store_true", help="evaluate candidates in the real sandbox")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary directory")
    parser.add_argument("--serve", nargs=3, metavar=("DATA_DIR", "URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), args.serve[1], int(args.serve[2]), args.sandbox, args.delay)
        return

    tmp = Path(tempfile.mkdtemp(prefix="api_load_"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AGENTIC_SCIML_EMBEDDER": "hashing"}
    command = [sys.executable, __file__, "--serve", str(tmp / "data"), url, str(port), "--delay", str(args.delay)]
    server = subprocess.Popen(command + (["--sandbox"] if args.sandbox else []), cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        result = run_phases(args, base, url)
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    print_report(result)
    print(json.dumps(result))


def run_phases(args: argparse.Namespace, base: str, url: str) -> dict[str, Any]:
    from app.api.auth import create_key
    from app.db.events import list_events
    from app.db.session import Database

    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.2)
    db = Database(url)
    key = create_key(db, name="bench", scope="write", admin=True).key
    headers = {"Authorization": f"Bearer {key}"}
    client = httpx.Client(base_url=base, headers=headers, timeout=60)
    example = ROOT / "problems" / "examples" / "damped_oscillator"
    upload = client.post("/v1/problems", data={"name": "bench_oscillator", "kind": "regression",
                                               "description": (example / "description.md").read_text()},
                         files={"data": ("data.npz", (example / "data.npz").read_bytes())})
    upload.raise_for_status()
    plan = {"problem": "bench_oscillator", "iterations": args.iterations, "parents": 2, "smoke_seconds": 0,
            "debate_rounds": 2, "debug_attempts": 1, "memory": "none"}
    # A finished campaign gives the read endpoints something real to return.
    warm = client.post("/v1/campaigns", json={**plan, "iterations": 1}).json()["id"]
    while client.get(f"/v1/campaigns/{warm}").json()["status"] not in ("completed", "failed"):
        time.sleep(0.2)
    node = client.get(f"/v1/campaigns/{warm}/tree").json()["nodes"][-1]["node_id"]
    paths = ["/v1/healthz", "/v1/campaigns", f"/v1/campaigns/{warm}", f"/v1/campaigns/{warm}/tree",
             f"/v1/campaigns/{warm}/nodes/{node}", f"/v1/campaigns/{warm}/events/history", "/v1/problems"]
    idle = read_latencies(base, key, paths, args.requests, args.threads)

    # Streams on a campaign that is held (paused) until every client is connected, then resumed.
    created = client.post("/v1/campaigns", json=plan).json()["id"]
    client.post(f"/v1/campaigns/{created}/pause")
    loaded: dict[str, Any] = {}

    resumed_at: list[float] = []

    def start_campaign() -> None:
        resumed_at.append(time.time())
        client.post(f"/v1/campaigns/{created}/resume").raise_for_status()
        time.sleep(0.5)
        loaded.update(read_latencies(base, key, paths[1:4], max(20, args.requests // 4), args.threads))

    streams = asyncio.run(hold_streams(base, key, created, args.sse_clients, start_campaign))
    with db.session_scope(readonly=True) as s:
        expected = [e.seq for e in list_events(s, created, limit=1_000_000)]
    complete = sum(1 for r in streams["received"] if [x[0] for x in r] == expected)
    delays = []  # live events only: those written after the resume (earlier ones are a replay)
    for r in streams["received"]:
        for _, at, created_at, _ in r:
            stamp = datetime.fromisoformat(created_at.replace("Z", "+00:00")).astimezone(UTC).timestamp()
            if stamp >= resumed_at[0]:
                delays.append(max(0.0, at - stamp))
    db.dispose()
    return {
        "benchmark": "api_load", "database": url.split(":")[0], "sandbox": args.sandbox, "threads": args.threads,
        "idle": idle, "during_campaign": loaded,
        "sse": {"clients": args.sse_clients, "held": streams["held"], "complete_and_exact": complete,
                "events_per_client": len(expected), "campaign_seconds": round(streams["seconds"], 2),
                "delivery_delay": summarize(delays), "errors": streams["errors"], "unfinished": streams["unfinished"]},
    }


def print_report(result: dict[str, Any]) -> None:
    print(f"read latency over loopback ({result['threads']} client threads, {result['database']})")
    print(f"{'endpoint':<48} {'phase':<8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'req/s':>8}")
    for phase in ("idle", "during_campaign"):
        for path, row in result[phase].items():
            print(f"{path[:48]:<48} {phase[:8]:<8} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {row['max_ms']:>8.2f} "
                  f"{row['req_per_s']:>8.1f}")
    sse = result["sse"]
    print(f"\nSSE: {sse['held']}/{sse['clients']} clients held; {sse['complete_and_exact']} received all "
          f"{sse['events_per_client']} events exactly once during a {sse['campaign_seconds']} s campaign; "
          f"delivery delay p50 {sse['delivery_delay']['p50_ms']} ms, p99 {sse['delivery_delay']['p99_ms']} ms")
    if sse["errors"] or sse["unfinished"]:
        print(f"  errors: {sse['errors']}, unfinished streams: {sse['unfinished']}")


if __name__ == "__main__":
    main()
