"""`agentic-sciml replay ID` through the installed CLI: record an LLM campaign against a fake OpenAI server,
then replay it with no server at all and check that it rebuilds the same tree with the same scores.

The replay is stored beside the original in the same database, so its nodes get new ids; the prompts must
still match the recording byte for byte (strict mode), which is what the node aliasing in the replay
command is for. The root is the best polynomial degree and every child is worse, so the champion stays
the root and the campaign adds no discovered card to the method memory. (A grown memory would not break the
replay either: the recording holds the shortlists the retriever saw, see
``tests/llm/test_engine_with_llm_team.py``.)
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.campaigns.scripted_team import poly
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.script import Reply
from tests.llm.helpers import last_user_text, proposal_json, role_of

SCRIPT = shutil.which("agentic-sciml", path=os.path.dirname(sys.executable)) or "agentic-sciml"
EXAMPLE = str(Path(__file__).resolve().parents[2] / "problems" / "examples" / "damped_oscillator")
# Root + one child in iteration 1, then the best node plus one voted parent in iteration 2: selectors vote
# on node ids, which is where a replay under new ids would go wrong.
CAMPAIGN = ["--problem", EXAMPLE, "--iterations", "2", "--parents", "2", "--debate-rounds", "2",
            "--candidate-seconds", "5", "--smoke-seconds", "0"]


class Router:
    """An answer for every role, computed from the request (the server's only state is a counter)."""

    def __init__(self) -> None:
        self.degrees = itertools.count(1)

    def __call__(self, req) -> Reply:
        role, user = role_of(req), last_user_text(req)
        if role == "root_engineer":
            return Reply("Degree 9 fits the curve best.\n\n```python\n" + poly(9) + "```", input_tokens=900)
        if role == "retriever":
            return Reply('```json\n{"card": null, "reason": "none of these fits a polynomial baseline"}\n```')
        if role == "proposer":
            if "final round" in user:
                return Reply(proposal_json(title="Another polynomial degree",
                                           rationale="Try a different DEGREE to see how the error responds."))
            return Reply("Plan: change the module constant DEGREE and nothing else.")
        if role == "engineer":
            current = re.search(r"DEGREE = (\d+)", user).group(1)
            return Reply(f"<<<<<<< SEARCH\nDEGREE = {current}\n=======\nDEGREE = {next(self.degrees)}\n"
                         ">>>>>>> REPLACE\n", output_tokens=30)
        if role == "selector":
            ids = [int(i) for i in re.findall(r"^node (\d+):", user, re.MULTILINE)]
            return Reply(json.dumps({"votes": ids[-1:], "reason": "the least explored node"}))
        if role == "debugger":
            return Reply("GIVE UP: nothing to fix")
        return Reply(f"{role}: the numbers speak for themselves.")


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "AGENTIC_SCIML_DATA_DIR": str(data_dir), "AGENTIC_SCIML_EMBEDDER": "hashing"}
    env.pop("DATABASE_URL", None)  # the SQLite file in this test's data dir
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env, timeout=300)


def _tree(data_dir: Path, campaign_id: str) -> dict:
    """What `agentic-sciml show ID --json` prints, read in this process (a CLI start costs seconds)."""
    from app.campaigns.engine import campaign_summary
    from app.campaigns.report import tree_rows
    from app.db.session import Database

    from app.db import repository as repo

    db = Database(f"sqlite:///{data_dir / 'agentic_sciml.db'}")
    try:
        with db.session_scope(readonly=True) as s:
            said = sorted((m.role, m.kind or "", m.text) for m in repo.list_messages(s, campaign_id)
                          if m.role != "selector")  # a ballot's text names the real (new) node ids
        return {**campaign_summary(db, campaign_id), "nodes": tree_rows(db, campaign_id), "said": said}
    finally:
        db.dispose()


def _shape(nodes: list[dict]) -> list[tuple]:
    """The tree without its ids: each node as (iteration, parent's position, status, score, title)."""
    position = {n["node_id"]: i for i, n in enumerate(nodes)}
    return [(n["iteration"], position.get(n["parent_id"]), n["status"], n["score"], n["title"]) for n in nodes]


def _record(tmp_path: Path) -> tuple[dict, Path, int]:
    """Runs the campaign against the fake server through the CLI; returns its summary, recording, calls."""
    with FakeOpenAIServer(default=Router()) as srv:
        providers = tmp_path / "providers.yaml"
        providers.write_text("roles:\n  default:\n    provider: openai\n    model: fake-coder\n"
                             f"    base_url: {srv.base_url}\n    read_timeout_s: 30\n")
        run = _cli(tmp_path, "run", *CAMPAIGN, "--team", "llm", "--providers", str(providers), "--json")
        assert run.returncode == 0, run.stderr[-3000:]
        calls = len(srv.requests)
    original = json.loads(run.stdout)
    assert original["status"] == "completed" and original["iterations"] == 2, original
    return original, tmp_path / "recordings" / f"{original['campaign_id']}.jsonl", calls


def test_replay_rebuilds_the_recorded_campaign_offline(tmp_path) -> None:
    original, recording, calls = _record(tmp_path)
    recorded_text = recording.read_text()
    lines = [json.loads(line) for line in recorded_text.splitlines()[1:]]
    exchanges = [line for line in lines if line["type"] == "exchange"]
    assert {line["type"] for line in lines} == {"exchange", "shortlist"}  # and what memory offered
    assert len(exchanges) == calls and {"selector", "engineer", "result_analyst"} <= {e["role"] for e in exchanges}

    # The server is closed: every answer must now come from the recording.
    replay = _cli(tmp_path, "replay", original["campaign_id"], "--json")
    assert replay.returncode == 0, replay.stderr[-3000:]
    replayed = json.loads(replay.stdout)
    assert replayed["replay_of"] == original["campaign_id"] and replayed["campaign_id"] != original["campaign_id"]
    assert replayed["status"] == "completed"

    before, after = _tree(tmp_path, original["campaign_id"]), _tree(tmp_path, replayed["campaign_id"])
    assert len(before["nodes"]) == 4 and {n["node_id"] for n in before["nodes"]}.isdisjoint(
        n["node_id"] for n in after["nodes"])  # new ids in the same database
    assert _shape(after["nodes"]) == _shape(before["nodes"])
    assert after["said"] == before["said"] and len(before["said"]) >= 10
    for key in ("root_score", "champion_score", "iterations", "evaluations", "failures"):
        assert after[key] == before[key], key
    assert recording.read_text() == recorded_text  # replaying appends nothing


@pytest.mark.slow  # a second CLI campaign: the fast suite keeps only the one above
def test_a_recording_that_no_longer_matches_stops_a_strict_replay_readably(tmp_path) -> None:
    original, recording, _ = _record(tmp_path)
    lines = recording.read_text().splitlines()
    first = json.loads(lines[1])
    first["request_hash"] = "0" * 64  # as if the data analyst's prompt had changed since the recording
    recording.write_text("\n".join([lines[0], json.dumps(first), *lines[2:]]) + "\n")
    diverged = _cli(tmp_path, "replay", original["campaign_id"])
    assert diverged.returncode == 1 and "Traceback" not in diverged.stderr, diverged.stderr[-3000:]
    assert "replay diverged" in diverged.stderr and "'data_analyst'" in diverged.stderr
    assert "--lenient" in diverged.stderr
