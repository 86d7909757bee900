"""The contract between the campaign engine and an agent team (offline heuristics or LLMs).

The engine owns the loop, persistence and evaluation; a team only thinks and writes: it analyses data,
writes the root, debates a change, turns a proposal into code, repairs failures, reports on results and
votes on parents. Every method is async because LLM teams wait on the network; the offline team simply
returns at once.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field, PrivateAttr


class TeamMessage(BaseModel):
    """One utterance of one role; stored and streamed as soon as it exists."""

    role: str
    text: str
    kind: str = "message"  # reasoning / critique / plan / feasibility / proposal / report / vote ...
    round: int | None = None
    model: str | None = None
    prompt_version: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float | None = None
    cost_usd: float = 0.0
    payload: dict[str, Any] | None = None
    # Set by the engine when it stored this message live (as it completed): the row it went to, so the
    # message is not stored a second time when the team's call returns.
    _stored_id: int | None = PrivateAttr(default=None)
    # Set by the engine when it took this message as it completed, to store it then or from its live
    # buffer a moment later: its usage is counted with that row.
    _taken_live: bool = PrivateAttr(default=False)
    # True for a message that sums exchanges which were each taken live: its usage is already counted.
    _parts_stored: bool = PrivateAttr(default=False)


class DataReport(BaseModel):
    facts: dict[str, Any] = Field(default_factory=dict)
    report: str = ""


class Proposal(BaseModel):
    title: str
    rationale: str
    design: dict[str, Any] | None = None  # structured form, when the team works in a design space
    # What the debate decided against the opening plan (opening/final moves, verdict, objections, knob
    # values): how the engine counts the debates that changed something. None when a team does not say.
    deliberation: dict[str, Any] | None = None


class DebateOutcome(BaseModel):
    messages: list[TeamMessage]
    proposal: Proposal


class CandidateCode(BaseModel):
    code: str
    design: dict[str, Any] | None = None
    notes: str = ""
    messages: list[TeamMessage] = Field(default_factory=list)


class Failure(BaseModel):
    kind: str | None
    reason: str | None
    traceback: str | None = None
    stage: str = "full"  # smoke or full


class NodeView(BaseModel):
    """What roles may know about an evaluated node."""

    node_id: int
    parent_id: int | None = None
    iteration: int = 0
    depth: int = 0
    status: str
    score: float | None = None
    parent_score: float | None = None
    title: str | None = None
    summary: str | None = None
    design: dict[str, Any] | None = None
    analysis: str | None = None
    failure: str | None = None
    children: int = 0


class ProposalContext(BaseModel):
    problem: dict[str, Any]  # the problem spec as a dict (name, kind, description, pde, budget, ...)
    data: DataReport
    parent: NodeView
    parent_code: str
    parent_logs: list[dict[str, Any]] = Field(default_factory=list)  # the parent's training curve, as records
    relatives: list[NodeView] = Field(default_factory=list)  # siblings and uncles, for context
    card: dict[str, Any] | None = None  # the retrieved method card, if any
    iteration: int
    seed: int
    # Every child of earlier iterations (scored, failed or skipped), for teams that learn numbers from the
    # tree; only earlier iterations, so that a resume sees exactly what the first run saw.
    history: list[NodeView] = Field(default_factory=list)
    knob_sampler: str = "tpe"  # how the offline team sets the numbers of a move: 'tpe' or 'fixed'


@runtime_checkable
class AgentTeam(Protocol):
    name: str

    async def analyze_data(self, problem: dict[str, Any], train: dict[str, Any],
                           query_inputs: dict[str, Any]) -> DataReport: ...

    async def write_root(self, problem: dict[str, Any], data: DataReport) -> CandidateCode: ...

    async def debate(self, ctx: ProposalContext, rounds: int) -> DebateOutcome: ...

    async def engineer(self, ctx: ProposalContext, proposal: Proposal) -> CandidateCode: ...

    async def debug(self, ctx: ProposalContext, code: CandidateCode, failure: Failure,
                    attempt: int) -> CandidateCode | None: ...

    async def analyze_result(self, problem: dict[str, Any], node: NodeView, logs: list[dict[str, Any]],
                             parent: NodeView | None) -> TeamMessage: ...

    async def vote(self, candidates: list[NodeView], k: int, selector: int, seed: int) -> TeamMessage: ...
