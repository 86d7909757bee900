"""The campaign loop: analysis, root, then iterations of select → retrieve → debate → engineer → run.

State lives in the database, not in this object: every step is committed before the next begins, so a
process killed at any point (kill -9 included) resumes from what was committed. A node that has a score is
never evaluated again; a node left pending or running is evaluated from scratch; an iteration whose parents
were chosen keeps that choice and only redoes the children it lacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import statistics
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterator, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import load_only

from agents.memory import MethodMemory, NoMemory
from agents.selection import eligible, tally
from agents.team import (
    AgentTeam, CandidateCode, DataReport, Failure, NodeView, Proposal, ProposalContext, TeamMessage,
)
from app.campaigns.budgets import run_usage, smoke_budget
from app.campaigns.config import CampaignConfig, extra_seeds
from app.campaigns.novelty import NoveltyIndex
from app.db import repository as repo
from app.db.artifacts import ArtifactStore
from app.db.events import NewEvent, append_event, append_events, list_events
from app.db.fingerprint import code_fingerprint
from app.db.models import Campaign, Message, Node
from app.db.session import Database, apply_async_commit, request_async_commit
from app.db.work_queue import LeaseLost
from sandbox.evaluate import EvaluationResult, Evaluator

EventCallback = Callable[[str, dict[str, Any], int | None], None]
TERMINAL = ("succeeded", "failed", "skipped_duplicate", "cancelled")
LOG_EVENT_INTERVAL_S = 1.0
LIVE_FLUSH_S = 0.25  # the longest a completed LLM message waits in the live buffer (see _live_message)
INTERRUPT_POLL_S = 0.25
INTERRUPT_GRACE_S = 3.0  # how long an interrupt waits for the stages to stop by themselves
T = TypeVar("T")
# What the tree queries load: enough for selection and for the views roles read.
_TREE_COLUMNS = (Node.parent_id, Node.iteration, Node.depth, Node.status, Node.score, Node.proposal, Node.analysis,
                 Node.error)


class StopCampaign(Exception):
    """Raised inside the loop when a stop rule fires; carries the status to end in."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _view(node: Node, children: int = 0, parent_score: float | None = None) -> NodeView:
    proposal = node.proposal or {}
    return NodeView(
        node_id=node.id, parent_id=node.parent_id, iteration=node.iteration, depth=node.depth,
        status=node.status, score=node.score, parent_score=parent_score, title=proposal.get("title"),
        summary=proposal.get("summary") or proposal.get("title"), design=proposal.get("design"),
        analysis=node.analysis, failure=node.error, children=children,
    )


def _load_tree(s: Any, campaign_id: str) -> tuple[dict[int, Node], dict[int, list[int]]]:
    query = select(Node).where(Node.campaign_id == campaign_id).options(load_only(*_TREE_COLUMNS)).order_by(Node.id)
    nodes = {n.id: n for n in s.scalars(query)}
    for n in nodes.values():
        s.expunge(n)
    children: dict[int, list[int]] = {}
    for n in nodes.values():
        if n.parent_id is not None:
            children.setdefault(n.parent_id, []).append(n.id)
    return nodes, children


@dataclass
class _Speaking:
    """Who a team is talking for right now, so a message that completes mid-call can be stored at once."""

    campaign_id: str
    iteration: int | None
    node_id: int | None = None
    parent_id: int | None = None
    stored: list[int] = field(default_factory=list)  # rows written live during the call


class _Tx:
    """One engine transaction: rows, events and messages written together; events are announced after commit."""

    def __init__(self, session: Any, campaign_id: str) -> None:
        self.s = session
        self.campaign_id = campaign_id
        self.emitted: list[tuple[str, dict[str, Any], int | None]] = []
        self.stored: list[tuple[TeamMessage, int]] = []

    def event(self, type: str, payload: dict[str, Any] | None = None, *, node_id: int | None = None,
              role: str | None = None, usage: dict[str, float] | None = None) -> None:
        payload = payload or {}
        append_event(self.s, self.campaign_id, type, payload, node_id=node_id, role=role, usage=usage)
        self.emitted.append((type, payload, node_id))

    def messages(self, msgs: list[TeamMessage], *, node_id: int | None, iteration: int | None,
                 extra: dict[str, Any] | None = None) -> None:
        """Store each message not stored yet (row, usage, ``message`` event); attach stored ones to
        ``node_id`` with one UPDATE (they were written live, before their node existed)."""
        adopt = [m._stored_id for m in msgs if m._stored_id is not None]
        if adopt and node_id is not None:
            self.s.execute(update(Message).where(Message.id.in_(adopt), Message.node_id.is_(None))
                           .values(node_id=node_id).execution_options(synchronize_session=False))
        new = [msg for msg in msgs if msg._stored_id is None]
        if not new:
            return
        # One multi-row INSERT for the rows; the events and the usage they add ride on one sequence bump
        # (one statement on PostgreSQL for a single message): a handful of statements, not three a message.
        ids = repo.insert_messages(self.s, [{
            "campaign_id": self.campaign_id, "role": msg.role, "text": msg.text, "node_id": node_id,
            "iteration": iteration, "kind": msg.kind, "model": msg.model, "prompt_version": msg.prompt_version,
            "payload": {**(msg.payload or {}), **({"round": msg.round} if msg.round is not None else {}),
                        **(extra or {})},
            "tokens_in": msg.tokens_in, "tokens_out": msg.tokens_out, "latency_s": msg.latency_s,
            "cost_usd": msg.cost_usd,
        } for msg in new])
        counted = [msg for msg in new if not msg._parts_stored]  # parts stored earlier counted already
        total = {"tokens_in": sum(m.tokens_in for m in counted), "tokens_out": sum(m.tokens_out for m in counted),
                 "cost_usd": sum(m.cost_usd for m in counted)}
        events = []
        for msg, message_id in zip(new, ids):
            self.stored.append((msg, message_id))  # marked stored once the transaction commits
            events.append(NewEvent("message", {
                "message_id": message_id, "role": msg.role, "kind": msg.kind, "round": msg.round,
                "model": msg.model, "text": msg.text, "iteration": iteration, **(extra or {}),
            }, node_id=node_id, role=msg.role))
        usage = total if any(total.values()) else None
        if usage is not None and node_id is not None:
            repo.add_node_usage(self.s, node_id, **usage)
        if len(events) == 1:
            self.event(events[0].type, events[0].payload, node_id=node_id, role=events[0].role, usage=usage)
            return
        append_events(self.s, self.campaign_id, events, usage=usage)
        self.emitted.extend((e.type, e.payload, e.node_id) for e in events)


# Context-local (each asyncio task sees its own): concurrent debates of one iteration do not mix.
_SPEAKING: contextvars.ContextVar[_Speaking | None] = contextvars.ContextVar("speaking", default=None)


