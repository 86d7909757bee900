"""Shared pieces of the LLM team tests: a role-aware script for the fake servers, configs and contexts."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

from agents.providers.config import ProvidersConfig
from agents.team import DataReport, NodeView, ProposalContext
from tests.fakes.script import Reply, Status

ROLE_MARKERS = {
    "data_analyst": "You are the data analyst",
    "root_engineer": "You are the root engineer",
    "retriever": "You are the retriever",
    "proposer": "You are the proposer",
    "critic": "You are the critic",
    "engineer": "You are the engineer",
    "debugger": "You are the debugger",
    "result_analyst": "You are the result analyst",
    "selector": "You are one selector",
}


def system_text(req: Any) -> str:
    body = req.json or {}
    if "system" in body:  # Anthropic: a top-level field
        system = body["system"]
        return system if isinstance(system, str) else " ".join(b.get("text", "") for b in system)
    return " ".join(m.get("content", "") for m in body.get("messages", []) if m.get("role") == "system")


def last_user_text(req: Any) -> str:
    messages = [m for m in (req.json or {}).get("messages", []) if m.get("role") == "user"]
    content = messages[-1]["content"] if messages else ""
    return content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)


def role_of(req: Any) -> str:
    text = system_text(req)
    for role, marker in ROLE_MARKERS.items():
        if marker in text:
            return role
    raise AssertionError(f"request from an unknown role: {text[:80]!r}")


class RoleScript:
    """Answers each request from the queue of the role that sent it (found from the system prompt), so a
    test scripts each role's answers independently of the order the team interleaves them."""

    def __init__(self, answers: dict[str, Iterable[Any]] | None = None) -> None:
        self.queues: dict[str, deque[Any]] = {r: deque(a) for r, a in (answers or {}).items()}
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def add(self, role: str, *items: Any) -> None:
        with self._lock:
            self.queues.setdefault(role, deque()).extend(items)

    def __call__(self, req: Any) -> Any:
        role = role_of(req)
        with self._lock:
            self.calls.append(role)
            queue = self.queues.get(role)
            if not queue:
                return Status(500, message=f"test script has no answer left for role {role}")
            return queue.popleft()

    def left(self) -> dict[str, int]:
        return {r: len(q) for r, q in self.queues.items() if q}


def providers_config(base_url: str, kind: str = "openai", *, proposer_model: str | None = None,
                     critic_model: str | None = None, selector_models: list[str] | None = None,
                     read_timeout_s: float = 2.0, max_attempts: int = 3) -> ProvidersConfig:
    default_model = "gpt-4o" if kind == "openai" else "claude-sonnet-4-5"

    def entry(model: str) -> dict[str, Any]:
        return {"provider": kind, "model": model, "base_url": base_url, "read_timeout_s": read_timeout_s,
                "connect_timeout_s": 1.0, "max_attempts": max_attempts}

    roles: dict[str, Any] = {"default": entry(default_model)}
    if proposer_model:
        roles["proposer"] = entry(proposer_model)
    if critic_model:
        roles["critic"] = entry(critic_model)
    if selector_models:
        roles["selector"] = [entry(m) for m in selector_models]
    return ProvidersConfig.model_validate({"roles": roles})


PARENT_CODE = '''import numpy as np

DEGREE = 1


def solve(task):
    x = task.train["x"][:, 0]
    y = task.train["y"]
    coeffs = np.polyfit(x, y, DEGREE)
    task.log(0, residual=float(np.mean((np.polyval(coeffs, x) - y) ** 2)))
    return np.polyval(coeffs, task.query_inputs["x"][:, 0])
'''

PROBLEM = {
    "name": "poly1d", "kind": "regression", "metric": "mse",
    "description": "Fit noisy samples of a smooth function of one variable.",
    "budget": {"wall_seconds": 30.0},
}


def context(parent_code: str = PARENT_CODE, *, iteration: int = 1, seed: int = 7,
            card: dict[str, Any] | None = None) -> ProposalContext:
    parent = NodeView(node_id=1, status="succeeded", score=0.25, title="root", depth=0, children=1,
                      analysis="A straight line underfits the curvature; residuals are structured.")
    relatives = [NodeView(node_id=2, parent_id=1, status="failed", title="cubic spline", depth=1,
                          failure="[full] crashed: shape mismatch", analysis="crashed before training")]
    return ProposalContext(problem=PROBLEM, data=DataReport(facts={"n": 64}, report="64 noisy samples in [0, 1]."),
                           parent=parent, parent_code=parent_code, relatives=relatives, card=card,
                           iteration=iteration, seed=seed)


def edit(search: str, replace: str, prose: str = "I raise the degree.") -> str:
    return f"{prose}\n\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n\nDone."


def proposal_json(title: str = "Quintic polynomial fit",
                  rationale: str = "Raise DEGREE from 1 to 5 so the fit can follow the curvature.") -> str:
    import json

    return f"Final proposal:\n\n```json\n{json.dumps({'title': title, 'rationale': rationale})}\n```\n"


def debate_answers(rounds: int = 4) -> dict[str, list[Any]]:
    proposer: list[Any] = []
    critic: list[Any] = []
    for rnd in range(1, rounds):
        if rnd == rounds - 1:
            proposer.append(Reply(f"PLAN r{rnd}: set DEGREE = 5 in the module constant.", input_tokens=200))
            critic.append(Reply(f"FEASIBILITY r{rnd}: cheap and within budget.", input_tokens=220))
        else:
            proposer.append(Reply(f"REASONING r{rnd}: the line underfits; raise the degree.", input_tokens=150))
            critic.append(Reply(f"CRITIQUE r{rnd}: high degrees oscillate; justify 5.", input_tokens=160))
    proposer.append(Reply(proposal_json(), input_tokens=300, output_tokens=40))
    return {"proposer": proposer, "critic": critic}


class InstantSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
