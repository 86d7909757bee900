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


class DebateResult(BaseModel):
    messages: list[Message]
    final: Proposal


class SiblingSummary(BaseModel):
    """What a sibling (same parent) or uncle (sibling of the parent) tried and how it went."""

    summary: str = Field(description="design summary, e.g. Design.describe() or a proposal title + summary")
    score: float | None = None
    status: str = "ok"  # "ok" / "succeeded", "failed", "pending"
    key: str | None = None
    changes: list[str] = Field(default_factory=list, description="move ids, when known")
    design: Design | None = None


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
