"""How much time the campaign engine itself spends per node, and how many LLM calls it keeps in flight.

Everything but the orchestration is made (nearly) free or measured so that it can be taken out:

* the LLM is a fake OpenAI-compatible server (``tests/fakes``) in a **subprocess**, speaking real HTTP on
  loopback, so its work does not share this interpreter; it answers every role with a valid answer at once
  (or after ``--delay`` seconds in the concurrency phase);
* candidates are trivial numpy fits run by the in-process evaluator of the API tests (real code, real
  trusted scorer, no sandbox);
* the real ``LLMTeam`` (prompt rendering, parsing, edit application, contract checks, ledger, recording
  off), the real ``CampaignEngine`` and a real database (SQLite in a temporary directory unless
  ``--database-url``) do the rest; the run holds a lease on a work item and every write is fenced by it,
  as under a worker of the service.

**Method (phase 1, overhead).** With concurrency 1 nothing overlaps, so the wall time of ``engine.run``
splits exactly into time inside ``provider.complete`` (the HTTP round trip to the fake, client JSON work
included: "LLM"), time inside ``evaluator.evaluate`` ("evaluation") and the rest, which is the engine's own
time: database transactions, events, messages, tree and context building, novelty checks, the team's
prompt rendering and answer parsing. Engine time per node = that rest / nodes created. It is reported per
iteration too, because some of the engine's work grows with the size of the tree. Time inside database
sessions is also summed separately ("of which database"). Wall time on a shared machine also counts the
time the engine waited for a CPU, so the same quantity is also given in CPU time of the engine's thread
(candidates run in worker threads) minus the HTTP client's CPU time inside ``provider.complete``.

**Method (phase 2, concurrency).** The fake answers each call after ``--delay`` seconds (default 0.2).
For each concurrency C the campaign mutates every scored node (up to 2C per iteration, C at a time) until
an iteration has at least 2C children; the server logs when each request arrived and was answered. Over
that last iteration we report the time-averaged number of calls in flight, the peak and the call rate;
the ideal is C in flight and C / delay calls per second.

    python benchmarks/orchestration_overhead.py [--iterations 8] [--parents 3] [--concurrency 1,4,16,32]
                                                [--delay 0.2] [--database-url URL] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXAMPLE = ROOT / "problems" / "examples" / "damped_oscillator"
TEMPLATE = '''import numpy as np

VARIANT = {variant}


def solve(task):
    x = task.train["x"][:, 0]
    y = task.train["y"]
    coeffs = np.polyfit(x, y, 3)
    task.log(0, residual=float(np.mean((np.polyval(coeffs, x) - y) ** 2)))
    return np.polyval(coeffs, task.query_inputs["x"][:, 0]) + VARIANT * 1e-9
'''


# ----------------------------------------------------------------------------------------- fake server side
def serve(delay: float) -> None:
    """Runs in the subprocess: a fake OpenAI server answering every role; stats on request, via stdin."""
    from tests.fakes.openai_server import FakeOpenAIServer
    from tests.fakes.script import Reply
    from tests.llm.helpers import last_user_text, proposal_json, role_of

    variants = itertools.count(1)
    intervals: list[tuple[float, float]] = []
    lock = threading.Lock()

    def answer(req: Any) -> Reply:
        role, user = role_of(req), last_user_text(req)
        if role == "root_engineer":
            text = "```python\n" + TEMPLATE.format(variant=0) + "```"
        elif role == "proposer":
            text = (proposal_json(title="Another variant", rationale="Change VARIANT; nothing else changes.")
                    if "final round" in user else "Change the module constant VARIANT.")
        elif role == "engineer":
            current = re.search(r"VARIANT = (\d+)", user).group(1)
            text = f"<<<<<<< SEARCH\nVARIANT = {current}\n=======\nVARIANT = {next(variants)}\n>>>>>>> REPLACE\n"
        elif role == "selector":
            ids = re.findall(r"^node (\d+):", user, re.MULTILINE)
            text = json.dumps({"votes": [int(i) for i in ids[:2]], "reason": "lowest error"})
        elif role == "retriever":
            text = '{"card": null, "reason": "none needed"}'
        elif role == "debugger":
            text = "GIVE UP: nothing to fix"
        else:
            text = f"{role}: nothing unusual."
        return Reply(text, input_tokens=500, delay_s=delay)

    class TimedServer(FakeOpenAIServer):
        def _handle(self, h: Any) -> None:
            start = time.monotonic()
            try:
                super()._handle(h)
            finally:
                with lock:
                    intervals.append((start, time.monotonic()))

    with TimedServer(default=answer) as srv:
        print(json.dumps({"base_url": srv.base_url}), flush=True)
        for line in sys.stdin:
            if line.strip() == "stats":
                with lock:
                    out, intervals[:] = list(intervals), []
                print(json.dumps({"intervals": out}), flush=True)


class FakeServerProcess:
    def __init__(self, delay: float) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", "--delay", str(delay)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        line = self.proc.stdout.readline()
        if not line:
            self.close()
            raise RuntimeError("the fake server did not start")
        self.base_url = json.loads(line)["base_url"]

    def intervals(self) -> list[tuple[float, float]]:
        """Requests served since the last call, as (arrived, answered) on the shared monotonic clock."""
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return [tuple(x) for x in json.loads(self.proc.stdout.readline())["intervals"]]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> FakeServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------------------------------- engine side
class Spans:
    """Time spent inside a kind of call, summed; with the intervals kept for per-iteration sums."""

    def __init__(self) -> None:
        self.intervals: dict[str, list[tuple[float, float]]] = {"llm": [], "evaluation": [], "database": []}
        self.llm_cpu_s = 0.0  # CPU time of this thread inside provider.complete (the HTTP client's work)
        self._lock = threading.Lock()

    def add(self, kind: str, start: float, end: float) -> None:
        with self._lock:
            self.intervals[kind].append((start, end))

    def total(self, kind: str, lo: float = -math.inf, hi: float = math.inf) -> float:
        return sum(e - s for s, e in self.intervals[kind] if s >= lo and e <= hi)

    def count(self, kind: str, lo: float = -math.inf, hi: float = math.inf) -> int:
        return sum(1 for s, e in self.intervals[kind] if s >= lo and e <= hi)


class TimedProvider:
    def __init__(self, inner: Any, spans: Spans) -> None:
        self.inner, self.spans = inner, spans

    async def complete(self, request: Any) -> Any:
        start, cpu = time.monotonic(), time.thread_time()
        try:
            return await self.inner.complete(request)
        finally:
            self.spans.add("llm", start, time.monotonic())
            self.spans.llm_cpu_s += time.thread_time() - cpu  # exact at concurrency 1: nothing interleaves

    async def aclose(self) -> None:
        await self.inner.aclose()


class TimedEvaluator:
    def __init__(self, inner: Any, spans: Spans) -> None:
        self.inner, self.spans = inner, spans
        self.cache_dir = inner.cache_dir

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            return self.inner.evaluate(*args, **kwargs)
        finally:
            self.spans.add("evaluation", start, time.monotonic())

    def close(self) -> None:
        self.inner.close()


def _time_database(db: Any, spans: Spans) -> None:
    scope = db.session_scope

    @contextmanager
    def timed(*args: Any, **kwargs: Any):
        start = time.monotonic()
        try:
            with scope(*args, **kwargs) as session:
                yield session
        finally:
            spans.add("database", start, time.monotonic())

    db.session_scope = timed


def _count_statements(db: Any) -> dict[str, int]:
    """Statements and commits the engine sends to the database: exact, independent of the machine's load."""
    from sqlalchemy import event

    counts = {"statements": 0, "commits": 0}

    def statement(*_args: Any) -> None:
        counts["statements"] += 1

    def commit(*_args: Any) -> None:
        counts["commits"] += 1

    event.listen(db.engine, "before_cursor_execute", statement)
    event.listen(db.engine, "commit", commit)
    return counts


