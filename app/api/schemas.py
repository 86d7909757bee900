"""Request and response models of the REST API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.campaigns.config import CampaignConfig

ID_PATTERN = r"^[A-Za-z0-9_-]{1,36}$"
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
MAX_DB_INT = 2**31 - 1
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"  # text without control characters (NUL included)
CampaignStatus = Literal["created", "running", "paused", "completed", "failed", "cancelled"]


# -- problems -------------------------------------------------------------------------------------------------
class ProblemSummary(BaseModel):
    name: str
    kind: str
    metric: str
    source: Literal["builtin", "user"]
    summary: str
    budget: dict[str, Any]
    owner_id: int | None = None


class ProblemList(BaseModel):
    items: list[ProblemSummary]


class ProblemDetail(ProblemSummary):
    description: str
    pde: dict[str, Any] | None = None
    literature: dict[str, str] = Field(default_factory=dict)
    fingerprint: str | None = None


# -- campaigns ------------------------------------------------------------------------------------------------
class CampaignCreate(CampaignConfig):
    """A campaign's plan: the fields of ``CampaignConfig`` plus a display name.

    ``problem`` is the name of a built-in problem or of one uploaded through ``POST /v1/problems`` (never a
    server path).
    """

    model_config = ConfigDict(extra="forbid")

    problem: str = Field(pattern=NAME_PATTERN, description="built-in or uploaded problem name")
    name: str | None = Field(None, max_length=200, pattern=PRINTABLE, description="display name")
    seed: int = Field(0, ge=0, le=MAX_DB_INT)
    explore_iterations: int = Field(1, ge=0, le=1000)
    max_children: int = Field(4, ge=1, le=1000)
    reeval_seeds: list[int] = Field(default_factory=list, max_length=32,
                                    description="extra seeds to re-run the champion with")
    max_wall_seconds: float | None = Field(None, gt=0, le=365 * 86400)
    max_cost_usd: float | None = Field(None, ge=0, le=1e9)
    target_score: float | None = Field(None, gt=0, le=1e30)

    providers_file: str | None = Field(None, max_length=1000, pattern=PRINTABLE, description="providers YAML on the server for "
                                       "team 'llm' (admins only; default: the service's)")

    @model_validator(mode="after")
    def _llm_needs_providers(self) -> "CampaignCreate":
        return self  # checked by the route, after the service's default providers file is applied

    def config(self, **updates: Any) -> CampaignConfig:
        return CampaignConfig(**{**self.model_dump(exclude={"name"}), **updates})


class RunInfo(BaseModel):
    item_id: int
    status: str
    claimed_by: str | None
    attempts: int
    lease_expires_at: str | None


class Champion(BaseModel):
    node_id: int
    score: float | None
    title: str | None


class Progress(BaseModel):
    iterations_done: int
    iterations_planned: int
    nodes: int
    nodes_by_status: dict[str, int]
    evaluations: int
    failures: int


class Cost(BaseModel):
    usd: float
    tokens_in: int
    tokens_out: int


class CampaignOut(BaseModel):
    id: str
    name: str | None
    problem: str
    problem_kind: str | None
    owner_id: int | None
    status: CampaignStatus
    state: str = Field(description="status, or 'queued' while a run waits for a worker")
    run: RunInfo | None = Field(None, description="the live work item, if any")
    progress: Progress
    best_score: float | None
    root_score: float | None
    champion: Champion | None
    improvement_factor: float | None
    cost: Cost
    wall_seconds: float
    config: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime | None
    debates: dict[str, Any] | None = Field(
        None, description="one campaign only: debates held, how many changed the opening plan, by verdict")
    isolation: dict[str, Any] | None = Field(
        None, description="sandbox backends the scores came from (count per backend), how many were weak "
        "(weaker than bubblewrap: weak_isolation true) and whether the campaign allowed that")
    champion_selection: dict[str, Any] | None = Field(
        None, description="one campaign only: how the champion is chosen (best single-seed score, or best mean "
        "over the re-evaluation seeds), with a sentence saying so")


class CampaignPage(BaseModel):
    items: list[CampaignOut]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class ActionResult(BaseModel):
    campaign: CampaignOut
    message: str


# -- nodes ----------------------------------------------------------------------------------------------------
class TreeNode(BaseModel):
    node_id: int
    parent_id: int | None
    depth: int
    iteration: int
    status: str
    score: float | None
    title: str | None
    card: str | None
    error: str | None
    isolation: str | None = Field(None, description="the sandbox backend the score came from (bwrap, unshare, none)")
    weak_isolation: bool | None = Field(
        None, description="true: scored under a sandbox weaker than bubblewrap, where a candidate could read host "
        "files (hidden targets included); the score may not be trustworthy")


class Tree(BaseModel):
    campaign_id: str
    champion_node_id: int | None
    nodes: list[TreeNode]


class NodeOut(BaseModel):
    id: int
    campaign_id: str
    parent_id: int | None
    iteration: int
    depth: int
    operation: str | None
    status: str
    score: float | None
    metrics: dict[str, Any] | None
    proposal: dict[str, Any] | None
    analysis: str | None
    error: str | None
    protections: dict[str, Any] | None
    timings: dict[str, Any] | None
    wall_seconds: float | None
    tokens_in: int
    tokens_out: int
    cost_usd: float
    code: str | None
    code_hash: str | None
    children: list[int]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    isolation: str | None = Field(None, description="the sandbox backend the score came from (bwrap, unshare, none)")
    weak_isolation: bool | None = Field(
        None, description="true: scored under a sandbox weaker than bubblewrap, where a candidate could read host "
        "files (hidden targets included); the score may not be trustworthy")


class Diff(BaseModel):
    node_id: int
    parent_id: int | None
    diff: str = Field(description="unified diff of the parent's code to this node's code ('' for a root)")


class ProposalOut(BaseModel):
    node_id: int
    title: str | None
    rationale: str | None
    design: dict[str, Any] | None
    card: str | None
    text: str | None
    raw: dict[str, Any] | None


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    node_id: int | None
    iteration: int | None
    role: str
    kind: str | None
    model: str | None
    text: str
    payload: dict[str, Any] | None
    tokens_in: int
    tokens_out: int
    cost_usd: float
    created_at: datetime


class MessageList(BaseModel):
    items: list[MessageOut]


class Curves(BaseModel):
    node_id: int
    curves: dict[str, Any]


class Analyses(BaseModel):
    node_id: int
    analysis: str | None
    messages: list[MessageOut]


class DebugAttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    code: str
    traceback: str | None
    diagnosis: str | None
    outcome: str | None
    created_at: datetime


class DebugAttempts(BaseModel):
    node_id: int
    attempts: list[DebugAttemptOut]


class EventOut(BaseModel):
    id: int
    campaign_id: str
    seq: int
    type: str
    node_id: int | None
    role: str | None
    payload: dict[str, Any]
    created_at: datetime


class EventPage(BaseModel):
    items: list[EventOut]
    last_seq: int


# -- knowledge ------------------------------------------------------------------------------------------------
class CardSummary(BaseModel):
    id: str
    title: str
    family: str
    kinds: list[str]
    origin: str
    citation: str | None


class CardList(BaseModel):
    items: list[CardSummary]


class CardOut(CardSummary):
    failure_modes: list[str]
    tags: list[str]
    sections: dict[str, str]
    provenance: dict[str, Any]
    markdown: str


class CardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    markdown: str = Field(min_length=1, max_length=200_000,
                          description="the card as markdown with YAML front matter (see knowledge_base/cards)")


class SearchHit(BaseModel):
    card_id: str
    score: float
    title: str
    family: str
    kinds: list[str]
    origin: str
    citation: str | None


class SearchResult(BaseModel):
    query: str
    hits: list[SearchHit]


# -- service --------------------------------------------------------------------------------------------------
class Health(BaseModel):
    status: str
    isolation: dict[str, Any] | None = Field(
        None, description="the sandbox backend candidates get here, its strength, and whether weak ones are allowed")


class Readiness(BaseModel):
    ready: bool
    database: str
    workers_alive: int
    workers: list[dict[str, Any]]
    isolation: dict[str, Any] | None = Field(None, description="as in /healthz")


class Me(BaseModel):
    user_id: int | None
    username: str
    key_prefix: str | None
    scopes: list[str]
    is_admin: bool
    auth_enabled: bool
