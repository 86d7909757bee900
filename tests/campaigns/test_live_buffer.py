"""The engine's live buffer of LLM answers: a failed flush keeps what it could not store."""

from __future__ import annotations

import contextlib
from pathlib import Path

from app.campaigns.config import CampaignConfig
from app.campaigns.engine import CampaignEngine, _Speaking
from app.campaigns.service import create_campaign
from app.db import repository as repo
from app.db.artifacts import ArtifactStore
from app.db.session import Database, upgrade_database
from agents.team import TeamMessage

EXAMPLE = str(Path(__file__).resolve().parents[2] / "problems" / "examples" / "damped_oscillator")


def test_a_failed_flush_puts_the_answers_back_and_the_next_one_stores_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade_database(url)
    db = Database(url)
    campaign_id = create_campaign(db, CampaignConfig(problem=EXAMPLE, iterations=1, memory="none"))
    engine = CampaignEngine(db, ArtifactStore(tmp_path / "artifacts"), evaluator=None, team=object())
    scope = _Speaking(campaign_id, 1, parent_id=None)
    answers = [TeamMessage(role="critic", text=f"answer {i}", tokens_in=3) for i in range(2)]
    engine._live = [(scope, msg, None) for msg in answers]
    real_write = engine._write

    @contextlib.contextmanager
    def broken(*_args, **_kwargs):
        raise OSError("database went away")
        yield

    engine._write = broken
    engine._flush_live_quietly()  # the timer's flush: the failure is swallowed ...
    assert [msg for _, msg, _ in engine._live] == answers  # ... and nothing left the buffer
    engine._write = real_write
    engine._flush_live()
    assert engine._live == [] and all(msg._stored_id is not None for msg in answers)
    assert scope.stored == [msg._stored_id for msg in answers]
    with db.session_scope(readonly=True) as s:
        assert [m.text for m in repo.list_messages(s, campaign_id)] == ["answer 0", "answer 1"]
        assert repo.get_campaign(s, campaign_id).tokens_in == 6
    db.dispose()
