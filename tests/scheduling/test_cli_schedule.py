"""The ``schedule`` and ``batch`` commands: in process for the many cases, and (slow) a real ``batch run`` through
the installed script with the offline team and the sandbox. (``test_race.py`` runs ``schedule daemon`` through
the installed script too.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_BATCH = REPO / "examples" / "batch.yaml"
EXAMPLE_PROBLEM = REPO / "problems" / "examples" / "damped_oscillator"
SCRIPT = shutil.which("agentic-sciml", path=os.path.dirname(sys.executable)) or "agentic-sciml"


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """The agentic-sciml CLI, in process, on a data directory (and SQLite database) of its own."""
    from typer.testing import CliRunner

    import app.cli
    from app.settings import get_settings

    monkeypatch.setenv("AGENTIC_SCIML_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app.cli.app, [str(a) for a in args])
    get_settings.cache_clear()


def test_schedule_add_list_pause_resume_show_delete(cli):
    added = cli("schedule", "add", "--name", "nightly", "--cron", "0 3 * * *", "--timezone", "Europe/Paris",
                "--batch", EXAMPLE_BATCH, "--missed", "run_once", "--json")
    assert added.exit_code == 0, added.output
    created = json.loads(added.stdout)
    assert (created["name"], created["cron"], created["timezone"], created["missed"]) == \
        ("nightly", "0 3 * * *", "Europe/Paris", "run_once")
    assert created["next_run_at"] and created["last_run"] is None and created["source"] == "cli"

    listed = json.loads(cli("schedule", "list", "--json").stdout)["schedules"]
    assert [s["name"] for s in listed] == ["nightly"]
    assert {"id", "name", "cron", "timezone", "paused", "next_run_at", "last_run"} <= set(listed[0])

    assert cli("schedule", "pause", "nightly").exit_code == 0
    assert json.loads(cli("schedule", "list", "--json").stdout)["schedules"][0]["paused"] is True
    text = cli("schedule", "list").stdout
    assert "nightly" in text and "paused" in text
    resumed = cli("schedule", "resume", str(created["id"]))
    assert resumed.exit_code == 0 and "next run" in resumed.stdout
    shown = json.loads(cli("schedule", "show", "nightly", "--json").stdout)
    assert shown["paused"] is False and shown["batch"]["name"] == "fit-and-operator" and shown["recent_firings"] == []

    again = cli("schedule", "add", "--name", "nightly", "--cron", "0 4 * * *", "--batch", EXAMPLE_BATCH)
    assert again.exit_code == 2 and "exists already" in again.stderr
    assert cli("schedule", "delete", "nightly").exit_code == 0
    assert json.loads(cli("schedule", "list", "--json").stdout)["schedules"] == []
    for command in (["pause"], ["resume"], ["delete"], ["show", "--json"]):
        gone = cli("schedule", *command[:1], "nightly", *command[1:])
        assert gone.exit_code == 2 and "no schedule 'nightly'" in gone.stderr, command


def test_schedule_add_refuses_bad_input_with_exit_2(cli, tmp_path):
    def add(*extra, batch=EXAMPLE_BATCH):
        base = {"--name": "n", "--cron": "0 3 * * *", "--batch": batch}
        args = []
        for key, value in base.items():
            if key not in extra:
                args += [key, value]
        return cli("schedule", "add", *args, *extra)

    out = add("--missed", "sometimes")
    assert out.exit_code == 2 and "--missed must be 'skip' or 'run_once'" in out.stderr
    out = add("--cron", "61 * * * *")
    assert out.exit_code == 2 and out.stderr.startswith("error: --cron:")
    out = add("--cron", "* * * * *")  # every minute is allowed by default; every second is not
    assert out.exit_code == 0, out.output
    out = add("--name", "m", "--cron", "* * * * * *")
    assert out.exit_code == 2 and "at most one run per 60 s" in out.stderr
    out = add("--name", "m", "--timezone", "Mars/Olympus")
    assert out.exit_code == 2 and out.stderr.startswith("error: --timezone: unknown timezone")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\nproblems: [discontinuous_fit1d]\nteams: [{name: t, iterations: -1}]\n")
    out = add("--name", "m", "--batch", bad)
    assert out.exit_code == 2 and f"{bad}: field 'teams[0].iterations'" in out.stderr
    bad.write_text("name: b\nproblems: [discontinuous_fit1d, nope]\n")
    out = add("--name", "m", "--batch", bad)
    assert out.exit_code == 2 and f"{bad}: field 'problems[1].problem': unknown problem 'nope'" in out.stderr
    out = add("--name", "m", "--batch", tmp_path / "missing.yaml")
    assert out.exit_code == 2 and "no such file" in out.stderr
    assert [s["name"] for s in json.loads(cli("schedule", "list", "--json").stdout)["schedules"]] == ["n"]


def test_schedule_update_changes_it_in_place(cli, tmp_path):
    created = json.loads(cli("schedule", "add", "--name", "nightly", "--cron", "0 3 * * *", "--batch",
                             EXAMPLE_BATCH, "--json").stdout)
    cli("schedule", "add", "--name", "taken", "--cron", "0 4 * * *", "--batch", EXAMPLE_BATCH)
    other = tmp_path / "other.yaml"
    other.write_text("name: other\nproblems: [discontinuous_fit1d]\nteams: [{name: quick, iterations: 1}]\n")

    out = cli("schedule", "update", "nightly", "--cron", "15 6 * * *", "--timezone", "Europe/Paris",
              "--batch", other, "--overlap", "allow", "--json")
    assert out.exit_code == 0, out.output
    changed = json.loads(out.stdout)
    assert (changed["id"], changed["cron"], changed["timezone"], changed["overlap"]) == (
        created["id"], "15 6 * * *", "Europe/Paris", "allow")
    assert changed["next_run_at"] != created["next_run_at"]
    renamed = cli("schedule", "update", str(created["id"]), "--name", "morning")
    assert renamed.exit_code == 0 and "'morning' updated" in renamed.stdout
    assert json.loads(cli("schedule", "show", "morning", "--json").stdout)["batch"]["name"] == "other"

    for args, message in ((["--name", "taken"], "exists already"), ([], "nothing to change"),
                          (["--cron", "61 * * * *"], "--cron:"), (["--missed", "often"], "--missed must be"),
                          (["--batch", tmp_path / "missing.yaml"], "no such file")):
        out = cli("schedule", "update", "morning", *args)
        assert out.exit_code == 2 and message in out.stderr, (args, out.output)
    gone = cli("schedule", "update", "nightly", "--cron", "0 5 * * *")
    assert gone.exit_code == 2 and "no schedule 'nightly'" in gone.stderr
    final = json.loads(cli("schedule", "show", "morning", "--json").stdout)
    assert (final["cron"], final["timezone"]) == ("15 6 * * *", "Europe/Paris")


def test_batch_commands_on_bad_input(cli, tmp_path):
    assert json.loads(cli("batch", "list", "--json").stdout) == {"batches": []}
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\nproblems: [discontinuous_fit1d]\nbudget: {max_cost_usd: -1}\n")
    out = cli("batch", "run", bad, "--json")
    assert out.exit_code == 2 and f"{bad}: field 'budget.max_cost_usd'" in out.stderr
    assert json.loads(out.stdout) == {"error": out.stderr.strip().removeprefix("error: ")}
    out = cli("batch", "show", "nope")
    assert out.exit_code == 2 and "no batch 'nope'" in out.stderr
    out = cli("batch", "resume", "nope")
    assert out.exit_code == 2


@pytest.mark.slow  # real campaigns: the offline team, sandboxed evaluation, two problems
def test_batch_run_with_the_offline_team_prints_the_summary(tmp_path):
    batch = tmp_path / "batch.yaml"
    batch.write_text(f"""
