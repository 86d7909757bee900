"""The isolation policy: scores from a sandbox weaker than bubblewrap need explicit consent and carry a mark.

Only bubblewrap gives a candidate a private root. Under ``unshare`` (a network namespace only) or ``none``
(in-process guards only) it shares the host filesystem and can read any world-readable file, a problem's
hidden targets included: such a score may be a copy of the answer. So a campaign, a batch or ``evaluate``
whose backend is weaker refuses to start unless the user allows it explicitly: ``--allow-weak-isolation`` on
the CLI, ``allow_weak_isolation: true`` in an API campaign or batch request (stored in the campaign's
configuration, so a resume keeps it), or the setting ``AGENTIC_SCIML_ALLOW_WEAK_ISOLATION=1`` for a whole
service. Every score produced so records the backend (``isolation``) and ``weak_isolation: true`` in the
node's metrics, and the CLI, the API, the dashboard and the reports show it.

Which backend ``sandbox_mode`` resolves to is :func:`sandbox.isolation.describe_backend`; where candidates
run on a Ray cluster with ``sandbox_mode=auto`` each node chooses its own, so the check happens on every
result instead (the campaign stops at the first weak one that was not allowed).
"""

from __future__ import annotations

from typing import Any

from sandbox.isolation import STRENGTH, WEAKNESS, describe_backend, is_weak

FLAG = "--allow-weak-isolation"
ENV = "AGENTIC_SCIML_ALLOW_WEAK_ISOLATION"
FIELD = "allow_weak_isolation"

HOW_CLI = f"pass {FLAG} (or set {ENV}=1)"
HOW_API = f"set {FIELD}: true in the request (or {ENV}=1 on the service)"
HOW_ANY = (f"allow it with {FLAG} on the CLI, {FIELD}: true in the campaign or batch request, or {ENV}=1 for "
           "the service, then resume the campaign")


class IsolationError(RuntimeError):
    """Candidates may not (or cannot) run with the isolation this machine offers."""


class WeakIsolationRefused(IsolationError):
    def __init__(self, backend: str, *, how: str = HOW_CLI) -> None:
        self.backend = backend
        super().__init__(refusal_message(backend, how=how))


def refusal_message(backend: str, *, how: str = HOW_CLI) -> str:
    weakness = WEAKNESS.get(backend, "weaker than bubblewrap")
    return (f"refusing to run candidates: the isolation backend here is '{backend}', weaker than bubblewrap "
            f"({weakness}); {how} to run anyway, and every score will be marked weak_isolation "
            "(or make bubblewrap usable: see sandbox/README.md)")


def isolation_status(settings: Any) -> dict[str, Any]:
    """The backend candidates will get under ``settings``, its strength, and whether weak ones are allowed."""
    mode = str(settings.sandbox_mode)
    if getattr(settings, "executor", "local") == "ray":
        backend = mode if mode in STRENGTH else None
        info: dict[str, Any] = {
            "requested": mode, "backend": backend,
            "strength": STRENGTH[backend] if backend else "chosen on each Ray node",
            "weak": is_weak(backend),
        }
        if backend in WEAKNESS:
            info["weakness"] = WEAKNESS[backend]
        if backend is None:
            info["notes"] = ["sandbox_mode=auto on Ray: every result records its node's backend and a weak "
                             "one that was not allowed stops its campaign"]
    else:
        info = describe_backend(mode)
    info["executor"] = getattr(settings, "executor", "local")
    info[FIELD] = bool(getattr(settings, FIELD, False))
    return info


def require_isolation(settings: Any, allow: bool = False, *, how: str = HOW_CLI) -> dict[str, Any]:
    """The status of :func:`isolation_status`, or an :class:`IsolationError` when candidates may not run:
    the requested backend cannot run here, or it is weak and neither ``allow`` nor the setting allows it."""
    status = isolation_status(settings)
    if status.get("error"):
        raise IsolationError(str(status["error"]))
    if status["weak"] and not (allow or status[FIELD]):
        raise WeakIsolationRefused(str(status["backend"]), how=how)
    return status


def evaluator_backend(evaluator: Any) -> str | None:
    """The backend an evaluator's candidates run under, when it is known before they run."""
    runner = getattr(evaluator, "runner", None)
    backend = getattr(runner, "backend", None)
    if backend is None:  # candidates run elsewhere (Ray): the mode the nodes were told to use
        executor = getattr(evaluator, "executor", None)
        backend = getattr(getattr(executor, "runner_options", None), "backend", None)
    return backend if isinstance(backend, str) and backend in STRENGTH else None


def marks(protections: dict[str, Any] | None) -> dict[str, Any]:
    """``{"isolation": backend, "weak_isolation": bool}`` for a run record; empty when the backend is unknown
    (an evaluator that is not the sandbox, in tests)."""
    backend = (protections or {}).get("backend")
    if not isinstance(backend, str) or backend not in STRENGTH:
        return {}
    return {"isolation": backend, "weak_isolation": is_weak(backend)}


def node_marks(metrics: dict[str, Any] | None) -> dict[str, Any]:
    """The marks stored with a node's score (``isolation`` None: not recorded)."""
    metrics = metrics or {}
    return {"isolation": metrics.get("isolation"), "weak_isolation": metrics.get("weak_isolation")}


def summarise(config: dict[str, Any] | None, metrics: list[dict[str, Any] | None]) -> dict[str, Any]:
    """A campaign's isolation: the backends its scores came from, how many were weak, whether it allowed that."""
    backends: dict[str, int] = {}
    weak = 0
    for m in metrics:
        backend = (m or {}).get("isolation")
        if backend:
            backends[backend] = backends.get(backend, 0) + 1
            weak += 1 if (m or {}).get("weak_isolation") else 0
    return {"backends": backends, "weak_scores": weak, "weak_isolation": weak > 0,
            FIELD: bool((config or {}).get(FIELD, False))}


def campaign_isolation(session: Any, campaign: Any) -> dict[str, Any]:
    """:func:`summarise` over every scored node of ``campaign``."""
    from sqlalchemy import select

    from app.db.models import Node

    rows = session.scalars(select(Node.metrics).where(Node.campaign_id == campaign.id, Node.score.is_not(None)))
    return summarise(campaign.config, list(rows))


def weak_label(isolation: str | None, weak: bool | None) -> str:
    """A short mark for text output: '' for a strong (or unknown) backend."""
    return f"WEAK ISOLATION ({isolation})" if weak else ""
