"""How many transactions the engine commits per node, and which of them give up the WAL flush.

Each commit costs a WAL flush on PostgreSQL (issue 15: 83 ms of engine time per node with ~16 commits
per node). This counts COMMITs over a tiny campaign driven by the real ``LLMTeam`` against a fake
OpenAI server, so that a change which adds transactions per node (a new live write, a step split in
two) fails here instead of showing up in the orchestration benchmark. No timings are asserted.

It also pins the durability trade-off of ``engine._relax_durability``: on PostgreSQL the transactions
that write only the log (events, messages and their usage) commit with ``synchronous_commit = off``;
a transaction that creates a node or changes a status, a score or the iteration count never does.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from agents.llm import LLMTeam
from agents.providers import UsageLedger
from app.campaigns.config import CampaignConfig
from app.campaigns.engine import CampaignEngine
from app.campaigns.service import create_campaign
from app.db import repository as repo
from app.db.artifacts import ArtifactStore
from app.db.session import Database, upgrade_database
from tests.api.fakes import InlineEvaluator
from tests.fakes.openai_server import FakeOpenAIServer
from tests.llm.helpers import InstantSleep, providers_config
from tests.llm.test_engine_with_llm_team import Router

EXAMPLE = str(Path(__file__).resolve().parents[2] / "problems" / "examples" / "damped_oscillator")
# Measured (2 iterations x 2 parents, 1 selector, 2 debate rounds: 4 nodes): 53 commits, 13.25 per node on
# both back ends, when each LLM answer had a transaction of its own; 36 (9 per node) since answers that
# complete close together wait in the engine's live buffer and share their step's transaction. The bound
# leaves room for one more small write per node, not for a step split into several transactions.
MAX_COMMITS_PER_NODE = 10.5
RELAXED = ("SET LOCAL synchronous_commit = off", "set_config(%(set_config_1)s, %(set_config_2)s, %(set_config_3)s)")


def _relaxes(statement: str, parameters: Any) -> bool:
    """A plain SET LOCAL, or the fence's SELECT carrying ``set_config('synchronous_commit', 'off', true)``."""
    if statement == RELAXED[0]:
        return True
    return RELAXED[1] in statement and (parameters or {}).get("set_config_1") == "synchronous_commit" \
        and (parameters or {}).get("set_config_2") == "off"
def _is_log_write(statement: str, parameters: Any) -> bool:
    """A statement of a log-only transaction: the fence, the async-commit setting, a message row, an event
    with its sequence bump (and usage), or adopting stored messages into their node."""
    return (_relaxes(statement, parameters) or statement.startswith(("SELECT work_items", "INSERT INTO messages",
                                                                     "UPDATE messages SET node_id"))
            or (statement.startswith("WITH bumped AS (UPDATE campaigns") and "INSERT INTO events" in statement))


def _debate_rows(parameters: Any) -> int:
    """How many proposer or critic rows one message INSERT (single- or multi-row) carries."""
    values = parameters.values() if isinstance(parameters, dict) else parameters or ()
    return sum(1 for v in values if v in ("proposer", "critic"))


def _writes_event(tx: list[tuple[str, Any]], types: tuple[str, ...]) -> bool:
    return any(isinstance(params, dict) and params.get("ev_type") in types for _, params in tx)


# Events a resume reads back (the parents an iteration chose): durable although they are log rows.
READ_ON_RESUME = ("iteration.parents",)
# Columns whose loss in a server crash would make a resume see a state that never was; the counters among
# them are bumped by one shared usage UPDATE, so for those it is the amount added that must be zero.
DURABLE_COLUMNS = re.compile(r"\b(status|score|best_score|champion_node_id|analysis|code)\s*=")
DURABLE_COUNTERS = ("add_iterations_done", "add_evaluations", "add_failures")


class Transactions:
    """The statements of every committed transaction on one engine, in order."""

    def __init__(self, db: Database) -> None:
        self.committed: list[list[tuple[str, Any]]] = []
        self._current: list[tuple[str, Any]] = []
        event.listen(db.engine, "begin", self._begin)
        event.listen(db.engine, "after_cursor_execute", self._statement)
        event.listen(db.engine, "commit", self._commit)

    def _begin(self, _conn: Any) -> None:
        self._current = []

    def _statement(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        self._current.append((" ".join(statement.split()), parameters))

    def _commit(self, _conn: Any) -> None:
        self.committed.append(self._current)
        self._current = []


def _url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return f"sqlite:///{tmp_path / 'db.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")