class CampaignEngine:
    def __init__(
        self,
        db: Database,
        store: ArtifactStore,
        evaluator: Evaluator,
        team: AgentTeam,
        *,
        memory: MethodMemory | None = None,
        on_event: EventCallback | None = None,
        card_sink: Callable[[Any], Any] | None = None,
        allow_weak_isolation: bool | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.evaluator = evaluator
        self.team = team
        self.memory = memory or NoMemory()
        self.on_event = on_event
        self.card_sink = card_sink  # stores a discovered method card (the knowledge base's add_card)
        # Consent to a sandbox weaker than bubblewrap for every campaign (None: the setting); a campaign's
        # own config.allow_weak_isolation also counts. See app/isolation.py.
        self.allow_weak_isolation = allow_weak_isolation
        self.cancel = threading.Event()
        # Set by a worker to its lease check; called first in every write transaction.
        self.fence: Callable[[Any], None] | None = None
        self._novelty = NoveltyIndex()  # node ids are unique across campaigns, so one index serves them all
        # LLM messages completed on the event loop and not stored yet (see _live_message); loop thread only.
        self._live: list[tuple[_Speaking, TeamMessage, dict[str, Any] | None]] = []
        self._live_timer: asyncio.TimerHandle | None = None
        register = getattr(team, "set_message_hook", None)
        if callable(register):
            register(self._live_message)  # LLM messages are stored and streamed as each one completes

    # -- small persistence helpers ------------------------------------------------------------------------
    # A step's rows, usage counters and events go into one transaction (SQLite commits cost about as much
    # as the statements they hold); listeners hear about the events only once they are committed.
    @contextlib.contextmanager
    def _session(self, *, durable: bool = True) -> Iterator[Any]:
        """A write transaction, fenced: a worker whose lease was taken over raises ``LeaseLost`` here
        instead of committing (see :func:`app.db.work_queue.assert_held`).

        ``durable=False`` marks a transaction that writes only the log: events and LLM messages (with the
        usage they add). On PostgreSQL its COMMIT returns before its WAL record reaches the disk. A kill -9
        of the engine loses nothing: the server has the commit. Only a crash of the PostgreSQL server or
        its machine can lose such a commit, and then only the last few hundred milliseconds of them
        (``wal_writer_delay``); the database stays consistent, since WAL is replayed in order and every
        durable commit (node rows, status, scores, iteration bookkeeping) flushes the log written before
        it. Such a crash can therefore lose a suffix of messages and events after the last durable commit:
        a resume re-runs that step and asks the team again. SQLite runs with ``synchronous=NORMAL`` (see
        ``app.db.session``), the same bargain for every transaction. README.md, "Durability"."""
        with self.db.session_scope() as s:
            if not durable:
                request_async_commit(s)  # on PostgreSQL; the fence's SELECT carries it when there is one
            if self.fence is not None:
                self.fence(s)
            apply_async_commit(s)
            yield s

    @contextlib.contextmanager
    def _write(self, campaign_id: str, *, durable: bool = True) -> Iterator[_Tx]:
        with self._session(durable=durable) as s:
            tx = _Tx(s, campaign_id)
            yield tx
        for msg, message_id in tx.stored:
            msg._stored_id = message_id
        for type, payload, node_id in tx.emitted:
            self._notify(type, payload, node_id)

    def _notify(self, type: str, payload: dict[str, Any], node_id: int | None) -> None:
        if self.on_event is not None:
            try:
                self.on_event(type, payload, node_id)
            except Exception:  # noqa: BLE001 - a display bug must not stop a campaign
                pass

    def _event(self, campaign_id: str, type: str, payload: dict[str, Any] | None = None, *,
               node_id: int | None = None, role: str | None = None, durable: bool = False) -> None:
        """One event in its own transaction; not ``durable`` unless asked (a resume reads it)."""
        with self._write(campaign_id, durable=durable) as tx:
            tx.event(type, payload, node_id=node_id, role=role)

    @contextlib.contextmanager
    def _speaking(self, campaign_id: str, iteration: int | None, *, node_id: int | None = None,
                  parent_id: int | None = None) -> Iterator[_Speaking]:
        scope = _Speaking(campaign_id, iteration, node_id, parent_id)
        token = _SPEAKING.set(scope)
        try:
            yield scope
        finally:
            _SPEAKING.reset(token)

    def _live_message(self, msg: TeamMessage) -> None:
        """The team's hook: store a message soon after it completes. A debate's messages precede the node
        they lead to; they are stored with the parent in the payload and adopted by the node once it exists.

        On the event loop the message waits up to ``LIVE_FLUSH_S`` in a buffer: when the step it belongs to
        writes first (a debate's node, an analysis), the message goes into that step's transaction, and
        messages that complete close together share one. Answers that take seconds, as real models' do,
        are each still stored (and streamed) within ``LIVE_FLUSH_S`` of arriving; fast ones no longer cost a
        transaction apiece. What the buffer holds when the process is killed is lost with the unfinished
        step it belongs to, which a resume runs again (README, "Durability")."""
        scope = _SPEAKING.get()
        if scope is None or msg._stored_id is not None:
            return  # outside a known call: stored with the call's result instead
        extra = {"parent_id": scope.parent_id} if scope.node_id is None and scope.parent_id is not None else None
        msg._taken_live = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on the event loop (a thread): store it now
            self._store_live([(scope, msg, extra)])
            return
        self._live.append((scope, msg, extra))
        if self._live_timer is None:
            self._live_timer = loop.call_later(LIVE_FLUSH_S, self._flush_live_quietly)

    def _flush_live(self) -> None:
        """Store what the live buffer still holds: one transaction per campaign. What a failed transaction
        should have stored goes back into the buffer (for the flush at the end of the run)."""
        pending = [entry for entry in self._live if entry[1]._stored_id is None]  # a step may have stored it
        self._drop_live()
        by_campaign: dict[str, list[tuple[_Speaking, TeamMessage, dict[str, Any] | None]]] = {}
        for entry in pending:
            by_campaign.setdefault(entry[0].campaign_id, []).append(entry)
        try:
            for entries in by_campaign.values():
                self._store_live(entries)
        except Exception:
            self._live = [entry for entry in pending if entry[1]._stored_id is None] + self._live
            raise

    def _drop_live(self) -> None:
        if self._live_timer is not None:
            self._live_timer.cancel()
            self._live_timer = None
        self._live = []

    def _flush_live_quietly(self) -> None:
        """The timer's flush. A failure loses nothing: the messages stay in the buffer, and the step's own
        transaction, or the flush at the end of the run, stores them."""
        try:
            self._flush_live()
        except Exception:  # noqa: BLE001 - LeaseLost included: the run's next write raises it where it counts
            pass

    def _store_live(self, entries: list[tuple[_Speaking, TeamMessage, dict[str, Any] | None]]) -> None:
        # One call (one multi-row INSERT) per speaking scope: its messages share node, iteration and extra.
        by_scope: dict[int, tuple[_Speaking, dict[str, Any] | None, list[TeamMessage]]] = {}
        for scope, msg, extra in entries:
            by_scope.setdefault(id(scope), (scope, extra, []))[2].append(msg)
        with self._write(entries[0][0].campaign_id, durable=False) as tx:  # messages, usage and events only
            for scope, extra, msgs in by_scope.values():
                tx.messages(msgs, node_id=scope.node_id, iteration=scope.iteration, extra=extra)
        for scope, msg, _extra in entries:
            if msg._stored_id is not None:
                scope.stored.append(msg._stored_id)

    def _message(self, campaign_id: str, msg: TeamMessage, *, node_id: int | None, iteration: int | None,
                 extra: dict[str, Any] | None = None) -> None:
        with self._write(campaign_id, durable=False) as tx:  # a message, its usage and its event only
            tx.messages([msg], node_id=node_id, iteration=iteration, extra=extra)

    def _config(self, campaign: Campaign) -> CampaignConfig:
        return CampaignConfig(**{k: v for k, v in campaign.config.items() if not k.startswith("_")})

    def _config_of(self, campaign_id: str) -> CampaignConfig:
        with self.db.session_scope(readonly=True) as s:
            return self._config(repo.get_campaign(s, campaign_id))

    # -- entry point --------------------------------------------------------------------------------------
    async def run(self, campaign_id: str) -> dict[str, Any]:
        from problems.registry import get_problem

        with self._session() as s:
            campaign = repo.get_campaign(s, campaign_id)
            if campaign is None:
                raise LookupError(f"no campaign {campaign_id!r}")
            config = self._config(campaign)
            resumed = campaign.started_at is not None
            repo.set_campaign_status(s, campaign_id, "running")
            campaign.error = None  # what stopped an earlier run is history now (its events keep it)
        problem = get_problem(config.problem)
        # What roles see of the problem; the budget is the one candidates will really get.
        self._problem_view = problem.spec.model_dump(mode="json")
        self._problem_view["budget"] = {**self._problem_view["budget"], **(config.candidate_budget() or {})}
        self._segment_start = time.monotonic()
        self._event(campaign_id, "campaign.resumed" if resumed else "campaign.started",
                    {"problem": problem.spec.name, "config": config.model_dump()})
        data_report = DataReport()
        try:
            data_report = await self._until_interrupted(self._stages(campaign_id, config, problem))
            final, reason = "completed", "all iterations done"
        except LeaseLost:
            self._drop_live()
            raise  # another worker owns the campaign now: record nothing, not even how this run ended
        except BaseException as exc:  # noqa: BLE001 - stop rules, provider trouble, or a real error
            stop = exc if isinstance(exc, StopCampaign) else _as_stop(exc)
            if not isinstance(stop, StopCampaign):
                self._finish(campaign_id, "failed", f"{type(exc).__name__}: {exc}")
                raise
            final, reason = stop.status, stop.reason
        if final == "completed":
            await self._reevaluate_champion(campaign_id, config, problem)
            await self._grow_memory(campaign_id, problem, data_report)
        self._finish(campaign_id, final, reason)
        return self.summary(campaign_id)

    def _weak_allowed(self, config: CampaignConfig) -> bool:
        allowed = self.allow_weak_isolation
        if allowed is None:
            from app.settings import get_settings

            allowed = get_settings().allow_weak_isolation
        return bool(allowed or config.allow_weak_isolation)

    def _check_isolation(self, config: CampaignConfig, backend: str | None) -> None:
        """Stop before any candidate runs (or is scored) under a weak sandbox the campaign was not allowed."""
        from app.isolation import HOW_ANY, is_weak, refusal_message

        if is_weak(backend) and not self._weak_allowed(config):
            raise StopCampaign("failed", refusal_message(str(backend), how=HOW_ANY))

    async def _stages(self, campaign_id: str, config: CampaignConfig, problem: Any) -> DataReport:
        from app.isolation import evaluator_backend

        self._check_isolation(config, evaluator_backend(self.evaluator))
        data_report = await self._ensure_analysis(campaign_id, problem)
        await self._ensure_root(campaign_id, config, problem, data_report)
        await self._redo_unfinished(campaign_id, config, problem, data_report)
        await self._redo_missing_analyses(campaign_id)
        await self._iterate(campaign_id, config, problem, data_report)
        return data_report

    async def _until_interrupted(self, stages: Awaitable[T]) -> T:
        """Run the stages; once ``cancel`` is set (Ctrl-C, a pause, a worker shutting down) give them
        ``INTERRUPT_GRACE_S`` to stop at their own checks, then cancel them: an LLM answer can take
        minutes, and nobody should wait that long for a pause. Cancelling loses nothing committed: a child
        whose debate was cut is proposed again on resume, a node cut mid-evaluation is evaluated again."""
        work = asyncio.ensure_future(stages)
        try:
            while not self.cancel.is_set():
                done, _ = await asyncio.wait({work}, timeout=INTERRUPT_POLL_S)
                if done:
                    return work.result()
            done, _ = await asyncio.wait({work}, timeout=INTERRUPT_GRACE_S)
        except asyncio.CancelledError:  # run() itself is cancelled: take the stages down with it
            work.cancel()
            raise
        if not done:
            work.cancel()
        try:
            return await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # run() itself is cancelled, not only its stages
            raise StopCampaign("paused", "interrupted while waiting on the team; resume to continue") from None

    def _finish(self, campaign_id: str, status: str, reason: str) -> None:
        self._flush_live()  # messages of a step cut short by the stop keep their record and their usage
        active = time.monotonic() - getattr(self, "_segment_start", time.monotonic())
        with self._session() as s:
            campaign = repo.get_campaign(s, campaign_id)
            state = dict(campaign.config.get("_state", {}))
            state["active_seconds"] = state.get("active_seconds", 0.0) + active
            campaign.config = {**campaign.config, "_state": state}
            if campaign.status not in ("cancelled",):
                repo.set_campaign_status(s, campaign_id, status,
                                         error=reason if status in ("failed", "paused") else None)
                if status not in ("failed", "paused"):
                    campaign.error = None
            status = campaign.status
        self._event(campaign_id, f"campaign.{status}", {"reason": reason})

    def _active_seconds(self, campaign: Campaign) -> float:
        before = campaign.config.get("_state", {}).get("active_seconds", 0.0)
        return before + time.monotonic() - self._segment_start

    def _check_stop(self, campaign_id: str, config: CampaignConfig) -> None:
        if self.cancel.is_set():
            raise StopCampaign("paused", "interrupted; resume to continue")
        with self.db.session_scope(readonly=True) as s:
            campaign = repo.get_campaign(s, campaign_id)
            if campaign.status in ("cancelled", "paused"):
                raise StopCampaign(campaign.status, f"campaign was {campaign.status}")
            if config.target_score is not None and campaign.best_score is not None \
                    and campaign.best_score <= config.target_score:
                raise StopCampaign("completed", f"target score {config.target_score:g} reached")
            if config.max_wall_seconds is not None and self._active_seconds(campaign) >= config.max_wall_seconds:
                raise StopCampaign("completed", f"wall-time budget of {config.max_wall_seconds:g} s used")
            if config.max_cost_usd is not None and campaign.cost_usd >= config.max_cost_usd:
                raise StopCampaign("completed", f"cost budget of ${config.max_cost_usd:g} used")

    # -- analysis and root --------------------------------------------------------------------------------
    async def _ensure_analysis(self, campaign_id: str, problem: Any) -> DataReport:
        with self.db.session_scope(readonly=True) as s:
            rows = s.scalars(select(Message).where(Message.campaign_id == campaign_id,
                                                   Message.role == "data_analyst").order_by(Message.id)).all()
            for row in rows:  # an answer stored live but never completed into a report does not count
                if "facts" in (row.payload or {}):
                    return DataReport(facts=row.payload["facts"], report=row.text)
        data = await asyncio.to_thread(problem.load, self.evaluator.cache_dir)
        with self._speaking(campaign_id, 0) as scope:
            try:
                report = await self.team.analyze_data(self._problem_view, data.train, data.query_inputs)
            except Exception as exc:  # noqa: BLE001 - the analysis informs the team; without it the team still works
                if _is_stop(exc):
                    raise
                self._event(campaign_id, "role.failed", {"role": "data_analyst", **_fault(exc)})
                report = DataReport(facts={"analysis_error": f"{type(exc).__name__}: {exc}"},
                                    report=f"# Data analysis failed\n\n{type(exc).__name__}: {exc}\n")
        facts = _jsonable(report.facts)
        self._flush_live()  # the analyst's answer, if it is still in the live buffer, gets its row now
        if scope.stored:
            # The analyst's answer was stored as it arrived (with its usage); it becomes the report that
            # later steps and a resume read, rather than a second copy of the same words.
            with self._session() as s:
                for message_id in scope.stored:
                    row = s.get(Message, message_id)
                    if row is not None and row.role == "data_analyst":
                        row.text = report.report
                        row.payload = {**(row.payload or {}), "facts": facts}
                        row.kind = "report"
        else:
            self._message(campaign_id, TeamMessage(role="data_analyst", kind="report", text=report.report,
                                                   payload={"facts": facts}), node_id=None, iteration=0)
        return report

    async def _ensure_root(self, campaign_id: str, config: CampaignConfig, problem: Any, data: DataReport) -> None:
        with self.db.session_scope(readonly=True) as s:
            root_id = repo.get_campaign(s, campaign_id).root_node_id
        if root_id is None:
            with self._speaking(campaign_id, 0):
                root = await self.team.write_root(self._problem_view, data)
            with self._write(campaign_id) as tx:
                node = repo.add_node(tx.s, campaign_id, code=root.code, operation="root", iteration=0,
                                     proposal={"title": "root", "summary": root.notes or "root solution",
                                               "design": root.design, "rationale": root.notes},
                                     proposal_text=root.notes, store=self.store)
                root_id = node.id
                tx.event("node.created", {"iteration": 0, "operation": "root", "title": "root"}, node_id=root_id)
                tx.messages(root.messages, node_id=root_id, iteration=0)
        await self._evaluate_pending(campaign_id, config, problem, data, [root_id])

    async def _redo_unfinished(self, campaign_id: str, config: CampaignConfig, problem: Any, data: DataReport) -> None:
        with self.db.session_scope(readonly=True) as s:
            ids = [n.id for n in repo.list_nodes(s, campaign_id) if n.status in ("pending", "running")]
        if ids:
            self._event(campaign_id, "campaign.redo", {"nodes": ids})
            await self._evaluate_pending(campaign_id, config, problem, data, ids)

    # -- iterations ---------------------------------------------------------------------------------------
    def _tree(self, campaign_id: str) -> tuple[dict[int, Node], dict[int, list[int]]]:
        """The tree's shape and what views show; code, logs and curves stay in the database (they grow with
        every node and only a parent's are needed, see :meth:`_context`)."""
        with self.db.session_scope(readonly=True) as s:
            return _load_tree(s, campaign_id)

    def _views(self, campaign_id: str) -> list[NodeView]:
        """Views for selection. A node's child count is its trained children, or its children skipped as
        duplicates if there are more of those: a duplicate costs no training, so it does not use up the node,
        but a node whose proposals keep repeating evaluated designs has nothing new left to give, and without
        this the selectors would pick it, and its team repeat itself, for the rest of the campaign."""
        nodes, children = self._tree(campaign_id)

        def trained(node_id: int) -> int:
            kids = children.get(node_id, [])
            duplicates = sum(1 for c in kids if nodes[c].status == "skipped_duplicate")
            return max(len(kids) - duplicates, duplicates)

        return [_view(n, trained(n.id), nodes[n.parent_id].score if n.parent_id in nodes else None)
                for n in nodes.values()]

    async def _iterate(self, campaign_id: str, config: CampaignConfig, problem: Any, data: DataReport) -> None:
        while True:
            with self.db.session_scope(readonly=True) as s:
                done = repo.get_campaign(s, campaign_id).iterations_done
            iteration = done + 1
            if iteration > config.iterations:
                return
            self._check_stop(campaign_id, config)
            parents = await self._parents_for(campaign_id, config, iteration)
            if not parents:
                raise StopCampaign("completed", "no node is eligible as a parent (all failed or saturated)")
            nodes, _ = self._tree(campaign_id)
            existing = {n.parent_id: n.id for n in nodes.values() if n.iteration == iteration and n.parent_id}
            tasks = []
            for index, parent_id in enumerate(parents):
                if parent_id in existing:
                    continue  # created before an interruption; pending ones were redone already
                tasks.append(self._grow_child(campaign_id, config, problem, data, parent_id, iteration, index))
            gate = asyncio.Semaphore(config.concurrency)

            async def gated(coro):
                async with gate:
                    return await coro

            # Siblings keep running when one fails: their evaluations finish and are recorded first.
            results = await asyncio.gather(*(gated(t) for t in tasks), return_exceptions=True)
            for outcome in results:
                if isinstance(outcome, BaseException):
                    raise _as_stop(outcome)
            with self._write(campaign_id) as tx:
                repo.add_campaign_usage(tx.s, campaign_id, iterations=1)
                best = repo.get_campaign(tx.s, campaign_id).best_score
                tx.event("iteration.finished", {"iteration": iteration, "best_score": best})

    async def _parents_for(self, campaign_id: str, config: CampaignConfig, iteration: int) -> list[int]:
        with self.db.session_scope(readonly=True) as s:
            planned = [e for e in list_events(s, campaign_id, types=["iteration.parents"], limit=100000)
                       if e.payload.get("iteration") == iteration]
            if planned:
                return list(planned[-1].payload["parents"])
        views = self._views(campaign_id)
        pool = eligible(views, config.max_children)
        if not pool:
            return []
        if iteration <= config.explore_iterations:
            chosen = [v.node_id for v in pool][: max(config.parents, 1) * 2]
            how = "explore: every scored node"
        else:
            best, rest = pool[0], pool[1:]
            chosen = [best.node_id]
            if config.parents > 1 and rest:
                ballots = []
                for selector in range(config.selectors):
                    try:
                        with self._speaking(campaign_id, iteration):
                            vote = await self.team.vote(rest, config.parents - 1, selector,
                                                        config.seed * 1000 + iteration)
                        ballot = [int(n) for n in (vote.payload or {}).get("votes", [])]
                    except Exception as exc:  # noqa: BLE001 - one selector's fault loses its ballot, not the vote
                        if _is_stop(exc):
                            raise
                        self._event(campaign_id, "role.failed",
                                    {"role": "selector", "selector": selector, "iteration": iteration, **_fault(exc)})
                        continue
                    self._message(campaign_id, vote, node_id=None, iteration=iteration)
                    ballots.append(ballot)
                scores = {v.node_id: v.score for v in rest}
                picked = tally(ballots, scores, config.parents - 1)
                if len(picked) < config.parents - 1:  # ballots lost or short: the best-scored fill the places
                    picked += [n for n in sorted(scores, key=lambda n: (scores[n], n)) if n not in picked]
                chosen += picked[: config.parents - 1]
            how = "best node plus ensemble vote"
        self._event(campaign_id, "iteration.parents", {"iteration": iteration, "parents": chosen, "how": how},
                    durable=True)  # a resume keeps this choice
        return chosen

    def _context(self, campaign_id: str, problem: Any, data: DataReport, parent_id: int, iteration: int,
                 seed: int, knob_sampler: str = "tpe") -> ProposalContext:
        with self.db.session_scope(readonly=True) as s:
            nodes, children = _load_tree(s, campaign_id)
            full = repo.get_node(s, parent_id)
            code, curves = repo.node_code(full, self.store) or "", full.curves
        parent = nodes[parent_id]
        grand = nodes.get(parent.parent_id) if parent.parent_id else None
        relatives: list[NodeView] = []
        for sibling in children.get(parent.parent_id, []) if parent.parent_id else []:
            if sibling != parent_id:
                relatives.append(_view(nodes[sibling], len(children.get(sibling, [])), grand.score if grand else None))
        for child in children.get(parent_id, []):
            relatives.append(_view(nodes[child], len(children.get(child, [])), parent.score))
        if grand is not None and grand.parent_id:
            for uncle in children.get(grand.parent_id, []):
                if uncle != grand.id:
                    relatives.append(_view(nodes[uncle], len(children.get(uncle, []))))
        grand_score = grand.score if grand else None
        history = [_view(n, len(children.get(n.id, [])), nodes[n.parent_id].score if n.parent_id in nodes else None)
                   for n in nodes.values() if n.iteration < iteration and n.status in TERMINAL]
        return ProposalContext(
            problem=self._problem_view, data=data,
            parent=_view(parent, len(children.get(parent_id, [])), grand_score),
            parent_code=code, parent_logs=_records(curves), relatives=relatives, iteration=iteration,
            seed=seed, history=history, knob_sampler=knob_sampler,
        )

    async def _grow_child(self, campaign_id: str, config: CampaignConfig, problem: Any, data: DataReport,
                          parent_id: int, iteration: int, index: int) -> None:
        """One child for ``parent_id``; a proposal that duplicates an evaluated node is kept (skipped, not
        trained) and the team is asked again, with the duplicate now among the relatives it sees."""
        for attempt in range(1 + config.novelty_retries):
            self._check_stop(campaign_id, config)
            seed = config.seed * 100_003 + iteration * 101 + index + 7919 * attempt
            status = await self._propose_and_run(campaign_id, config, problem, data, parent_id, iteration, seed)
            if status != "skipped_duplicate":
                return

    async def _propose_and_run(self, campaign_id: str, config: CampaignConfig, problem: Any, data: DataReport,
                               parent_id: int, iteration: int, seed: int) -> str:
        ctx = self._context(campaign_id, problem, data, parent_id, iteration, seed, config.knob_sampler)
        try:
            with self._speaking(campaign_id, iteration, parent_id=parent_id):
                card, choice = await self._retrieve(ctx)
                if card is not None:
                    ctx.card = card
                debate = await self.team.debate(ctx, config.debate_rounds)
                code = await self.team.engineer(ctx, debate.proposal)
        except Exception as exc:  # noqa: BLE001 - whatever a role raises fails this child only
            if _is_stop(exc):
                raise
            self._record_unproduced_child(campaign_id, parent_id, iteration, exc)
            return "failed"
        proposal = self._proposal_record(debate.proposal, card)
        with self._write(campaign_id) as tx:
            node = repo.add_node(tx.s, campaign_id, parent_id=parent_id, code=code.code, operation="improve",
                                 iteration=iteration, proposal=proposal, store=self.store,
                                 proposal_text=f"{debate.proposal.title}\n\n{debate.proposal.rationale}")
            node_id = node.id
            if card is not None:
                repo.link_knowledge(tx.s, campaign_id, str(card.get("id")), "retrieved", node_id=node_id,
                                    score=card.get("score"), payload={"title": card.get("title")})
            tx.event("node.created", {"iteration": iteration, "parent_id": parent_id,
                                      "title": debate.proposal.title, "card": proposal.get("card")}, node_id=node_id)
            tx.messages([*([choice] if choice else []), *debate.messages, *code.messages], node_id=node_id,
                        iteration=iteration)
        return await self._evaluate_node(campaign_id, config, problem, data, node_id)

    async def _retrieve(self, ctx: ProposalContext) -> tuple[dict[str, Any] | None, TeamMessage | None]:
        """0 or 1 method card: memory shortlists, the team's retriever picks (or the top card is taken)."""
        cards = await self.memory.shortlist(ctx)
        pin = getattr(self.team, "pin_shortlist", None)
        if callable(pin):  # recorded with the campaign; a replay gets the recorded shortlist back
            cards = pin(ctx, cards)
        if not cards:
            return None, None
        choose = getattr(self.team, "choose_card", None)
        if choose is None:
            return cards[0], None
        return await choose(ctx, cards)

    def _record_unproduced_child(self, campaign_id: str, parent_id: int, iteration: int, exc: Exception) -> None:
        """Keep what the team said and why it produced nothing, as a failed node in the tree."""
        fault = _fault(exc)
        reason = f"the team produced no runnable candidate: {fault['error']}"
        if not _is_team_failure(exc):  # a bug in a role, not a refusal: keep where it happened
            reason += "\n\n" + fault["traceback"]
        with self._write(campaign_id) as tx:
            node = repo.add_node(tx.s, campaign_id, parent_id=parent_id, operation="improve", iteration=iteration,
                                 proposal={"title": "no proposal", "summary": "no proposal"},
                                 status="failed", error=reason[:8000])
            repo.add_campaign_usage(tx.s, campaign_id, failures=1)
            tx.messages(list(getattr(exc, "messages", None) or []), node_id=node.id, iteration=iteration)
            tx.event("node.failed", {"reason": reason[:2000], **fault}, node_id=node.id)

    @staticmethod
    def _proposal_record(proposal: Proposal, card: dict[str, Any] | None) -> dict[str, Any]:
        record = {"title": proposal.title, "summary": proposal.title, "rationale": proposal.rationale,
                  "design": proposal.design, "card": (card or {}).get("id")}
        if proposal.deliberation is not None:
            record["debate"] = proposal.deliberation
        return record

    # -- evaluation ---------------------------------------------------------------------------------------
    async def _evaluate_pending(self, campaign_id: str, config: CampaignConfig, problem: Any, data: DataReport,
                                node_ids: list[int]) -> None:
        gate = asyncio.Semaphore(config.concurrency)

        async def one(node_id: int) -> None:
            async with gate:
                await self._evaluate_node(campaign_id, config, problem, data, node_id)

        results = await asyncio.gather(*(one(n) for n in node_ids), return_exceptions=True)
        for outcome in results:
            if isinstance(outcome, BaseException):
                raise _as_stop(outcome)

    def _duplicate_of(self, s: Any, campaign_id: str, node_id: int, code: str) -> tuple[int, str] | None:
        others = [(i, h) for i, h in s.execute(
            select(Node.id, Node.code_hash).where(Node.campaign_id == campaign_id, Node.id != node_id,
                                                  Node.status.in_(("succeeded", "failed", "running")))
            .order_by(Node.id))]

        def load_code(ids: list[int]) -> dict[int, str]:
            rows = s.execute(select(Node.id, Node.code, Node.code_artifact).where(Node.id.in_(ids)))
            return {i: code if code is not None else (self.store.get_text(artifact) if artifact else "")
                    for i, code, artifact in rows}

        return self._novelty.find(code, others, load_code)

    async def _evaluate_node(self, campaign_id: str, config: CampaignConfig, problem: Any, data: DataReport,
                             node_id: int) -> str:
        """Evaluate (debugging as allowed) and record one node; returns the status it ends in."""
        with self._write(campaign_id) as tx:
            node = repo.get_node(tx.s, node_id)
            if node.status in TERMINAL:
                return node.status
            code_text = repo.node_code(node, self.store) or ""
            iteration, parent_id = node.iteration, node.parent_id
            design = (node.proposal or {}).get("design")
            title = (node.proposal or {}).get("title")
            duplicate = self._duplicate_of(tx.s, campaign_id, node_id, code_text) if parent_id else None
            if duplicate is not None:
                other, how = duplicate
                reason = f"duplicate of node {other} ({how}); not trained"
                repo.set_node_status(tx.s, node_id, "skipped_duplicate", error=reason)
                tx.event("node.skipped", {"reason": reason, "duplicate_of": other}, node_id=node_id)
                return "skipped_duplicate"
            repo.set_node_status(tx.s, node_id, "running")
            # Without a smoke run the full evaluation starts next: announced with the status change.
            announced = config.smoke_seconds <= 0
            if announced:
                tx.event("evaluation.started", {"budget": config.candidate_budget() or {}}, node_id=node_id)
        ctx: ProposalContext | None = None  # the debugger's view of the parent, built when first needed
        current = CandidateCode(code=code_text, design=design)
        attempts = 0
        evaluations = 0
        timings: dict[str, float] = {}
        while True:
            result, stage = await self._cascade(campaign_id, config, problem, node_id, current.code, timings,
                                                announced=announced)
            announced = False
            if self.cancel.is_set():
                # Interrupted, not failed: leave the node pending so a resume evaluates it from scratch.
                with self._session() as s:
                    repo.update_node(s, node_id, status="pending")
                raise StopCampaign("paused", "interrupted during an evaluation; resume to continue")
            evaluations += 1 if stage == "full" else 0
            if result.status == "succeeded":
                break
            failure = Failure(kind=result.failure, reason=result.reason, traceback=result.traceback, stage=stage)
            if attempts >= config.debug_attempts:
                break
            attempts += 1
            if ctx is None and parent_id:
                ctx = self._context(campaign_id, problem, data, parent_id, iteration, config.seed)
            debug_ctx = ctx or ProposalContext(problem=self._problem_view, data=data,
                                               parent=NodeView(node_id=node_id, status="running"),
                                               parent_code=current.code, iteration=iteration, seed=config.seed)
            try:
                with self._speaking(campaign_id, iteration, node_id=node_id):
                    fix = await self.team.debug(debug_ctx, current, failure, attempts)
                diagnosis = "the debugger found no implementation fix"
            except Exception as exc:  # noqa: BLE001 - a debugger fault ends the repair; the node keeps its failure
                if _is_stop(exc):
                    raise
                fix, diagnosis = None, f"the debugger itself failed: {_fault(exc)['error']}"
                self._event(campaign_id, "role.failed", {"role": "debugger", **_fault(exc)}, node_id=node_id)
            if fix is None:
                with self._session() as s:
                    repo.add_debug_attempt(s, node_id, current.code, traceback=failure.traceback or failure.reason,
                                           diagnosis=diagnosis, outcome="gave_up")
                break
            with self._write(campaign_id) as tx:
                repo.add_debug_attempt(tx.s, node_id, fix.code, traceback=failure.traceback or failure.reason,
                                       diagnosis=fix.notes, outcome="retrying")
                tx.event("debug.attempt", {"attempt": attempts, "failure": failure.kind,
                                           "reason": failure.reason, "diagnosis": fix.notes},
                         node_id=node_id, role="debugger")
                tx.messages(fix.messages, node_id=node_id, iteration=iteration)
            current = CandidateCode(code=fix.code, design=fix.design or current.design)
        return await self._record_result(campaign_id, problem, node_id, current, result, stage, evaluations,
                                         timings, title, parent_id)

    async def _cascade(self, campaign_id: str, config: CampaignConfig, problem: Any, node_id: int, code: str,
                       timings: dict[str, float], *, announced: bool = False) -> tuple[EvaluationResult, str]:
        """A short smoke run first (when enabled), the full budget only for code that survived it.
        ``announced``: the caller wrote this full run's ``evaluation.started`` already."""
        if config.smoke_seconds > 0:
            start = time.monotonic()
            smoke = await asyncio.to_thread(self.evaluator.evaluate, code, problem, seed=config.seed,
                                            budget=smoke_budget(config, problem), cancel=self.cancel)
            timings["smoke_s"] = timings.get("smoke_s", 0.0) + time.monotonic() - start
            self._event(campaign_id, "evaluation.smoke", {"status": smoke.status, "reason": smoke.reason,
                                                          "score": smoke.score}, node_id=node_id)
            if smoke.status != "succeeded":
                return smoke, "smoke"
        budget = config.candidate_budget()
        if not announced:
            self._event(campaign_id, "evaluation.started", {"budget": budget or {}}, node_id=node_id)
        last = {"t": 0.0}

        def on_log(record: dict[str, Any]) -> None:
            now = time.monotonic()
            if now - last["t"] >= LOG_EVENT_INTERVAL_S:
                last["t"] = now
                try:
                    self._event(campaign_id, "training.log", record, node_id=node_id)
                except LeaseLost:
                    self.cancel.set()  # stop training; the next write raises LeaseLost out of the run

        start = time.monotonic()
        result = await asyncio.to_thread(self.evaluator.evaluate, code, problem, seed=config.seed, budget=budget,
                                         on_log=on_log, cancel=self.cancel)
        timings["full_s"] = timings.get("full_s", 0.0) + time.monotonic() - start
        return result, "full"

    async def _record_result(self, campaign_id: str, problem: Any, node_id: int, code: CandidateCode,
                             result: EvaluationResult, stage: str, evaluations: int, timings: dict[str, float],
                             title: str | None, parent_id: int | None) -> str:
        from app.isolation import marks

        isolation = marks(result.protections)  # the backend this score came from, stored with it
        if isolation.get("weak_isolation") and not self._weak_allowed(config := self._config_of(campaign_id)):
            with self._session() as s:  # not scored: a resume that allows it evaluates the node again
                repo.update_node(s, node_id, status="pending")
            self._check_isolation(config, isolation["isolation"])
        curves = _curves(result.logs)
        fields: dict[str, Any] = {
            "protections": result.protections, "curves": curves, "timings": {**timings, "run": run_usage(result)},
            "logs": (result.stdout[-20000:] + ("\n--- stderr ---\n" + result.stderr[-20000:] if result.stderr else "")),
        }
        with self._write(campaign_id) as tx:
            s = tx.s
            node = repo.get_node(s, node_id)
            if code.code != (repo.node_code(node, self.store) or ""):
                fields["code"] = code.code
                fields["code_hash"] = code_fingerprint(code.code)
                if code.design is not None:
                    fields["proposal"] = {**(node.proposal or {}), "design": code.design}
            if result.status == "succeeded" and result.score is not None and math.isfinite(result.score):
                if result.predictions_npy:
                    fields["predictions_artifact"] = repo.store_artifact(
                        s, self.store, result.predictions_npy, media_type="application/x-npy")
                champion = repo.record_node_score(s, node_id, result.score, metrics={**result.metrics, **isolation})
                status = "succeeded"
                repo.set_node_status(s, node_id, status, **fields)
                repo.add_campaign_usage(s, campaign_id, evaluations=evaluations)
            else:
                champion = False
                status = "failed"
                reason = f"[{stage}] {result.failure}: {result.reason}"
                repo.set_node_status(s, node_id, status, error=reason, **fields)
                repo.add_campaign_usage(s, campaign_id, evaluations=evaluations, failures=1)
            parent = repo.get_node(s, parent_id) if parent_id else None
            parent_view = _view(parent) if parent is not None else None
            node = repo.get_node(s, node_id)
            view = _view(node, 0, parent.score if parent is not None else None)
            tx.event("evaluation.finished", {
                "status": result.status, "score": result.score, "failure": result.failure, "reason": result.reason,
                "stage": stage, "wall_seconds": result.wall_seconds, "title": title, **isolation,
            }, node_id=node_id)
            if champion:
                tx.event("champion.changed", {"score": result.score, "title": title}, node_id=node_id)
        await self._analyze(campaign_id, view, parent_view, result.logs)
        return status

    async def _analyze(self, campaign_id: str, view: NodeView, parent_view: NodeView | None,
                       logs: list[dict[str, Any]]) -> None:
        try:
            with self._speaking(campaign_id, view.iteration, node_id=view.node_id):
                analysis = await self.team.analyze_result(self._problem_view, view, logs, parent_view)
        except Exception as exc:  # noqa: BLE001 - the node's score stands without its analysis
            if _is_stop(exc):
                raise
            fault = _fault(exc)
            self._event(campaign_id, "role.failed", {"role": "result_analyst", **fault}, node_id=view.node_id)
            analysis = TeamMessage(role="result_analyst", kind="analysis",
                                   text=f"(the result analysis failed: {fault['error']})")
        with self._write(campaign_id) as tx:
            repo.update_node(tx.s, view.node_id, analysis=analysis.text)
            tx.messages([analysis], node_id=view.node_id, iteration=view.iteration)

    async def _redo_missing_analyses(self, campaign_id: str) -> None:
        """A result analysis cut short (a pause during the call, a kill -9) is written on resume: later
        proposals read it as their parent's analysis. From the stored curves (thinned to 500 points)."""
        with self.db.session_scope(readonly=True) as s:
            nodes = s.scalars(select(Node).where(
                Node.campaign_id == campaign_id, Node.status.in_(("succeeded", "failed")),
                Node.analysis.is_(None), Node.code_hash.is_not(None)).order_by(Node.id)).all()
            todo = []
            for node in nodes:
                parent = repo.get_node(s, node.parent_id) if node.parent_id else None
                todo.append((_view(node, 0, parent.score if parent is not None else None),
                             _view(parent) if parent is not None else None, _records(node.curves)))
        for view, parent_view, logs in todo:
            await self._analyze(campaign_id, view, parent_view, logs)

    # -- champion -----------------------------------------------------------------------------------------
    async def _reevaluate_champion(self, campaign_id: str, config: CampaignConfig, problem: Any) -> None:
        """Re-run the champion (``champion_by=score``) or the ``reeval_top`` best nodes (``seed_mean``) on
        the extra seeds. Under ``seed_mean`` the best mean over all seeds becomes the champion: one seed's
        luck no longer decides. Nodes already re-run (a resume) keep their record."""
        seeds = extra_seeds(config.seed, config.reeval_seeds)
        if not seeds:
            return
        with self.db.session_scope(readonly=True) as s:
            campaign = repo.get_campaign(s, campaign_id)
            if config.champion_by == "seed_mean":
                nodes = list(s.scalars(select(Node).where(
                    Node.campaign_id == campaign_id, Node.status == "succeeded", Node.score.is_not(None))
                    .order_by(Node.score, Node.id)))
                nodes = [n for n in nodes if math.isfinite(n.score)][: config.reeval_top]
            else:
                champion = repo.get_node(s, campaign.champion_node_id) if campaign.champion_node_id else None
                nodes = [champion] if champion is not None else []
            todo = [(n.id, repo.node_code(n, self.store), n.score) for n in nodes if not (n.metrics or {}).get("reeval")]
            records = {n.id: (n.metrics or {})["reeval"] for n in nodes if (n.metrics or {}).get("reeval")}
        budget = config.candidate_budget()
        for node_id, code, base_score in todo:
            scores: dict[str, float | None] = {str(config.seed): base_score}
            for seed in seeds:
                result = await asyncio.to_thread(self.evaluator.evaluate, code, problem, seed=seed,
                                                 budget=budget, cancel=self.cancel)
                scores[str(seed)] = result.score
            finite = [v for v in scores.values() if v is not None and math.isfinite(v)]
            reeval = {
                "scores_by_seed": scores, "mean": statistics.fmean(finite) if finite else None,
                "std": statistics.pstdev(finite) if len(finite) > 1 else 0.0,
                "failed_seeds": len(scores) - len(finite),
            }
            records[node_id] = reeval
            with self._session() as s:
                node = repo.get_node(s, node_id)
                repo.update_node(s, node_id, metrics={**(node.metrics or {}), "reeval": reeval})
            self._event(campaign_id, "node.reevaluated" if config.champion_by == "seed_mean"
                        else "champion.reevaluated", reeval, node_id=node_id)
        if config.champion_by == "seed_mean" and records:
            # A node that failed on a seed ranks behind every node that ran on all of them.
            best = min(records, key=lambda n: (records[n]["failed_seeds"] > 0,
                                               records[n]["mean"] if records[n]["mean"] is not None else math.inf, n))
            with self._session() as s:
                campaign, node = repo.get_campaign(s, campaign_id), repo.get_node(s, best)
                changed = campaign.champion_node_id != best
                campaign.champion_node_id, campaign.best_score = best, node.score
            self._event(campaign_id, "champion.chosen", {
                "by": "seed_mean", "seeds": [config.seed, *seeds], "mean": records[best]["mean"],
                "candidates": sorted(records), "changed": changed}, node_id=best)

    async def _grow_memory(self, campaign_id: str, problem: Any, data: DataReport) -> None:
        """The champion's method becomes a discovered card that later campaigns can retrieve."""
        if self.card_sink is None:
            return
        from app.campaigns.discovered import build_discovered_card

        try:
            card = build_discovered_card(self.db, self.store, campaign_id,
                                         self._problem_view, data.report)
            if card is None:
                self._event(campaign_id, "memory.unchanged", {"reason": "the champion is the root"})
                return
            await asyncio.to_thread(self.card_sink, card)
        except Exception as exc:  # noqa: BLE001 - memory is a by-product; the campaign's result stands
            self._event(campaign_id, "memory.failed", {"reason": f"{type(exc).__name__}: {exc}"})
            return
        with self._session() as s:
            repo.link_knowledge(s, campaign_id, card.id, "discovered", node_id=card.provenance["node_id"],
                                payload={"title": card.title,
                                         "improvement_factor": card.provenance.get("improvement_factor")})
        self._event(campaign_id, "memory.card_added", {"card_id": card.id, "title": card.title},
                    node_id=card.provenance["node_id"])

    # -- reporting ----------------------------------------------------------------------------------------
    def summary(self, campaign_id: str) -> dict[str, Any]:
        return campaign_summary(self.db, campaign_id)


def campaign_summary(db: Database, campaign_id: str) -> dict[str, Any]:
    from app.isolation import campaign_isolation

    with db.session_scope(readonly=True) as s:
        campaign = repo.get_campaign(s, campaign_id)
        if campaign is None:
            raise LookupError(f"no campaign {campaign_id!r}")
        root = repo.get_node(s, campaign.root_node_id) if campaign.root_node_id else None
        champion = repo.get_node(s, campaign.champion_node_id) if campaign.champion_node_id else None
        state = campaign.config.get("_state", {})
        root_score = root.score if root else None
        champion_score = champion.score if champion else None
        factor = (root_score / champion_score) if root_score and champion_score else None
        return {
            "campaign_id": campaign.id,
            "problem": campaign.config.get("problem"),
            "status": campaign.status,
            "root_score": root_score,
            "champion_score": champion_score,
            "champion_node_id": champion.id if champion else None,
            "improvement_factor": factor,
            "iterations": campaign.iterations_done,
            "evaluations": campaign.evaluations,
            "failures": campaign.failures,
            "wall_seconds": round(state.get("active_seconds", 0.0), 2),
            "error": campaign.error,
            "champion_reeval": (champion.metrics or {}).get("reeval") if champion else None,
            "champion_selection": champion_selection(campaign.config),
            "isolation": campaign_isolation(s, campaign),
            "created_at": campaign.created_at.isoformat() if campaign.created_at else None,
            "debates": debate_counts(s, campaign_id),
        }


def champion_selection(config: dict[str, Any]) -> dict[str, Any]:
    """How the champion was picked, in words and fields, so a reader knows what its score means."""
    seed = config.get("seed", 0)
    seeds = extra_seeds(seed, config.get("reeval_seeds") or [])
    if config.get("champion_by") == "seed_mean" and seeds:
        top = int(config.get("reeval_top", 3))
        return {"by": "seed_mean", "seeds": [seed, *seeds], "candidates": top,
                "text": f"best mean over seeds {[seed, *seeds]} of the {top} best single-seed nodes"}
    text = f"best single-seed score (seed {seed})"
    if seeds:
        text += f"; re-run on seeds {seeds} afterwards (shown, not used to choose)"
    return {"by": "score", "seeds": [seed], "candidates": None, "text": text}


def debate_counts(s: Any, campaign_id: str) -> dict[str, Any]:
    """How many debates were held and how many changed the opening plan (switched the move, dropped a
    change, or asked for other numbers), by verdict; plus the children whose numbers a sampler chose.
    Only teams that report their deliberation are counted (the LLM team's debate is free text)."""
    rows = s.execute(select(Node.proposal).where(Node.campaign_id == campaign_id, Node.parent_id.is_not(None)))
    held = changed = sampled = 0
    verdicts: dict[str, int] = {}
    for (proposal,) in rows:
        record = (proposal or {}).get("debate")
        if not isinstance(record, dict):
            continue
        held += 1
        verdict = str(record.get("verdict", "accepted"))
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
        changed += bool(record.get("changed"))
        sampled += bool(record.get("sampled"))
    return {"held": held, "changed_plan": changed, "verdicts": verdicts, "numbers_sampled": sampled}


# A provider refusing requests for these reasons is fixed outside the campaign (a key, credits, access, a
# model name): the campaign pauses and resumes where it stopped once that is done.
_PAUSE_ON_STATUS = frozenset({401, 402, 403, 404})


def _is_stop(exc: BaseException) -> bool:
    """Whether ``exc`` must end this run rather than one child: the stop rules (budget, pause on provider
    trouble, cancel), a lost lease, and the engine's own storage failing. Everything else a role raises --
    a bug in the offline team, an LLM answer that cannot be used, a provider refusing one request -- costs
    the child (or the ballot, or the analysis) it happened in."""
    if isinstance(exc, (StopCampaign, LeaseLost, SQLAlchemyError)):
        return True
    return isinstance(_as_stop(exc), StopCampaign)


def _fault(exc: BaseException) -> dict[str, str]:
    """What is kept of a role's fault: the error line and the traceback's last 6000 characters."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {"error": f"{type(exc).__name__}: {exc}"[:2000], "traceback": text[-6000:]}


def _is_team_failure(exc: BaseException) -> bool:
    """The team could not produce this child: it fails, the campaign goes on. That includes a provider
    rejecting this particular request (400, 413, 422: a prompt too long for the model, a content filter),
    which would fail again on every resume if it paused the campaign."""
    from agents.llm import LLMTeamError
    from agents.providers import ProviderRequestError

    if isinstance(exc, ProviderRequestError):
        return exc.status not in _PAUSE_ON_STATUS
    return isinstance(exc, LLMTeamError)


def _as_stop(exc: BaseException) -> BaseException:
    """Provider trouble pauses the campaign and a spent budget ends it; anything else is a real error.

    Pausing covers the provider being unreachable or failing after the last retry, and refusals fixed
    outside the campaign: a revoked key (401), spent credits (402), no access (403), a renamed model
    (404), a key variable that is not set. A paused campaign resumes where it stopped; a failed one would
    be lost work.
    """
    from agents.providers import BudgetExceeded, ProviderConfigError, ProviderRequestError, ProviderUnavailable

    if isinstance(exc, BudgetExceeded):
        return StopCampaign("completed", f"budget reached, no new proposals: {exc}")
    if isinstance(exc, ProviderUnavailable):
        return StopCampaign("paused", f"LLM provider unavailable, campaign paused (resume when it is back): {exc}")
    if isinstance(exc, ProviderConfigError) or (isinstance(exc, ProviderRequestError)
                                                and exc.status in _PAUSE_ON_STATUS):
        return StopCampaign("paused", f"LLM provider refused the request, campaign paused (fix the provider "
                                      f"configuration, then resume): {exc}")
    return exc


def _records(curves: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Columns of a stored curve back into log records."""
    if not curves:
        return []
    length = max((len(v) for v in curves.values() if isinstance(v, list)), default=0)
    return [{k: v[i] for k, v in curves.items() if isinstance(v, list) and i < len(v) and v[i] is not None}
            for i in range(length)]


def _curves(logs: list[dict[str, Any]]) -> dict[str, Any]:
    """Training curves as columns (step, t and every metric), thinned to at most 500 points."""
    if not logs:
        return {}
    stride = max(1, math.ceil(len(logs) / 500))
    picked = logs[::stride]
    if picked[-1] is not logs[-1]:
        picked.append(logs[-1])
    keys = sorted({k for record in picked for k in record})
    return {k: [record.get(k) for record in picked] for k in keys}


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