def run_campaign(base_url: str, workdir: Path, *, iterations: int, parents: int, concurrency: int,
                 explore_iterations: int, max_children: int, selectors: int, database_url: str | None,
                 debate_rounds: int) -> dict[str, Any]:
    from agents.llm import LLMTeam
    from agents.providers import ProvidersConfig, UsageLedger
    from agents.providers.factory import build_provider
    from agents.providers.retry import ConcurrencyRegistry
    from app.campaigns.config import CampaignConfig
    from app.campaigns.engine import CampaignEngine
    from app.campaigns.service import create_campaign
    from app.db import repository as repo
    from app.db.artifacts import ArtifactStore
    from app.db.session import Database, upgrade_database
    from tests.api.fakes import InlineEvaluator

    workdir.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{workdir / 'bench.db'}"
    upgrade_database(url)
    db = Database(url)
    spans = Spans()
    providers = ProvidersConfig.model_validate({"roles": {"default": {
        "provider": "openai", "model": "fake-instant", "base_url": base_url, "max_concurrency": 256,
        "read_timeout_s": 60, "max_attempts": 2}}})
    registry, prices = ConcurrencyRegistry(), providers.price_table()

    def factory(role: str, index: int, cfg: Any) -> Any:
        return TimedProvider(build_provider(cfg, prices=prices, registry=registry), spans)

    config = CampaignConfig(problem=str(EXAMPLE), iterations=iterations, parents=parents, concurrency=concurrency,
                            explore_iterations=explore_iterations, max_children=max_children, selectors=selectors,
                            debate_rounds=debate_rounds, smoke_seconds=0, candidate_seconds=5, memory="none")
    campaign_id = create_campaign(db, config)
    team = LLMTeam(providers, UsageLedger(), None, campaign_id=campaign_id, provider_factory=factory)
    evaluator = TimedEvaluator(InlineEvaluator(workdir / "cache"), spans)
    marks: list[tuple[float, str, dict[str, Any]]] = []
    engine = CampaignEngine(db, ArtifactStore(workdir / "artifacts"), evaluator, team,
                            on_event=lambda type_, payload, node_id: marks.append((time.monotonic(), type_, payload)))
    # As under a worker of the service: the run is a leased work item and every write is fenced by it.
    with db.session_scope() as s:
        repo.enqueue(s, "campaign.run", campaign_id=campaign_id)
    with db.session_scope() as s:
        lease = repo.claim(s, "bench", lease_seconds=3600)
    engine.fence = lambda session: repo.assert_held(session, lease.item_id, lease.lease_token)
    _time_database(db, spans)
    counts = _count_statements(db)
    start, cpu = time.monotonic(), time.thread_time()
    summary = asyncio.run(engine.run(campaign_id))
    end, cpu = time.monotonic(), time.thread_time() - cpu
    asyncio.run(team.aclose())
    with db.session_scope(readonly=True) as s:
        nodes = [(n.iteration, n.status) for n in repo.list_nodes(s, campaign_id)]
    db.dispose()
    return {"summary": summary, "start": start, "end": end, "cpu": cpu, "spans": spans, "marks": marks,
            "counts": dict(counts),
            "nodes": nodes}


