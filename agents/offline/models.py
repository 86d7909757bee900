"""Pydantic models at the edges of the offline team: what the campaign engine passes in and gets back."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.offline.analysis import DataAnalysis
from agents.offline.design import Design, Kind

Role = Literal["proposer", "critic"]
MessageKind = Literal["reasoning", "critique", "plan", "feasibility", "proposal"]


class Message(BaseModel):
    """One turn of the debate."""

    role: Role
    round: int = Field(ge=1)
    kind: MessageKind
    text: str


class Proposal(BaseModel):
    """The outcome of a debate: the child design and why."""

    design: Design
    title: str
    rationale: str
    changes: list[str] = Field(default_factory=list, description="ids of the moves and amendments applied")


class Deliberation(BaseModel):
    """What the debate decided, against what the proposer opened with: the record that says whether the
    critic changed anything (a switch of move, a dropped second change, other numbers)."""

    opening: list[str] = Field(default_factory=list, description="move ids of the opening proposal")
    final: list[str] = Field(default_factory=list, description="move ids of the final proposal")
    verdict: Literal["accepted", "switched", "renumbered", "narrowed", "no_critic"] = "accepted"
    objections: list[str] = Field(default_factory=list, description="the critic's objections, one line each")
    amendments: list[str] = Field(default_factory=list, description="feasibility amendments (L-BFGS, shrink...)")
    knobs: dict[str, float] = Field(default_factory=dict, description="'move.knob' -> value used")
    sampler: str = "fixed"
    sampled: list[str] = Field(default_factory=list, description="move ids whose numbers the sampler chose")

    @property
    def changed(self) -> bool:
        """The critique changed the plan: another move, one change fewer, or other numbers."""
        return self.verdict in ("switched", "renumbered", "narrowed")


class DebateResult(BaseModel):
    messages: list[Message]
    final: Proposal
    deliberation: Deliberation = Field(default_factory=Deliberation)


class SiblingSummary(BaseModel):
    """What a sibling (same parent) or uncle (sibling of the parent) tried and how it went."""

    summary: str = Field(description="design summary, e.g. Design.describe() or a proposal title + summary")
    score: float | None = None
    status: str = "ok"  # "ok" / "succeeded", "failed", "pending"
    key: str | None = None
    changes: list[str] = Field(default_factory=list, description="move ids, when known")
    design: Design | None = None
    failure: str | None = Field(None, description="why it failed (error and traceback), when it did")
    knobs: dict[str, float] = Field(default_factory=dict, description="'move.knob' -> value it used")
    node_id: int | None = None


class PastChild(BaseModel):
    """An earlier child of this campaign, for the knob sampler: what it applied and how it did."""

    changes: list[str] = Field(default_factory=list)
    knobs: dict[str, float] = Field(default_factory=dict)
    score: float | None = None
    parent_score: float | None = None
    status: str = "succeeded"


class ProposalContext(BaseModel):
    """Everything the proposer and critic need to argue about one child of one parent."""

    model_config = ConfigDict(extra="forbid")

    problem_name: str
    kind: Kind
    description: str = ""
    pde: dict[str, Any] | None = None
    budget_seconds: float = 60.0
    cpu_threads: int = 1
    data_analysis: DataAnalysis
    parent_design: Design
    parent_score: float | None = None
    parent_analysis: str = ""
    parent_failure: str | None = None
    parent_logs: list[dict[str, Any]] = Field(default_factory=list)
    siblings: list[SiblingSummary] = Field(default_factory=list)
    uncles: list[SiblingSummary] = Field(default_factory=list)
    card: dict[str, Any] | None = None
    iteration: int = 1
    seed: int = 0
    history: list[PastChild] = Field(default_factory=list, description="earlier iterations' children")
    sampler: str = Field("tpe", description="knob sampler: 'tpe' (Optuna) or 'fixed' (the moves' rules)")
    evaluated: list[str] = Field(
        default_factory=list,
        description="design keys of the nodes evaluated anywhere in the tree before this iteration (and the root)",
    )