def _fence(db: Database, engine: CampaignEngine, campaign_id: str) -> None:
    """Fence every write by a lease, as a worker of the service does (the async commit then rides on it)."""
    with db.session_scope() as s:
        repo.enqueue(s, "campaign.run", campaign_id=campaign_id)
    with db.session_scope() as s:
        lease = repo.claim(s, "test", lease_seconds=3600)
    engine.fence = lambda session: repo.assert_held(session, lease.item_id, lease.lease_token)


@pytest.mark.parametrize("backend,fenced", [("sqlite", False), ("sqlite", True), ("postgres", False),
                                            ("postgres", True)])
def test_commits_per_node_stay_within_budget(tmp_path: Path, backend: str, fenced: bool,
                                             request: pytest.FixtureRequest) -> None:
    url = _url(backend, tmp_path, request)
    upgrade_database(url)
    db = Database(url)
    config = CampaignConfig(problem=EXAMPLE, iterations=2, parents=2, selectors=1, smoke_seconds=0,
                            debate_rounds=2, candidate_seconds=20, memory="none")
    campaign_id = create_campaign(db, config)
    with FakeOpenAIServer(default=Router()) as srv:
        team = LLMTeam(providers_config(srv.base_url), UsageLedger(), campaign_id=campaign_id, sleep=InstantSleep())
        engine = CampaignEngine(db, ArtifactStore(tmp_path / "artifacts"), InlineEvaluator(tmp_path / "cache"), team)
        if fenced:
            _fence(db, engine, campaign_id)
        txs = Transactions(db)
        try:
            summary = asyncio.run(engine.run(campaign_id))
        finally:
            asyncio.run(team.aclose())
    with db.session_scope(readonly=True) as s:
        nodes = repo.list_nodes(s, campaign_id)
    db.dispose()
    assert summary["status"] == "completed" and len(nodes) >= 4

    per_node = len(txs.committed) / len(nodes)
    assert per_node <= MAX_COMMITS_PER_NODE, f"{len(txs.committed)} commits for {len(nodes)} nodes"

    # The fake answers faster than LIVE_FLUSH_S: a debate's answers share a transaction (mostly the one
    # that creates their child) instead of one transaction per answer, and one INSERT writes them.
    debate_rows = [sum(_debate_rows(params) for st, params in tx if st.startswith("INSERT INTO messages"))
                   for tx in txs.committed]
    assert sum(debate_rows) >= 6  # three children at least, three debate messages each
    assert sum(1 for n in debate_rows if n) < sum(debate_rows) / 2, debate_rows

    relaxed = [tx for tx in txs.committed if any(_relaxes(st, params) for st, params in tx)]
    if backend == "sqlite":
        assert not relaxed  # SQLite has no such setting; synchronous=NORMAL covers every transaction
        return
    # Every transaction that writes only the log (events, messages and the usage they add) is relaxed ...
    log_only = [tx for tx in txs.committed if all(_is_log_write(st, params) for st, params in tx)]
    assert log_only and all(tx in relaxed for tx in log_only if not _writes_event(tx, READ_ON_RESUME))
    # ... and none of them writes what a resume relies on.
    for tx in relaxed:
        for statement, parameters in tx:
            assert not statement.startswith(("INSERT INTO nodes", "DELETE")), statement
            if statement.startswith("UPDATE"):
                set_clause = statement.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
                assert not DURABLE_COLUMNS.search(set_clause), statement
                assert not any((parameters or {}).get(name) for name in DURABLE_COUNTERS), (statement, parameters)
    # The setting is applied once per relaxed transaction, by the fence's own SELECT where there is one.
    for tx in relaxed:
        carriers = [st for st, params in tx if _relaxes(st, params)]
        assert len(carriers) == 1, carriers
        assert carriers[0].startswith("SELECT work_items") == fenced, carriers[0]
    # Every node's creation and result were durable commits.
    durable = [[st for st, _ in tx] for tx in txs.committed if tx not in relaxed]
    assert sum(any(st.startswith("INSERT INTO nodes") for st in tx) for tx in durable) == len(nodes)
    assert sum(any(re.search(r"UPDATE nodes SET .*\bstatus=", st) for st in tx) for tx in durable) >= len(nodes)
