"""Round trips through the models and the repository, and the ON DELETE rules, on both back ends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError

from app.db import repository as repo
from app.db.artifacts import ArtifactStore
from app.db.errors import NotFound
from app.db.fingerprint import code_fingerprint
from app.db.models import (
    Campaign,
    CampaignStatus,
    DebugAttempt,
    Event,
    KnowledgeLink,
    KnowledgeLinkKind,
    Message,
    Node,
    NodeStatus,
    Problem,
    ProblemSource,
    WorkItem,
    WorkStatus,
)
from app.db.session import Database

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)


def _campaign(db: Database, **kwargs: object) -> str:
    with db.session_scope() as s:
        problem = repo.upsert_problem(s, "burgers_1d", kind="pde", spec={"nu": 0.01, "grid": [256, 100]})
        return repo.create_campaign(s, problem.id, config={"budget": 3}, seed=7, **kwargs).id


def test_full_round_trip(db: Database) -> None:
    with db.session_scope() as s:
        user = repo.create_user(s, "ada", is_admin=True)
        key = repo.add_api_key(s, user.id, key_prefix="ask_ab12", key_hash="h" * 64, scopes=["write", "read"])
        problem = repo.upsert_problem(
            s, "darcy", kind="operator", spec={"res": 64, "nested": {"a": [1, 2.5]}}
        )
        campaign = repo.create_campaign(s, problem.id, config={"iterations": 5}, seed=3, owner_id=user.id)
        root = repo.add_node(
            s,
            campaign.id,
            code="def solve(task):\n    return 0\n",
            proposal_text="a small FNO",
            proposal={"method": "fno", "modes": 12},
            operation="draft",
        )
        child = repo.add_node(s, campaign.id, parent_id=root.id, code="x = 1", iteration=1)
        repo.update_node(
            s,
            child.id,
            metrics={"rel_l2": 0.1, "per_field": {"u": 0.1}},
            curves={"loss": [1.0, 0.5, 0.25]},
            logs="epoch 1 ...",
            analysis="converges",
            protections={"seccomp": True, "network": False},
            timings={"train": 1.5, "score": 0.1},
        )
        repo.add_debug_attempt(s, child.id, "x = ", traceback="SyntaxError", diagnosis="truncated")
        repo.add_debug_attempt(s, child.id, "x = 1", outcome="succeeded")
        repo.add_message(
            s,
            campaign.id,
            "critic",
            "too many modes",
            node_id=child.id,
            iteration=1,
            model="offline",
            prompt_version="critic@3",
            tokens_in=100,
            tokens_out=20,
            latency_s=0.5,
            cost_usd=0.01,
        )
        repo.link_knowledge(s, campaign.id, "fno-basics", "retrieved", node_id=child.id, score=0.8, rank=1)
        repo.append_event(
            s, campaign.id, "node.created", {"node": child.id}, node_id=child.id, role="engineer"
        )
        ids = (user.id, key.id, campaign.id, root.id, child.id)

    user_id, key_id, campaign_id, root_id, child_id = ids
    with db.session_scope(readonly=True) as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        assert campaign.config == {"iterations": 5} and campaign.seed == 3
        assert campaign.status == CampaignStatus.CREATED
        assert campaign.root_node_id == root_id and campaign.owner_id == user_id
        assert campaign.problem.spec == {"res": 64, "nested": {"a": [1, 2.5]}}
        assert (campaign.tokens_in, campaign.tokens_out) == (100, 20)
        assert campaign.cost_usd == pytest.approx(0.01)
        assert campaign.created_at.tzinfo is not None and campaign.created_at.utcoffset() == timedelta(0)

        child = s.get(Node, child_id)
        assert child is not None
        assert child.parent_id == root_id and child.depth == 1 and child.iteration == 1
        assert child.parent is not None and child.parent.proposal == {"method": "fno", "modes": 12}
        assert child.curves == {"loss": [1.0, 0.5, 0.25]}
        assert child.protections == {"seccomp": True, "network": False}
        assert child.code_hash == code_fingerprint("x = 1")
        assert [a.attempt for a in child.attempts] == [1, 2]
        assert child.attempts[0].traceback == "SyntaxError"
        assert (child.tokens_in, child.tokens_out) == (100, 20)

        key = repo.get_api_key_by_prefix(s, "ask_ab12")
        assert key is not None and key.id == key_id and key.scopes == ["read", "write"]
        assert key.user.is_admin

        (message,) = repo.list_messages(s, campaign_id)
        assert (message.role, message.prompt_version, message.latency_s) == ("critic", "critic@3", 0.5)
        (link,) = repo.list_knowledge_links(s, node_id=child_id)
        assert (link.card_id, link.kind, link.score) == ("fno-basics", "retrieved", 0.8)
        (event,) = repo.list_events(s, campaign_id)
        assert (event.seq, event.type, event.role, event.payload) == (
            1,
            "node.created",
            "engineer",
            {"node": child_id},
        )


def test_timestamps_are_utc_and_naive_is_refused(db: Database) -> None:
    campaign_id = _campaign(db)
    plus_two = timezone(timedelta(hours=2))
    with db.session_scope() as s:
        repo.set_campaign_status(s, campaign_id, "running", now=T0.astimezone(plus_two))
    with db.session_scope(readonly=True) as s:
        started = s.get(Campaign, campaign_id).started_at  # type: ignore[union-attr]
        assert started == T0 and started.tzinfo is not None and started.utcoffset() == timedelta(0)
    with pytest.raises(StatementError, match="naive datetime"):
        with db.session_scope() as s:
            repo.set_campaign_status(s, campaign_id, "cancelled", now=datetime(2026, 1, 1))  # noqa: DTZ001
            s.flush()


def test_status_check_constraints(db: Database) -> None:
    campaign_id = _campaign(db)
    with pytest.raises(IntegrityError):
        with db.session_scope() as s:
            s.execute(text("UPDATE campaigns SET status = 'exploded' WHERE id = :id"), {"id": campaign_id})
    with pytest.raises(ValueError):
        with db.session_scope() as s:
            repo.add_node(s, campaign_id, status="done-ish")


def test_check_constraints_accept_exactly_the_enum_values(db: Database) -> None:
    """The migration's CHECK lists must agree with the Python enums (autogenerate cannot see them)."""
    campaign_id = _campaign(db)
    with db.session_scope() as s:
        node_id = repo.add_node(s, campaign_id).id
        link_id = repo.link_knowledge(s, campaign_id, "card", "retrieved").id
        item_id = repo.enqueue(s, "evaluate").id
        problem_id = repo.get_problem_by_name(s, "burgers_1d").id  # type: ignore[union-attr]
    columns = [
        ("campaigns", "status", campaign_id, CampaignStatus),
        ("nodes", "status", node_id, NodeStatus),
        ("work_items", "status", item_id, WorkStatus),
        ("problems", "source", problem_id, ProblemSource),
        ("knowledge_links", "kind", link_id, KnowledgeLinkKind),
    ]
    for table, column, row_id, values in columns:
        statement = text(f"UPDATE {table} SET {column} = :value WHERE id = :id")
        with db.session_scope() as s:
            for value in values:
                assert s.execute(statement, {"value": value.value, "id": row_id}).rowcount == 1
        with pytest.raises(IntegrityError):
            with db.session_scope() as s:
                s.execute(statement, {"value": "bogus", "id": row_id})