name: cli-batch
problems:
  - discontinuous_fit1d
  - {EXAMPLE_PROBLEM}
teams:
  - name: quick
    iterations: 1
    parents: 1
defaults: {{candidate_seconds: 5, smoke_seconds: 1}}
budget: {{max_wall_seconds: 600}}
""")
    env = {**os.environ, "AGENTIC_SCIML_DATA_DIR": str(tmp_path / "data"), "AGENTIC_SCIML_EMBEDDER": "hashing"}
    env.pop("DATABASE_URL", None)
    out = subprocess.run([SCRIPT, "batch", "run", str(batch), "--json"], capture_output=True, text=True, env=env,
                         timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert summary["status"] == "completed" and summary["final"] is True and not summary["interrupted"]
    assert [r["status"] for r in summary["rows"]] == ["completed", "completed"]
    assert all(r["champion_score"] <= r["root_score"] for r in summary["rows"])
    assert all(0 < r["wall_seconds"] for r in summary["rows"])
    report = Path(summary["report_path"]).read_text()
    assert all(r["campaign_id"] in report for r in summary["rows"])
    shown = subprocess.run([SCRIPT, "batch", "show", summary["batch_id"]], capture_output=True, text=True, env=env,
                           timeout=300)
    assert shown.returncode == 0 and shown.stdout.strip() == report.strip()
    listed = json.loads(subprocess.run([SCRIPT, "batch", "list", "--json"], capture_output=True, text=True, env=env,
                                       timeout=300).stdout)["batches"]
    assert [(b["id"], b["finished"], b["campaigns"]) for b in listed] == [(summary["batch_id"], 2, 2)]
