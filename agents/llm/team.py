"""``LLMTeam``: the agent team of AgenticSciML (Jiang & Karniadakis, 2025) backed by LLM providers.

Each role is a prompt template (``agents/prompts/<role>.md``) and one or more configured models. The team
keeps the paper's role boundaries in its prompts and in its parsing: the critic challenges but writes no
code, the engineer implements the agreed proposal as an edit of the parent, the debugger repairs the
implementation and may give up rather than change the method, the result analyst reports facts next to
checks computed in Python, and selectors only vote. Code is validated (edits apply, it parses, it meets
the candidate contract) before the engine ever runs it.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agents.llm import context as fmt
from agents.llm.contract import ContractPolicy
from agents.llm.exchange import Caller, CodeRejected, LLMTeamError, MessageHook, StructuredAnswerError
from agents.llm.facts import equation_facts, data_facts, log_summary, result_checks
from agents.llm.parsing import ParseError
from agents.llm.prompts import ROLES, PromptTemplate, load_prompt
from agents.llm.recording import NodeAliases, ProviderFactory, Recorder, Recording, replay_factory
from agents.providers.accounting import UsageLedger
from agents.providers.base import ChatMessage
from agents.providers.config import ProvidersConfig
from agents.providers.retry import SleepFn
from agents.team import (
    CandidateCode, DataReport, DebateOutcome, Failure, NodeView, Proposal, ProposalContext, TeamMessage,
)


class TeamOptions(BaseModel):
    """Knobs of the LLM team; stored in recordings so a replay rebuilds the same team."""

    model_config = ConfigDict(extra="forbid")

    debate_rounds: int = Field(default=4, ge=1, le=12, description="Used when the engine gives no round count.")
    engineer_attempts: int = Field(default=3, ge=1, le=10, description="Answers tried before giving up.")
    root_attempts: int = Field(default=3, ge=1, le=10)
    debugger_attempts: int = Field(default=2, ge=1, le=10, description="Answers tried per debug() call.")
    repair_attempts: int = Field(default=1, ge=0, le=5, description="Repair requests for malformed JSON.")
    json_mode: bool = Field(default=False, description="Ask the server for native JSON where it has one.")
    temperature: dict[str, float] = Field(default_factory=dict, description="Per-role override.")
    max_tokens: dict[str, int] = Field(default_factory=dict, description="Per-role override.")
    prompts_dir: str | None = Field(default=None, description="Directory overriding the shipped prompts.")
    allowed_modules: list[str] | None = Field(default=None, description="Overrides the contract's allow-list.")
    max_code_chars: int = Field(default=60_000, gt=1000, description="Code longer than this is clipped.")
    continuations: int = Field(default=2, ge=0, le=8,
                               description="Requests to continue an answer cut at the output-token limit.")

    def contract(self) -> ContractPolicy:
        if self.allowed_modules is None:
            return ContractPolicy()
        return ContractPolicy(allowed_modules=frozenset(self.allowed_modules))


class ProposalDraft(BaseModel):
    """The final debate message's JSON block."""

    model_config = ConfigDict(extra="ignore")

    title: str = Field(min_length=3, max_length=200)
    rationale: str = Field(min_length=10, max_length=20_000)
    design: dict[str, Any] | None = None

    @field_validator("title", "rationale", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class VoteDraft(BaseModel):
    model_config = ConfigDict(extra="ignore")

    votes: list[int]
    reason: str = ""

    @field_validator("votes", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        """Accepts 7, "7", "node 7" and a single id outside a list."""
        if isinstance(value, (int, str)):
            value = [value]
        if not isinstance(value, list):
            return value
        out = []
        for item in value:
            if isinstance(item, str):
                digits = "".join(ch for ch in item if ch.isdigit())
                out.append(int(digits) if digits else item)
            else:
                out.append(item)
        return out


class CardChoice(BaseModel):
    model_config = ConfigDict(extra="ignore")

    card: str | None = None
    reason: str = ""

    @field_validator("card", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        if isinstance(value, (int, float)):
            return str(value)
        if isinstance(value, str) and value.strip().lower() in ("", "null", "none"):
            return None
        return value


class ProposalError(StructuredAnswerError):
    """The debate ended without a parsable proposal."""


class EngineeringFailed(CodeRejected):
    """The engineer (or root engineer) produced no acceptable code; nothing was run."""


def _node_key(ctx: ProposalContext) -> str:
    """Ledger key of the child being made: the engine grows at most one child per parent and iteration."""
    return "root" if ctx.iteration == 0 else f"i{ctx.iteration}/p{ctx.parent.node_id}"


class LLMTeam:
    """The ``AgentTeam`` protocol over LLM providers.

    ``providers_config`` maps roles to models (role ``default`` serves roles not listed); ``ledger`` meters
    every call and enforces budget caps (``BudgetExceeded`` propagates); ``recorder`` writes a JSONL
    recording that :meth:`from_recording` replays. ``provider_factory`` replaces how providers are built
    (replay, tests); ``sleep``/``rng`` go to the providers' retry logic. ``on_message`` sees every
    exchange as it completes, including those the protocol does not return (repairs, analyses).
    ``node_aliases`` (replays) changes the node ids put in prompts; see :class:`NodeAliases`.
    """

    name = "llm"

    def __init__(self, providers_config: ProvidersConfig, ledger: UsageLedger | None = None,
                 recorder: Recorder | None = None, *, options: TeamOptions | None = None,
                 campaign_id: str | None = None, provider_factory: ProviderFactory | None = None,
                 sleep: SleepFn | None = None, rng: random.Random | None = None,
                 on_message: MessageHook | None = None, problem: dict[str, Any] | None = None,
                 node_aliases: NodeAliases | None = None) -> None:
        self.config = providers_config
        self.node_aliases = node_aliases
        # Set by from_recording: (shown parent id, iteration, child seed) -> the shortlist recorded last.
        self._recorded_shortlists: dict[tuple[int, int, int], list[dict[str, Any]]] | None = None
        # Remembered from the calls that carry it: ``vote`` is the one protocol method without the problem.
        self.problem = problem
        self.options = options or TeamOptions()
        self.ledger = ledger if ledger is not None else UsageLedger()
        self.recorder = recorder
        for role in ROLES:
            providers_config.for_role(role)  # fail now, not mid-campaign, when a role has no model
        directory = Path(self.options.prompts_dir) if self.options.prompts_dir else None
        self.prompts: dict[str, PromptTemplate] = {role: load_prompt(role, directory) for role in ROLES}
        self.policy = self.options.contract()
        self.caller = Caller(providers_config, ledger=self.ledger, recorder=recorder, campaign_id=campaign_id,
                             factory=provider_factory, sleep=sleep, rng=rng, on_message=on_message,
                             temperature=self.options.temperature, max_tokens=self.options.max_tokens,
                             json_mode=self.options.json_mode, continuations=self.options.continuations)
        self._plans: dict[tuple[int, int, str], str] = {}
        if recorder is not None:
            recorder.write_header(providers_config, self.options.model_dump(mode="json"))

    @property
    def campaign_id(self) -> str | None:
        return self.caller.campaign_id

    @campaign_id.setter
    def campaign_id(self, value: str | None) -> None:
        self.caller.campaign_id = value

    def set_message_hook(self, hook: MessageHook) -> None:
        """Also hand every message to ``hook`` the moment it completes (the engine stores and streams it)."""
        previous = self.caller.on_message

        def both(message: TeamMessage) -> None:
            if previous is not None:
                previous(message)
            hook(message)

        self.caller.on_message = both

    @classmethod
    def from_recording(cls, path: str | Path, ledger: UsageLedger | None = None, *, strict: bool = True,
                       campaign_id: str | None = None, on_message: MessageHook | None = None,
                       node_aliases: NodeAliases | None = None) -> LLMTeam:
        """A team that answers every call from a recording: no server, no key, same outputs. With
        ``strict=False`` a request missing from the recording gets the role's next recorded answer
        (see :class:`~agents.llm.recording.ReplayBook`) instead of a ``ReplayDivergence``."""
        recording = Recording.load(path)
        config = recording.providers_config()
        if config is None:
            raise ValueError(f"{path}: the recording has no header with a providers config")
        options = TeamOptions.model_validate(recording.options() or {})
        team = cls(config, ledger, None, options=options, campaign_id=campaign_id,
                   provider_factory=replay_factory(recording, strict=strict), on_message=on_message,
                   node_aliases=node_aliases)
        team.caller.legacy_requests = recording.format < 2
        # A child retried after an interruption asked memory again under the same key: the last answer is
        # the one its recorded debate saw.
        team._recorded_shortlists = {(rec.parent, rec.iteration, rec.seed): rec.cards for rec in recording.shortlists}
        return team

    async def aclose(self) -> None:
        await self.caller.aclose()

    # -- helpers ------------------------------------------------------------------------------------------
    def _system(self, role: str, **values: Any) -> ChatMessage:
        return ChatMessage(role="system", content=self.prompts[role].render("system", values))

    def _user(self, role: str, section: str, **values: Any) -> ChatMessage:
        return ChatMessage(role="user", content=self.prompts[role].render(section, values))

    def _version(self, role: str) -> str:
        return self.prompts[role].version

    def _code(self, code: str) -> str:
        return fmt.clip(code, self.options.max_code_chars)

    def _shown(self, view: NodeView) -> NodeView:
        """The view with node ids as the models see them (the same ids unless replaying)."""
        if self.node_aliases is None:
            return view
        show = self.node_aliases.show
        return view.model_copy(update={"node_id": show(view.node_id),
                                       "parent_id": None if view.parent_id is None else show(view.parent_id)})

    def _shown_ctx(self, ctx: ProposalContext) -> ProposalContext:
        if self.node_aliases is None:
            return ctx
        return ctx.model_copy(update={"parent": self._shown(ctx.parent),
                                      "relatives": [self._shown(r) for r in ctx.relatives]})

    def _proposal_values(self, ctx: ProposalContext) -> dict[str, Any]:
        ctx = self._shown_ctx(ctx)
        return {
            "problem": fmt.format_problem(ctx.problem), "data_analysis": ctx.data.report or fmt.NONE,
            "card": fmt.format_card(ctx.card), "parent": fmt.format_node(ctx.parent, label="parent"),
            "parent_code": self._code(ctx.parent_code), "relatives": fmt.format_relatives(ctx),
        }

    # -- data analysis ------------------------------------------------------------------------------------
    async def analyze_data(self, problem: dict[str, Any], train: dict[str, Any],
                           query_inputs: dict[str, Any]) -> DataReport:
        self.problem = problem
        facts = data_facts(train, query_inputs)
        if problem.get("pde"):
            facts["equation"] = equation_facts(problem["pde"])
        messages = [self._system("data_analyst"),
                    self._user("data_analyst", "report", problem=fmt.format_problem(problem),
                               facts=fmt.format_json(facts))]
        text, _ = await self.caller.ask("data_analyst", "report", messages, index=0, node="data",
                                        prompt_version=self._version("data_analyst"))
        return DataReport(facts=facts, report=text.strip())

    # -- root ---------------------------------------------------------------------------------------------
    async def write_root(self, problem: dict[str, Any], data: DataReport) -> CandidateCode:
        from baselines import baseline_source

        self.problem = problem
        kind = str(problem.get("kind"))
        try:
            baseline: str | None = baseline_source(kind)
        except KeyError:
            baseline = None
        role = "root_engineer"
        messages = [self._system(role, contract=self.policy.describe()),
                    self._user(role, "write", problem=fmt.format_problem(problem),
                               data_analysis=data.report or fmt.NONE,
                               baseline_code=baseline or "# no baseline for this kind of problem")]
        attempts = self.options.root_attempts
        try:
            answer, exchanges, _ = await self.caller.ask_code(
                role, "root", messages, bases=[baseline or ""], attempts=attempts, policy=self.policy, index=0,
                node="root", prompt_version=self._version(role), must_change=False,
                rejected=lambda reason, n: self.prompts[role].render(
                    "rejected", {"reason": reason, "attempt": n, "attempts": attempts}))
        except CodeRejected as exc:
            if baseline is None:
                raise EngineeringFailed(str(exc), role=role, messages=exc.messages,
                                        last_reason=exc.last_reason) from None
            # Without a root there is no campaign: a model that cannot write one (a small local model)
            # leaves the shipped baseline as the root, and says so; its rejected answers stay on record.
            notes = (f"The root engineer's {attempts} answer(s) were all rejected (last reason: "
                     f"{exc.last_reason}); the root is the shipped {kind} baseline.")
            return CandidateCode(code=baseline, notes=notes, messages=exc.messages)
        assert answer is not None
        return CandidateCode(code=answer.code, notes=answer.notes, messages=exchanges)

    # -- debate -------------------------------------------------------------------------------------------
    async def debate(self, ctx: ProposalContext, rounds: int) -> DebateOutcome:
        """``rounds`` proposer turns: reasoning rounds answered by a critique, then a plan round answered
        by a feasibility check, then the final proposal (a JSON block). With the default 4: two reasoning
        rounds, one plan round, one final round. 0 or 1: the final proposal alone, no critic (the ablation
        of the debate)."""
        rounds = max(1, rounds) if rounds is not None else self.options.debate_rounds
        self.problem = ctx.problem
        node = _node_key(ctx)
        values = self._proposal_values(ctx)
        contexts = {role: self.prompts[role].render("context", values) for role in ("proposer", "critic")}
        turns: list[tuple[str, str, int, str]] = []
        messages: list[TeamMessage] = []
        plan_text = ""

        async def turn(role: str, section: str, kind: str, rnd: int) -> str:
            user = self._user(role, section, context=contexts[role], debate=fmt.format_debate(turns),
                              round=rnd, rounds=rounds)
            text, msg = await self.caller.ask(role, kind, [self._system(role), user], index=ctx.seed, node=node,
                                              prompt_version=self._version(role), round=rnd)
            messages.append(msg)
            turns.append((role, kind, rnd, text.strip()))
            return text.strip()

        for rnd in range(1, rounds):
            if rnd == rounds - 1:
                plan_text = await turn("proposer", "plan", "plan", rnd)
                feasibility = await turn("critic", "feasibility", "feasibility", rnd)
                plan_text = f"{plan_text}\n\nThe critic's feasibility notes:\n{feasibility}"
            else:
                await turn("proposer", "reasoning", "reasoning", rnd)
                await turn("critic", "critique", "critique", rnd)

        role = "proposer"
        user = self._user(role, "final", context=contexts[role], debate=fmt.format_debate(turns), round=rounds,
                          rounds=rounds)
        try:
            draft, exchanges = await self.caller.ask_structured(
                role, "proposal", [self._system(role), user], ProposalDraft, index=ctx.seed, node=node,
                prompt_version=self._version(role), round=rounds, repairs=self.options.repair_attempts,
                repair=lambda error: self.prompts[role].render("repair", {"error": error}))
        except StructuredAnswerError as exc:
            raise ProposalError(f"the debate produced no usable proposal: {exc}", role=role,
                                messages=[*messages, *exc.messages]) from None
        messages.extend(exchanges)
        final = exchanges[-1]
        final.payload = {**(final.payload or {}), "title": draft.title, "rationale": draft.rationale}
        proposal = Proposal(title=draft.title, rationale=draft.rationale, design=draft.design)
        if plan_text:
            self._plans[(ctx.parent.node_id, ctx.iteration, draft.title)] = plan_text
        return DebateOutcome(messages=messages, proposal=proposal)

    # -- engineer -----------------------------------------------------------------------------------------
    async def engineer(self, ctx: ProposalContext, proposal: Proposal) -> CandidateCode:
        role = "engineer"
        plan = self._plans.pop((ctx.parent.node_id, ctx.iteration, proposal.title), None)
        messages = [self._system(role, contract=self.policy.describe()),
                    self._user(role, "implement", problem=fmt.format_problem(ctx.problem),
                               data_analysis=ctx.data.report or fmt.NONE, title=proposal.title,
                               rationale=proposal.rationale,
                               plan=plan or "(no separate plan: implement the proposal as stated)",
                               parent_code=self._code(ctx.parent_code))]
        attempts = self.options.engineer_attempts
        try:
            answer, exchanges, _ = await self.caller.ask_code(
                role, "implementation", messages, bases=[ctx.parent_code], attempts=attempts, policy=self.policy,
                index=ctx.seed, node=_node_key(ctx), prompt_version=self._version(role),
                rejected=lambda reason, n: self.prompts[role].render(
                    "rejected", {"reason": reason, "attempt": n, "attempts": attempts}))
        except CodeRejected as exc:
            raise EngineeringFailed(f"the engineer could not implement {proposal.title!r}: {exc}", role=role,
                                    messages=exc.messages, last_reason=exc.last_reason) from None
        assert answer is not None
        return CandidateCode(code=answer.code, design=proposal.design, notes=answer.notes, messages=exchanges)

    # -- debugger -----------------------------------------------------------------------------------------
    async def debug(self, ctx: ProposalContext, code: CandidateCode, failure: Failure,
                    attempt: int) -> CandidateCode | None:
        """A fixed module, or ``None`` when the debugger gives up or every answer was rejected."""
        role = "debugger"
        messages = [self._system(role, contract=self.policy.describe()),
                    self._user(role, "fix", problem=fmt.format_problem(ctx.problem), attempt=attempt,
                               failure_kind=failure.kind or "unknown", stage=failure.stage,
                               failure_reason=fmt.clip(failure.reason or "none given", 2000),
                               traceback=fmt.clip(failure.traceback or "(none)", 6000),
                               code=self._code(code.code))]
        attempts = self.options.debugger_attempts
        try:
            answer, exchanges, gave_up = await self.caller.ask_code(
                role, "fix", messages, bases=[code.code], attempts=attempts, policy=self.policy,
                index=ctx.seed + attempt, node=_node_key(ctx), prompt_version=self._version(role),
                allow_give_up=True, rejected=lambda reason, n: self.prompts[role].render(
                    "rejected", {"reason": reason, "attempt": n, "attempts": attempts}))
        except CodeRejected:
            return None
        if answer is None:
            return None
        notes = answer.notes or f"fixed {failure.kind or 'the failure'}"
        return CandidateCode(code=answer.code, design=code.design, notes=notes, messages=exchanges)

    # -- result analysis ----------------------------------------------------------------------------------
    async def analyze_result(self, problem: dict[str, Any], node: NodeView, logs: list[dict[str, Any]],
                             parent: NodeView | None) -> TeamMessage:
        role = "result_analyst"
        summary = log_summary(logs)
        budget = problem.get("budget") if isinstance(problem.get("budget"), dict) else {}
        checks = result_checks(node.score, node.parent_score if node.parent_score is not None else
                               (parent.score if parent else None), str(problem.get("metric", "rel_l2")),
                               node.status, summary, budget.get("wall_seconds"))
        messages = [self._system(role),
                    self._user(role, "report", problem=fmt.format_problem(problem, limit=2500),
                               node=fmt.format_node(self._shown(node), label="candidate"),
                               parent=fmt.format_node(self._shown(parent) if parent else None, label="parent"),
                               logs=fmt.format_json(_timeless(summary, budget.get("wall_seconds")), 3000),
                               checks="\n".join(f"- {c}" for c in checks) or "- nothing unusual was detected")]
        _, msg = await self.caller.ask(role, "report", messages, index=self._shown(node).node_id,
                                       node=str(node.node_id),
                                       prompt_version=self._version(role),
                                       payload={"checks": checks, "log_summary": summary})
        msg.text = msg.text.strip()
        return msg

    # -- selection ----------------------------------------------------------------------------------------
    async def vote(self, candidates: list[NodeView], k: int, selector: int, seed: int) -> TeamMessage:
        """One selector's ballot. Ids that are not candidates are dropped; a ballot that stays malformed
        after the repair request abstains (``votes == []``) rather than stopping the campaign."""
        role = "selector"
        candidates = [self._shown(c) for c in candidates]
        ids = [c.node_id for c in candidates]
        actual = self.node_aliases.actual if self.node_aliases is not None else (lambda shown: shown)
        messages = [self._system(role),
                    self._user(role, "vote", problem=fmt.format_problem(self.problem, limit=2500) if self.problem
                               else "(not available to this selector)",
                               candidates=fmt.format_candidates(candidates), k=k)]

        def check(draft: VoteDraft) -> None:
            if not any(v in ids for v in draft.votes):
                raise ParseError(f"none of the votes {draft.votes} is a candidate node id; "
                                 f"the candidates are {ids}")

        try:
            draft, exchanges = await self.caller.ask_structured(
                role, "vote", messages, VoteDraft, index=selector, node=None, prompt_version=self._version(role),
                repairs=self.options.repair_attempts, check=check,
                narrow=lambda schema: schema.with_choices("votes", ids, as_list=True),
                repair=lambda error: self.prompts[role].render("repair", {"error": error}))
            votes = [actual(v) for v in dict.fromkeys(v for v in draft.votes if v in ids)][:max(k, 0)]
            dropped = [v for v in draft.votes if v not in ids]
            text = f"votes {votes}" + (f": {draft.reason.strip()}" if draft.reason.strip() else "")
            payload: dict[str, Any] = {"votes": votes, "reason": draft.reason, "dropped": dropped}
        except StructuredAnswerError as exc:
            exchanges = exc.messages
            votes, text = [], f"abstains: {exc}"
            payload = {"votes": [], "abstained": True, "error": str(exc)}
        return _merge(exchanges, role=role, kind="vote", text=text, payload={**payload, "selector": selector})

    # -- retrieval ----------------------------------------------------------------------------------------
    def pin_shortlist(self, ctx: ProposalContext, cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The shortlist the retriever gets: recorded as offered, or when replaying, the one the recorded
        campaign got for this parent and iteration (a recording made before shortlists were recorded
        falls back to what memory offers now)."""
        key = (self._shown(ctx.parent).node_id, ctx.iteration, ctx.seed)
        if self._recorded_shortlists is not None:
            recorded = self._recorded_shortlists.get(key)
            return [dict(card) for card in recorded] if recorded is not None else cards
        if self.recorder is not None:
            self.recorder.record_shortlist(parent=key[0], iteration=key[1], seed=key[2], cards=cards)
        return cards

    async def choose_card(self, ctx: ProposalContext, cards: list[dict[str, Any]]) -> tuple[dict[str, Any] | None,
                                                                                           TeamMessage | None]:
        """The retriever's pick among the method cards the engine's memory shortlisted (or none)."""
        if not cards:
            return None, None
        role = "retriever"
        by_id = {str(c.get("id")): c for c in cards}
        shown = self._shown_ctx(ctx)
        messages = [self._system(role),
                    self._user(role, "choose", problem=fmt.format_problem(ctx.problem, limit=2500),
                               parent=fmt.format_node(shown.parent, label="parent"),
                               relatives=fmt.format_relatives(shown), cards=fmt.format_cards(cards))]

        def check(choice: CardChoice) -> None:
            if choice.card is not None and choice.card not in by_id:
                raise ParseError(f"{choice.card!r} is not on the shortlist; choose one of {sorted(by_id)} or null")

        try:
            choice, exchanges = await self.caller.ask_structured(
                role, "retrieval", messages, CardChoice, index=ctx.seed, node=_node_key(ctx),
                prompt_version=self._version(role), repairs=self.options.repair_attempts, check=check,
                narrow=lambda schema: schema.with_choices("card", sorted(by_id), nullable=True),
                repair=lambda error: self.prompts[role].render("repair", {"error": error}))
        except StructuredAnswerError as exc:
            return None, _merge(exc.messages, role=role, kind="retrieval", text=f"no card: {exc}",
                                payload={"card": None, "error": str(exc)})
        card = by_id.get(choice.card) if choice.card else None
        msg = _merge(exchanges, role=role, kind="retrieval",
                     text=f"card {choice.card or 'none'}: {choice.reason.strip()}".strip(),
                     payload={"card": choice.card, "reason": choice.reason})
        return card, msg


def _timeless(summary: dict[str, Any], budget_seconds: Any) -> dict[str, Any]:
    """The log summary as the result analyst sees it: training time as a share of the budget, to one
    decimal, instead of seconds. Exact wall-clock times differ on every run, and a prompt that differs
    breaks a strict replay of a campaign whose scores are otherwise reproduced exactly."""
    shown = {k: v for k, v in summary.items() if k != "seconds"}
    seconds = summary.get("seconds")
    if isinstance(seconds, (int, float)) and isinstance(budget_seconds, (int, float)) and budget_seconds > 0:
        shown["share_of_time_budget"] = round(min(seconds / budget_seconds, 9.9), 1)
    return shown


def _merge(exchanges: list[TeamMessage], *, role: str, kind: str, text: str,
           payload: dict[str, Any]) -> TeamMessage:
    """One message standing for an answer that took several exchanges (a repair): usage is summed."""
    last = exchanges[-1]
    merged = TeamMessage(
        role=role, kind=kind, text=text, model=last.model, prompt_version=last.prompt_version,
        tokens_in=sum(m.tokens_in for m in exchanges), tokens_out=sum(m.tokens_out for m in exchanges),
        latency_s=sum(m.latency_s or 0.0 for m in exchanges), cost_usd=sum(m.cost_usd for m in exchanges),
        payload={**payload, "exchanges": len(exchanges), "raw": [m.text for m in exchanges]},
    )
    merged._parts_stored = all(m._stored_id is not None or m._taken_live for m in exchanges)
    return merged


__all__ = [
    "CardChoice", "EngineeringFailed", "LLMTeam", "LLMTeamError", "ProposalDraft", "ProposalError",
    "TeamOptions", "VoteDraft",
]