def test_campaign_lifecycle_timestamps(db: Database) -> None:
    campaign_id = _campaign(db)
    with db.session_scope() as s:
        repo.set_campaign_status(s, campaign_id, CampaignStatus.RUNNING, now=T0)
        repo.set_campaign_status(s, campaign_id, CampaignStatus.PAUSED, now=T0 + timedelta(seconds=5))
        repo.set_campaign_status(s, campaign_id, CampaignStatus.RUNNING, now=T0 + timedelta(seconds=9))
        campaign = repo.set_campaign_status(
            s, campaign_id, CampaignStatus.FAILED, error="budget", now=T0 + timedelta(seconds=20)
        )
        assert campaign.started_at == T0
        assert campaign.finished_at == T0 + timedelta(seconds=20)
        assert campaign.error == "budget"
        with pytest.raises(NotFound):
            repo.set_campaign_status(s, "nope", CampaignStatus.RUNNING)


def test_node_status_timings_and_champion(db: Database) -> None:
    campaign_id = _campaign(db)
    with db.session_scope() as s:
        a = repo.add_node(s, campaign_id, code="a = 1")
        b = repo.add_node(s, campaign_id, code="b = 2", parent_id=a.id)
        c = repo.add_node(s, campaign_id, code="c = 3", parent_id=a.id)
        repo.set_node_status(s, a.id, NodeStatus.RUNNING, now=T0)
        node = repo.set_node_status(s, a.id, NodeStatus.SUCCEEDED, now=T0 + timedelta(seconds=2.5))
        assert node.wall_seconds == pytest.approx(2.5) and node.finished_at == T0 + timedelta(seconds=2.5)
        assert repo.record_node_score(s, a.id, 0.5, metrics={"rel_l2": 0.5}) is True
        assert repo.record_node_score(s, b.id, 0.7) is False  # worse
        assert repo.record_node_score(s, c.id, 0.2) is True
        assert repo.record_node_score(s, b.id, float("inf")) is False
        with pytest.raises(ValueError):
            repo.record_node_score(s, b.id, float("nan"))
        for node_id in (b.id, c.id):
            repo.set_node_status(s, node_id, NodeStatus.SUCCEEDED)
        repo.add_campaign_usage(s, campaign_id, evaluations=3, failures=1, iterations=2)
        ids = (a.id, b.id, c.id)
    with db.session_scope(readonly=True) as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        assert campaign.champion_node_id == ids[2] and campaign.best_score == pytest.approx(0.2)
        assert (campaign.evaluations, campaign.failures, campaign.iterations_done) == (3, 1, 2)
        assert [n.id for n in repo.best_nodes(s, campaign_id)] == [ids[2], ids[0], ids[1]]
        assert [n.id for n in repo.list_nodes(s, campaign_id, parent_id=ids[0])] == [ids[1], ids[2]]


