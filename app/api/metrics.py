"""Prometheus metrics: service state read from the database at scrape time, HTTP traffic counted in process.

State (campaigns by status, evaluations, queue depth, workers, LLM usage, evaluation durations) comes from
the database on each scrape rather than from counters in this process: workers in other processes do the
work, and the database is the one place that knows all of it. Each app gets its own registry, so several
apps in one process (tests) never collide.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import case, func, select

from app.db.models import Campaign, Node, WorkItem
from app.db.session import Database
from app.workers import heartbeat
from app.workers.queue import queue_depth

DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
TERMINAL_NODES = ("succeeded", "failed")


class DatabaseCollector:
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Any]:
        with self.db.session_scope(readonly=True) as s:
            by_status = dict(s.execute(select(Campaign.status, func.count(Campaign.id)).group_by(Campaign.status)).all())
            totals = s.execute(select(
                func.coalesce(func.sum(Campaign.evaluations), 0), func.coalesce(func.sum(Campaign.failures), 0),
                func.coalesce(func.sum(Campaign.tokens_in), 0), func.coalesce(func.sum(Campaign.tokens_out), 0),
                func.coalesce(func.sum(Campaign.cost_usd), 0.0))).one()
            depth = queue_depth(s)
            alive = len(heartbeat.alive(s))
            running_nodes = s.scalar(select(func.count(Node.id)).where(Node.status == "running")) or 0
            finished = Node.status.in_(TERMINAL_NODES) & Node.wall_seconds.is_not(None)
            count, total = s.execute(select(func.count(Node.id), func.coalesce(func.sum(Node.wall_seconds), 0.0))
                                     .where(finished)).one()
            row = s.execute(select(*[func.coalesce(func.sum(case((Node.wall_seconds <= le, 1), else_=0)), 0)
                                     for le in DURATION_BUCKETS]).where(finished)).one()
            cumulative = [int(v or 0) for v in row]
            queue_oldest = s.scalar(select(func.min(WorkItem.created_at)).where(
                WorkItem.kind == "campaign.run", WorkItem.status == "queued"))

        campaigns = GaugeMetricFamily("agentic_sciml_campaigns", "Campaigns by status.", labels=["status"])
        for status in ("created", "running", "paused", "completed", "failed", "cancelled"):
            campaigns.add_metric([status], by_status.get(status, 0))
        yield campaigns
        yield CounterMetricFamily("agentic_sciml_evaluations", "Full candidate evaluations recorded.", value=totals[0])
        yield CounterMetricFamily("agentic_sciml_evaluation_failures", "Nodes that ended failed.", value=totals[1])
        in_flight = GaugeMetricFamily("agentic_sciml_evaluations_in_flight", "Nodes being evaluated now.")
        in_flight.add_metric([], running_nodes)
        yield in_flight
        queue = GaugeMetricFamily("agentic_sciml_queue_depth", "Campaign runs by work-queue status.", labels=["status"])
        for status in ("queued", "leased"):
            queue.add_metric([status], depth.get(status, 0))
        yield queue
        if queue_oldest is not None:
            wait = GaugeMetricFamily("agentic_sciml_queue_oldest_wait_seconds", "Age of the oldest queued run.")
            wait.add_metric([], max(0.0, time.time() - queue_oldest.timestamp()))
            yield wait
        workers = GaugeMetricFamily("agentic_sciml_workers_alive", "Worker processes with a live heartbeat.")
        workers.add_metric([], alive)
        yield workers
        tokens = CounterMetricFamily("agentic_sciml_llm_tokens", "LLM tokens used by campaigns.", labels=["direction"])
        tokens.add_metric(["in"], totals[2])
        tokens.add_metric(["out"], totals[3])
        yield tokens
        yield CounterMetricFamily("agentic_sciml_llm_cost_usd", "LLM cost of campaigns in US dollars.", value=totals[4])
        buckets = [(str(le), float(c)) for le, c in zip(DURATION_BUCKETS, cumulative)] + [("+Inf", float(count))]
        yield HistogramMetricFamily("agentic_sciml_evaluation_duration_seconds",
                                    "Wall time of finished node evaluations.", buckets=buckets, sum_value=float(total))


class HttpMetrics:
    """Request counts and latencies by route template (not raw path: ids would explode the label space)."""

    def __init__(self, registry: CollectorRegistry, prefix: str = "") -> None:
        self.prefix = prefix
        self.requests = Counter("agentic_sciml_http_requests", "HTTP requests served.",
                                ["method", "route", "status"], registry=registry)
        self.latency = Histogram("agentic_sciml_http_request_duration_seconds", "Time to the response head.",
                                 ["method", "route"], buckets=HTTP_BUCKETS, registry=registry)

    def route_label(self, scope: dict[str, Any]) -> str:
        path = getattr(scope.get("route"), "path", None)
        if path is None:
            return "unmatched"
        included = isinstance(scope.get("fastapi"), dict) and "included_router" in scope["fastapi"]
        return self.prefix + path if included else path

    def middleware(self, app: Any) -> Callable:
        async def wrapped(scope: dict[str, Any], receive: Callable, send: Callable) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            start = time.perf_counter()
            status = {"code": 500}

            async def observed_send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status["code"] = message["status"]
                    route = self.route_label(scope)
                    self.latency.labels(scope["method"], route).observe(time.perf_counter() - start)
                await send(message)

            try:
                await app(scope, receive, observed_send)
            finally:
                route = self.route_label(scope)
                self.requests.labels(scope["method"], route, str(status["code"])).inc()

        return wrapped


def build_registry(db: Database, prefix: str = "") -> tuple[CollectorRegistry, HttpMetrics]:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(db))
    return registry, HttpMetrics(registry, prefix)