def overhead(args: argparse.Namespace) -> dict[str, Any]:
    with FakeServerProcess(0.0) as server, tempfile.TemporaryDirectory(prefix="orch-") as tmp:
        # A first small campaign, not measured: the engine imports parts lazily (problem registry, team
        # modules, scorer), a one-off cost of the first campaign in a process.
        run_campaign(server.base_url, Path(tmp) / "warm-up", iterations=1, parents=1, concurrency=1,
                     explore_iterations=1, max_children=1000, selectors=1, database_url=None, debate_rounds=2)
        server.intervals()
        run = run_campaign(server.base_url, Path(tmp), iterations=args.iterations, parents=args.parents,
                           concurrency=1, explore_iterations=1, max_children=1000, selectors=args.selectors,
                           database_url=args.database_url, debate_rounds=args.debate_rounds)
        served = server.intervals()
    spans: Spans = run["spans"]
    wall = run["end"] - run["start"]
    llm, evaluation, database = spans.total("llm"), spans.total("evaluation"), spans.total("database")
    engine = wall - llm - evaluation
    n_nodes = len(run["nodes"])
    by_iteration = {}
    counts: dict[int, int] = {}
    for iteration, _ in run["nodes"]:
        counts[iteration] = counts.get(iteration, 0) + 1
    # Per-iteration split: the root (iteration 0) window also holds the one-off data analysis.
    iteration_marks = [(p["iteration"], t) for t, type_, p in run["marks"] if type_ == "iteration.finished"]
    root_end = next((t for t, type_, p in run["marks"]
                     if type_ == "message" and p.get("role") == "result_analyst"), run["end"])
    edges = [(0, run["start"], root_end)]
    previous = root_end
    for iteration, t in iteration_marks:
        edges.append((iteration, previous, t))
        previous = t
    for iteration, lo, hi in edges:
        spent = (hi - lo) - spans.total("llm", lo, hi) - spans.total("evaluation", lo, hi)
        by_iteration[iteration] = {"nodes": counts.get(iteration, 0), "engine_ms_per_node":
                                   round(1000 * spent / max(counts.get(iteration, 0), 1), 1),
                                   "llm_calls": spans.count("llm", lo, hi)}
    calls = spans.count("llm")
    server_ms = statistics.median([(e - s) * 1000 for s, e in served]) if served else None
    return {
        "status": run["summary"]["status"], "nodes": n_nodes, "llm_calls": calls,
        "evaluations": spans.count("evaluation"), "wall_s": round(wall, 3),
        "llm_s": round(llm, 3), "evaluation_s": round(evaluation, 3), "engine_s": round(engine, 3),
        "engine_ms_per_node": round(1000 * engine / n_nodes, 1),
        # The same, counted in CPU time of the engine's thread (evaluations run in other threads), minus the
        # HTTP client's CPU inside provider.complete: less sensitive to other processes on the machine.
        "engine_cpu_ms_per_node": round(1000 * (run["cpu"] - spans.llm_cpu_s) / n_nodes, 1),
        "database_ms_per_node": round(1000 * database / n_nodes, 1),
        "statements_per_node": round(run["counts"]["statements"] / n_nodes, 1),
        "commits_per_node": round(run["counts"]["commits"] / n_nodes, 1),
        "engine_ms_per_llm_call": round(1000 * engine / max(calls, 1), 2),
        "llm_round_trip_ms_median": round(statistics.median(
            [(e - s) * 1000 for s, e in spans.intervals["llm"]]), 2) if calls else None,
        "server_handling_ms_median": round(server_ms, 2) if server_ms is not None else None,
        "by_iteration": by_iteration,
    }


