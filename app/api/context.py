"""What every route needs, built once per app: database, artifact store, key verifier, event hub, ..."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from app.api.auth import KeyVerifier
from app.api.errors import ApiError
from app.api.problem_store import ProblemStore
from app.api.settings import ServiceSettings
from app.api.sse import EventHub
from app.db.artifacts import ArtifactStore
from app.db.session import Database
from app.settings import Settings


@dataclass
class ApiContext:
    settings: Settings
    service: ServiceSettings
    db: Database
    store: ArtifactStore
    problems: ProblemStore
    verifier: KeyVerifier
    events: EventHub
    registry: Any
    http_metrics: Any
    pool: Any = None  # an in-process WorkerPool, if this app runs one
    memory_override: Any = None
    _memory: Any = None
    _memory_error: str | None = None
    _memory_lock: threading.Lock = field(default_factory=threading.Lock)

    def memory(self) -> Any:
        """The method memory (knowledge base), built on first use; 503 if it cannot be."""
        with self._memory_lock:
            if self.memory_override is not None:
                return self.memory_override
            if self._memory is None and self._memory_error is None:
                try:
                    from knowledge_base.retrieval import MethodMemory

                    self._memory = MethodMemory(self.settings.data_dir)
                except Exception as exc:  # noqa: BLE001 - an optional component
                    self._memory_error = f"{type(exc).__name__}: {exc}"
            if self._memory is None:
                raise ApiError(503, f"the knowledge base is unavailable: {self._memory_error}")
            return self._memory

    def notify_workers(self) -> None:
        if self.pool is not None:
            self.pool.notify()


def get_ctx(request: Request) -> ApiContext:
    return request.app.state.ctx