def test_loaded_campaign_sees_atomic_updates(db: Database) -> None:
    """Counters are changed by UPDATE statements; an object already in the session must not go stale."""
    campaign_id = _campaign(db)
    with db.session_scope() as s:
        campaign = repo.get_campaign(s, campaign_id)
        assert campaign is not None and campaign.evaluations == 0
        node = repo.add_node(s, campaign_id, code="a = 1")
        repo.add_campaign_usage(s, campaign_id, evaluations=2, cost_usd=1.5)
        repo.record_node_score(s, node.id, 0.3)
        repo.append_event(s, campaign_id, "x")
        assert campaign.evaluations == 2 and campaign.cost_usd == pytest.approx(1.5)
        assert campaign.best_score == pytest.approx(0.3) and campaign.champion_node_id == node.id
        assert campaign.last_event_seq == 1


def test_duplicate_detection_by_code_hash(db: Database) -> None:
    campaign_id = _campaign(db)
    other_id = _campaign(db)
    original = "def solve(task):\n    '''Fit.'''\n    return task.x * 2  # double\n"
    reformatted = "def solve(task):\n\n    return task.x*2\n"
    different = "def solve(task):\n    return task.x * 3\n"
    assert code_fingerprint(original) == code_fingerprint(reformatted)
    assert code_fingerprint(original) != code_fingerprint(different)
    assert code_fingerprint("def broken(:\n  x") == code_fingerprint("def broken(:   \n  x\n")

    with db.session_scope() as s:
        first = repo.add_node(s, campaign_id, code=original)
        dup = repo.add_node(s, campaign_id, code=reformatted, status=NodeStatus.SKIPPED_DUPLICATE)
        repo.add_node(s, other_id, code=original)
        found = repo.find_node_by_code_hash(s, campaign_id, code_fingerprint(reformatted))
        assert found is not None and found.id == first.id
        assert repo.find_node_by_code_hash(s, campaign_id, code_fingerprint(different)) is None
        assert (
            repo.find_node_by_code_hash(s, campaign_id, dup.code_hash or "", exclude_node_id=first.id) is None
        )


def test_large_code_goes_to_the_artifact_store(db: Database, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "blobs")
    campaign_id = _campaign(db)
    big = "# padding\n" * 2000 + "def solve(task):\n    return 1\n"
    with db.session_scope() as s:
        node = repo.add_node(s, campaign_id, code=big, store=store, inline_limit=1024)
        small = repo.add_node(s, campaign_id, code="x = 1", store=store, inline_limit=1024)
        node_id, small_id = node.id, small.id
    with db.session_scope(readonly=True) as s:
        node = repo.get_node(s, node_id)
        assert node is not None and node.code is None and node.code_artifact is not None
        assert repo.node_code(node, store) == big
        artifact = repo.get_artifact(s, node.code_artifact)
        assert artifact is not None and artifact.size_bytes == len(big.encode())
        assert artifact.media_type == "text/x-python"
        with pytest.raises(ValueError):
            repo.node_code(node)
        assert repo.node_code(repo.get_node(s, small_id)) == "x = 1"  # type: ignore[arg-type]
    # The artifact row cannot be deleted while a node points at it.
    with pytest.raises(IntegrityError):
        with db.session_scope() as s:
            s.execute(text("DELETE FROM artifacts"))


def test_store_artifact_dedups_rows(db: Database, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "blobs")
    with db.session_scope() as s:
        first = repo.store_artifact(s, store, b"predictions", media_type="application/x-npy")
        second = repo.store_artifact(s, store, b"predictions")
        assert first == second
    with db.session_scope(readonly=True) as s:
        assert s.scalar(text("SELECT COUNT(*) FROM artifacts")) == 1