def in_flight(intervals: list[tuple[float, float]], lo: float, hi: float) -> tuple[float, int]:
    """Time-averaged and peak number of requests in flight between ``lo`` and ``hi``."""
    events = []
    for s, e in intervals:
        s, e = max(s, lo), min(e, hi)
        if e > s:
            events += [(s, 1), (e, -1)]
    events.sort()
    area, level, peak, last = 0.0, 0, 0, lo
    for t, step in events:
        area += level * (t - last)
        level += step
        peak = max(peak, level)
        last = t
    return (area / (hi - lo) if hi > lo else 0.0), peak


def concurrency_run(args: argparse.Namespace, c: int) -> dict[str, Any]:
    # Children per iteration double (every scored node is mutated) up to 2C: stop one iteration after that.
    iterations = max(2, math.ceil(math.log2(2 * c)) + 2)
    with FakeServerProcess(args.delay) as server, tempfile.TemporaryDirectory(prefix="orch-") as tmp:
        run = run_campaign(server.base_url, Path(tmp), iterations=iterations, parents=c, concurrency=c,
                           explore_iterations=iterations, max_children=1000, selectors=1,
                           database_url=args.database_url, debate_rounds=args.debate_rounds)
        served = server.intervals()
    finished = [(p["iteration"], t) for t, type_, p in run["marks"] if type_ == "iteration.finished"]
    (_, lo), (last_iteration, hi) = finished[-2], finished[-1]
    children = sum(1 for iteration, _ in run["nodes"] if iteration == last_iteration)
    mean, peak = in_flight(served, lo, hi)
    calls = sum(1 for s, e in served if s >= lo and e <= hi)
    return {"concurrency": c, "status": run["summary"]["status"], "nodes": len(run["nodes"]),
            "last_iteration_children": children, "mean_in_flight": round(mean, 2), "peak_in_flight": peak,
            "calls_per_s": round(calls / (hi - lo), 1), "ideal_calls_per_s": round(c / args.delay, 1),
            "last_iteration_s": round(hi - lo, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--iterations", type=int, default=8, help="phase 1: iterations after the root")
    parser.add_argument("--parents", type=int, default=3, help="phase 1: parents per iteration")
    parser.add_argument("--selectors", type=int, default=3, help="phase 1: selector ensemble size")
    parser.add_argument("--debate-rounds", type=int, default=4)
    parser.add_argument("--concurrency", default="1,4,16,32", help="phase 2: comma-separated C values ('' skips)")
    parser.add_argument("--delay", type=float, default=0.2, help="phase 2: seconds the fake takes per answer")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary directory")
    parser.add_argument("--json", action="store_true", help="only the JSON line")
    args = parser.parse_args()
    if args.serve:
        serve(args.delay)
        return

    import logging

    logging.disable(logging.WARNING)
    result: dict[str, Any] = {"overhead": overhead(args), "concurrency": []}
    for c in [int(x) for x in args.concurrency.split(",") if x.strip()]:
        result["concurrency"].append(concurrency_run(args, c))
    if not args.json:
        o = result["overhead"]
        print(f"phase 1: {o['nodes']} nodes, {o['llm_calls']} LLM calls, {o['evaluations']} evaluations, "
              f"wall {o['wall_s']} s (LLM {o['llm_s']} s, evaluation {o['evaluation_s']} s)")
        print(f"  engine time per node {o['engine_ms_per_node']} ms wall (of which database sessions "
              f"{o['database_ms_per_node']} ms), {o['engine_cpu_ms_per_node']} ms CPU; "
              f"per LLM call {o['engine_ms_per_llm_call']} ms; "
              f"LLM round trip median {o['llm_round_trip_ms_median']} ms; "
              f"{o['statements_per_node']} statements and {o['commits_per_node']} commits per node")
        for iteration, row in o["by_iteration"].items():
            print(f"  iteration {iteration}: {row['nodes']} nodes, {row['llm_calls']} calls, "
                  f"engine {row['engine_ms_per_node']} ms/node")
        print(f"phase 2 (fake answers in {args.delay} s):")
        print("  C   children  mean in flight  peak  calls/s (ideal)")
        for r in result["concurrency"]:
            print(f"  {r['concurrency']:<3} {r['last_iteration_children']:<9} {r['mean_in_flight']:<15} "
                  f"{r['peak_in_flight']:<5} {r['calls_per_s']} ({r['ideal_calls_per_s']})")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
