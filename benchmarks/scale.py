"""Evaluations per minute with 1, 2 and 4 workers, local process pool against Ray, on trivial candidates.

A trivial candidate (numpy only, returns zeros) trains nothing, so the throughput measures what every
evaluation pays whatever it trains: building the bundle, starting the jail, reading the predictions back,
scoring, and for Ray the task round trip (submission, scheduling, argument transfer, the log relay, the
result). ``workers`` is the number of evaluations in flight: threads submitting to the local executor, or
the CPU slots of one Ray worker node (a head without slots plus that node, all on loopback) with as many
submitting threads. A Ray no-op task round trip is measured too, for Ray's own share.

The second part measures what a real campaign asks of the database per evaluation (commits, INSERT and
UPDATE statements, events by type), for the paper calculation in BENCHMARKS.md.

    python benchmarks/scale.py [--workers 1,2,4] [--evaluations 24] [--executors local,ray]
                               [--database-url URL] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXAMPLE = ROOT / "problems" / "examples" / "damped_oscillator"
TRIVIAL = '''
import numpy as np

def solve(task):
    return np.zeros(task.output_shape)
'''


def _throughput(evaluator: Any, problem: Any, workers: int, evaluations: int) -> dict[str, Any]:
    """Run ``evaluations`` trivial candidates with ``workers`` in flight; evaluations per minute."""
    def one(_: int) -> tuple[str, float]:
        start = time.monotonic()
        result = evaluator.evaluate(TRIVIAL, problem)
        return result.status, time.monotonic() - start

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(workers)))  # warm-up: worker processes, runtime copy, caches
        start = time.monotonic()
        done = list(pool.map(one, range(evaluations)))
        wall = time.monotonic() - start
    failed = [s for s, _ in done if s != "succeeded"]
    latencies = sorted(d for _, d in done)
    return {"workers": workers, "evaluations": evaluations, "failed": len(failed), "wall_s": round(wall, 2),
            "per_minute": round(evaluations / wall * 60, 1),
            "latency_p50_s": round(statistics.median(latencies), 3),
            "latency_p90_s": round(latencies[int(0.9 * (len(latencies) - 1))], 3)}


def measure_local(problem: Any, workers: list[int], evaluations: int) -> list[dict[str, Any]]:
    from sandbox.evaluate import Evaluator

    rows = []
    root = Path(tempfile.mkdtemp(prefix="scale-local-"))
    with Evaluator(root / "runs", root / "cache") as evaluator:
        for n in workers:
            rows.append({"executor": "local", **_throughput(evaluator, problem, n, evaluations)})
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def measure_ray(problem: Any, workers: list[int],
                evaluations: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    import ray

    from sandbox.evaluate import Evaluator
    from sandbox.executors.ray_executor import RayExecutor
    from tests.executors.ray_cluster import local_ray_cluster

    rows: list[dict[str, Any]] = []
    noop: dict[str, Any] = {}
    for n in workers:
        root = Path(tempfile.mkdtemp(prefix="scale-ray-"))
        with local_ray_cluster(worker_cpus=(n,)) as cluster:
            executor = RayExecutor(address=cluster.address, scratch_dir=root / "predictions")
            with Evaluator(root / "runs", root / "cache", executor=executor) as evaluator:
                if not noop:
                    noop = _noop_round_trip(ray)
                rows.append({"executor": "ray", **_throughput(evaluator, problem, n, evaluations)})
                print(rows[-1], file=sys.stderr, flush=True)
    return rows, noop


def _noop_round_trip(ray: Any, count: int = 50) -> dict[str, Any]:
    @ray.remote(num_cpus=1)
    def noop() -> int:
        return 0

    ray.get(noop.remote())
    times = []
    for _ in range(count):
        start = time.monotonic()
        ray.get(noop.remote())
        times.append(time.monotonic() - start)
    return {"noop_task_round_trip_ms_p50": round(1000 * statistics.median(times), 2),
            "noop_task_round_trip_ms_p90": round(1000 * sorted(times)[int(0.9 * (count - 1))], 2)}


def measure_campaign_db(database_url: str | None) -> dict[str, Any]:
    """One real campaign (scripted team, sandboxed candidates): database work per full evaluation."""
    from sqlalchemy import event, select

    from app.campaigns.config import CampaignConfig
    from app.campaigns.service import create_campaign, open_services, run_campaign
    from app.db.models import Event, Message
    from app.settings import Settings
    from tests.campaigns.scripted_team import ScriptedTeam

    os.environ.setdefault("AGENTIC_SCIML_EMBEDDER", "hashing")
    data = Path(tempfile.mkdtemp(prefix="scale-db-"))
    settings = Settings(data_dir=data, DATABASE_URL=database_url or f"sqlite:///{data / 'db.sqlite'}")
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    with open_services(settings) as services:
        engine = services.db.engine

        @event.listens_for(engine, "commit")
        def _commit(_conn: Any) -> None:
            with lock:
                counts["commits"] += 1

        @event.listens_for(engine, "before_cursor_execute")
        def _statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            verb = statement.lstrip().split(None, 1)[0].upper()
            with lock:
                counts[verb] += 1

        config = CampaignConfig(problem=str(EXAMPLE), iterations=3, parents=2, smoke_seconds=0,
                                debate_rounds=4, debug_attempts=1, concurrency=2, memory="none")
        campaign_id = create_campaign(services.db, config)
        counts.clear()
        started = time.monotonic()
        summary = run_campaign(services, campaign_id, team=ScriptedTeam())
        wall = time.monotonic() - started
        with services.db.session_scope(readonly=True) as s:
            types = Counter(s.scalars(select(Event.type).where(Event.campaign_id == campaign_id)))
            messages = len(list(s.scalars(select(Message.id).where(Message.campaign_id == campaign_id))))
    evaluations = types["evaluation.started"]  # one per full evaluation, debugger retries included
    per = max(1, evaluations)
    return {
        "database": services.db.dialect_name, "campaign_status": summary["status"],
        "campaign_wall_s": round(wall, 1), "evaluations": evaluations,
        "events": sum(types.values()), "event_types": dict(types),
        "messages": messages, "commits": counts["commits"], "inserts": counts["INSERT"],
        "updates": counts["UPDATE"], "selects": counts["SELECT"],
        "per_evaluation": {"commits": round(counts["commits"] / per, 1),
                           "inserts": round(counts["INSERT"] / per, 1),
                           "updates": round(counts["UPDATE"] / per, 1),
                           "events": round(sum(types.values()) / per, 1),
                           "messages": round(messages / per, 1), "selects": round(counts["SELECT"] / per, 1)},
    }


def _table(rows: list[dict[str, Any]]) -> str:
    lines = ["| executor | workers | evaluations/min | latency p50 / p90 | failed |",
             "| --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['executor']} | {r['workers']} | {r['per_minute']} | {r['latency_p50_s']} / "
                     f"{r['latency_p90_s']} s | {r['failed']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--evaluations", type=int, default=24)
    parser.add_argument("--executors", default="local,ray")
    parser.add_argument("--database-url", default=None, help="for the campaign part (default: SQLite)")
    parser.add_argument("--skip-campaign", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from problems.registry import get_problem

    problem = get_problem(str(EXAMPLE))
    workers = [int(n) for n in args.workers.split(",")]
    executors = args.executors.split(",")
    report: dict[str, Any] = {"load_average_before": os.getloadavg(), "cpus": os.cpu_count(), "rows": []}
    if "local" in executors:
        report["rows"] += measure_local(problem, workers, args.evaluations)
    if "ray" in executors:
        rows, noop = measure_ray(problem, workers, args.evaluations)
        report["rows"] += rows
        report["ray"] = noop
    if not args.skip_campaign:
        report["campaign"] = measure_campaign_db(args.database_url)
    report["load_average_after"] = os.getloadavg()
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(_table(report["rows"]))
        print(json.dumps({k: v for k, v in report.items() if k != "rows"}, indent=1))


if __name__ == "__main__":
    main()