def test_add_node_rejects_foreign_parent_and_unknown_fields(db: Database) -> None:
    one, two = _campaign(db), _campaign(db)
    with db.session_scope() as s:
        parent = repo.add_node(s, one, code="a = 1")
        with pytest.raises(ValueError):
            repo.add_node(s, two, parent_id=parent.id)
        with pytest.raises(TypeError):
            repo.add_node(s, one, colour="blue")
        with pytest.raises(TypeError):
            repo.update_node(s, parent.id, id=99)
        with pytest.raises(NotFound):
            repo.add_node(s, "missing")


def test_deleting_a_campaign_cascades(db: Database) -> None:
    campaign_id = _campaign(db)
    with db.session_scope() as s:
        node = repo.add_node(s, campaign_id, code="a = 1")
        repo.add_node(s, campaign_id, parent_id=node.id, code="b = 1")
        repo.add_debug_attempt(s, node.id, "a = ")
        repo.add_message(s, campaign_id, "engineer", "hi", node_id=node.id)
        repo.append_event(s, campaign_id, "e", node_id=node.id)
        repo.link_knowledge(s, campaign_id, "card", "discovered", node_id=node.id)
        repo.enqueue(s, "evaluate", {"node": node.id}, campaign_id=campaign_id)
        repo.record_node_score(s, node.id, 0.1)
    with db.session_scope() as s:
        # A bulk DELETE, so only the database's ON DELETE rules can clean up.
        s.execute(text("DELETE FROM campaigns WHERE id = :id"), {"id": campaign_id})
    with db.session_scope(readonly=True) as s:
        for model in (Node, DebugAttempt, Message, Event, KnowledgeLink, WorkItem):
            assert s.scalars(select(model)).all() == [], model.__name__
        assert s.scalars(select(Problem)).all() != []  # the problem stays


def test_restrict_and_set_null_rules(db: Database) -> None:
    with db.session_scope() as s:
        user_id = repo.create_user(s, "grace").id
    campaign_id = _campaign(db, owner_id=user_id)
    with db.session_scope() as s:
        root = repo.add_node(s, campaign_id, code="a = 1")
        child = repo.add_node(s, campaign_id, parent_id=root.id, code="b = 1")
        repo.record_node_score(s, root.id, 0.3)
        message = repo.add_message(s, campaign_id, "analyst", "good", node_id=root.id)
        ids = (root.id, child.id, message.id)
    root_id, child_id, message_id = ids

    with pytest.raises(IntegrityError):  # a problem with campaigns cannot go
        with db.session_scope() as s:
            s.execute(text("DELETE FROM problems"))

    with db.session_scope() as s:
        s.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})
        s.execute(text("DELETE FROM nodes WHERE id = :id"), {"id": root_id})
    with db.session_scope(readonly=True) as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        assert campaign.owner_id is None
        assert campaign.root_node_id is None and campaign.champion_node_id is None
        assert s.get(Node, child_id).parent_id is None  # type: ignore[union-attr]
        assert s.get(Message, message_id).node_id is None  # type: ignore[union-attr]


def test_api_key_cascades_with_user_and_prefix_is_unique(db: Database) -> None:
    with db.session_scope() as s:
        user = repo.create_user(s, "linus")
        repo.add_api_key(s, user.id, key_prefix="ask_1", key_hash="a" * 64)
        user_id = user.id
    with pytest.raises(IntegrityError):
        with db.session_scope() as s:
            repo.add_api_key(s, user_id, key_prefix="ask_1", key_hash="b" * 64)
    with db.session_scope() as s:
        s.execute(text("DELETE FROM users"))
    with db.session_scope(readonly=True) as s:
        assert repo.get_api_key_by_prefix(s, "ask_1") is None


def test_upsert_problem_updates_in_place(db: Database) -> None:
    with db.session_scope() as s:
        first = repo.upsert_problem(s, "heat", kind="pde", spec={"v": 1})
        second = repo.upsert_problem(s, "heat", kind="pde", spec={"v": 2}, source="user")
        assert first.id == second.id
    with db.session_scope(readonly=True) as s:
        problem = repo.get_problem_by_name(s, "heat")
        assert problem is not None and problem.spec == {"v": 2} and problem.source == "user"


def test_list_campaigns_filters(db: Database) -> None:
    first = _campaign(db, name="first")
    second = _campaign(db, name="second")
    with db.session_scope() as s:
        repo.set_campaign_status(s, second, "running")
    with db.session_scope(readonly=True) as s:
        assert {c.id for c in repo.list_campaigns(s)} == {first, second}
        assert [c.id for c in repo.list_campaigns(s, statuses=["running"])] == [second]
