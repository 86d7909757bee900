"""A real service for the API tests: uvicorn on 127.0.0.1 (ephemeral port) in a thread, plus helpers.

``Stack`` owns one database (SQLite file or a fresh PostgreSQL schema) and one data directory; it can start
servers (with or without in-process workers), worker subprocesses, and create API keys. Several servers and
workers may share a stack, which is how the tests put two workers, or a restarted server, on one campaign.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx
import uvicorn

from app.api import create_app
from app.api.auth import create_key
from app.api.settings import ServiceSettings
from app.campaigns.service import Services
from app.db import repository as repo
from app.db.artifacts import ArtifactStore
from app.db.events import list_events, to_record
from app.db.session import Database, upgrade_database
from app.settings import Settings
from app.workers.options import WorkerOptions
from app.workers.pool import WorkerPool
from tests.api.fakes import EXAMPLE, REPO, InlineEvaluator, scripted_team_with

FAST = dict(lease_seconds=2.0, heartbeat_seconds=0.25, poll_seconds=0.1, sse_poll_seconds=0.05,
            sse_heartbeat_seconds=0.5, sse_gap_grace_seconds=0.5, auth_cache_seconds=0.2)


class ServerThread:
    """uvicorn.Server in a daemon thread; ``stop()`` is the graceful path (like SIGTERM)."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=1, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.port: int | None = None

    def start(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        assert not self.thread.is_alive(), "server thread did not stop"


@dataclass
class Running:
    server: ServerThread
    pool: WorkerPool | None
    app: Any

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=kwargs.pop("timeout", 30), **kwargs)

    def stop(self) -> None:
        self.server.stop()


@dataclass
class Stack:
    url: str
    data_dir: Path
    service_overrides: dict[str, Any] = field(default_factory=dict)
    _servers: list[Running] = field(default_factory=list)
    _procs: list[subprocess.Popen] = field(default_factory=list)

    def __post_init__(self) -> None:
        upgrade_database(self.url)
        self.db = Database(self.url)
        self.settings = Settings(data_dir=self.data_dir, DATABASE_URL=self.url)

    def service(self, **overrides: Any) -> ServiceSettings:
        values = {"embedded": False, "auth_enabled": True, "workers": 0, "team_factory": None, **FAST,
                  **self.service_overrides, **overrides}
        return ServiceSettings(**values)

    def pool(self, *, size: int = 1, delay: float = 0.0, name: str | None = None,
             service: ServiceSettings | None = None) -> WorkerPool:
        service = service or self.service()
        services = Services(settings=self.settings, db=Database(self.url),
                            store=ArtifactStore(self.data_dir / "artifacts"),
                            evaluator=InlineEvaluator(self.data_dir / "cache"))
        options = WorkerOptions(**{**service.worker_options().model_dump(), "reap_every_beats": 2})
        return WorkerPool(services, size=size, options=options, team_factory=scripted_team_with(delay),
                          name=name, owns_services=True)

    def serve(self, *, workers: int = 0, delay: float = 0.0, memory: Any = None, **overrides: Any) -> Running:
        service = self.service(**overrides)
        pool = self.pool(size=workers, delay=delay, service=service) if workers else None
        app = create_app(self.settings, service, pool=pool, memory=memory, database=Database(self.url))
        running = Running(ServerThread(app).start(), pool, app)
        self._servers.append(running)
        return running

    def key(self, scope: str = "write", *, admin: bool = False, user: str | None = None) -> str:
        name = user or f"{scope}{'-admin' if admin else ''}"
        return create_key(self.db, name=name, scope=scope, admin=admin, username=user or name).key  # type: ignore[arg-type]

    def spawn_worker(self, name: str, *, lease: float = 2.0, beat: float = 0.25, delay: float = 0.0) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.api.worker_proc", self.url, str(self.data_dir), name, str(lease),
             str(beat), str(delay)],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self._procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        for running in self._servers:
            if running.server.thread.is_alive():
                running.stop()
        self.db.dispose()

    # -- database views for assertions ----------------------------------------------------------------------
    def nodes(self, campaign_id: str) -> dict[int, tuple[str, float | None]]:
        with self.db.session_scope(readonly=True) as s:
            return {n.id: (n.status, n.score) for n in repo.list_nodes(s, campaign_id)}

    def events(self, campaign_id: str) -> list[Any]:
        with self.db.session_scope(readonly=True) as s:
            return [to_record(e) for e in list_events(s, campaign_id, limit=100000)]

    def status(self, campaign_id: str) -> str:
        with self.db.session_scope(readonly=True) as s:
            return repo.get_campaign(s, campaign_id).status


def upload_example(client: httpx.Client, name: str = "oscillator", **overrides: Any) -> httpx.Response:
    """Upload the shipped damped-oscillator example as a user problem."""
    form = {"name": name, "kind": "regression", "metric": "rel_l2",
            "description": (EXAMPLE / "description.md").read_text(), "budget": json.dumps({"wall_seconds": 20})}
    form.update({k: v for k, v in overrides.items() if k != "files"})
    files = overrides.get("files") or {"data": ("data.npz", (EXAMPLE / "data.npz").read_bytes(), "application/octet-stream")}
    return client.post("/v1/problems", data={k: v for k, v in form.items() if v is not None}, files=files)


def small_campaign(problem: str = "oscillator", **overrides: Any) -> dict[str, Any]:
    # memory "none": the method memory loads a sentence model per engine (seconds); these tests are about the
    # service, and the knowledge base has tests of its own.
    body = {"problem": problem, "iterations": 2, "parents": 2, "smoke_seconds": 0, "debug_attempts": 1,
            "debate_rounds": 2, "memory": "none"}
    body.update(overrides)
    return body


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.05, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def read_sse(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Parse an SSE response into messages: {'id', 'event', 'data', 'comment'}."""
    message: dict[str, Any] = {}
    for line in response.iter_lines():
        if line == "":
            if message:
                yield message
            message = {}
            continue
        if line.startswith(":"):
            yield {"comment": line[1:].strip()}
            continue
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "data":
            message["data"] = (message.get("data", "") + "\n" + value) if "data" in message else value
        else:
            message[key] = value


#: A discovered method card, kept tiny but complete (every section the card parser requires).
CARD_TEMPLATE = """---
id: {card_id}
title: Raise the polynomial degree step by step
family: regression
kinds: [regression]
failure_modes: [underfitting]
tags: [{tags}]
origin: discovered
---

## Core idea

Grow the degree of a least-squares polynomial until the validation error stops falling.

## Key equations

y = sum_k c_k x^k

## PyTorch sketch

```python
coeffs = np.polyfit(x, y, degree)
```

## Critical parameters

The degree.

## Known pitfalls

Runge oscillations at high degree.

## When to use

Smooth one-dimensional signals with few samples.
"""


def card_markdown(card_id: str, tags: str = "polynomial") -> str:
    """A valid discovered card with the given id (and tags, comma-separated)."""
    return CARD_TEMPLATE.format(card_id=card_id, tags=tags)
