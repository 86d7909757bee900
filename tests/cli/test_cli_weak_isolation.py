"""Weak isolation is never silent on the command line (issue 13, item 2).

With a sandbox weaker than bubblewrap (forced here with ``AGENTIC_SCIML_SANDBOX_MODE``), ``evaluate``,
``run``, ``resume`` and ``batch run`` exit 2 naming the backend and ``--allow-weak-isolation``; with the flag
they run, and every score says where it came from: ``isolation`` / ``weak_isolation`` in the JSON output, a
mark in the text output, the tree and the exported report.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sandbox.isolation import probe
from tests.cli.test_cli_campaign import EXAMPLE, SCRIPT

QUICK = ["--iterations", "0", "--candidate-seconds", "4", "--smoke-seconds", "0"]


def cli(data_dir: Path, *args: str, mode: str = "none", allow: str | None = "0",
        timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "AGENTIC_SCIML_DATA_DIR": str(data_dir), "AGENTIC_SCIML_EMBEDDER": "hashing",
           "AGENTIC_SCIML_SANDBOX_MODE": mode}
    env.pop("AGENTIC_SCIML_ALLOW_WEAK_ISOLATION", None)
    if allow is not None:
        env["AGENTIC_SCIML_ALLOW_WEAK_ISOLATION"] = allow
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env, timeout=timeout)


def _refused(out: subprocess.CompletedProcess, backend: str) -> None:
    assert out.returncode == 2, out.stderr[-2000:]
    assert f"'{backend}'" in out.stderr and "--allow-weak-isolation" in out.stderr and "bubblewrap" in out.stderr
    assert "Traceback" not in out.stderr


def test_evaluate_refuses_a_weak_backend_then_runs_marked_with_the_flag(tmp_path):
    refused = cli(tmp_path, "evaluate", "-p", EXAMPLE, "--wall-seconds", "5", "--json")
    _refused(refused, "none")
    assert "allow-weak-isolation" in json.loads(refused.stdout)["error"]

    out = cli(tmp_path, "evaluate", "-p", EXAMPLE, "--wall-seconds", "5", "--json", "--allow-weak-isolation")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["status"] == "succeeded" and result["score"] is not None
    assert result["isolation"] == "none" and result["weak_isolation"] is True
    assert result["protections"]["backend"] == "none" and result["protections"]["strength"] == "weak"

    # The setting allows it as well; the text output marks the score.
    text = cli(tmp_path, "evaluate", "-p", EXAMPLE, "--wall-seconds", "5", allow="1")
    assert text.returncode == 0, text.stderr[-2000:]
    assert "[WEAK ISOLATION: none]" in text.stdout and "isolation:   none (WEAK" in text.stdout
    assert "warning: candidates run with the weak isolation backend 'none'" in text.stderr


@pytest.mark.skipif(not probe().bwrap_works, reason="bubblewrap cannot run on this machine")
def test_evaluate_under_bubblewrap_needs_no_flag_and_is_marked_strong(tmp_path):
    out = cli(tmp_path, "evaluate", "-p", EXAMPLE, "--wall-seconds", "5", "--json", mode="auto")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["isolation"] == "bwrap" and result["weak_isolation"] is False


def test_campaign_refuses_then_runs_marked_and_resume_needs_consent(tmp_path):
    refused = cli(tmp_path, "run", "--problem", EXAMPLE, *QUICK, "--json", mode="unshare")
    _refused(refused, "unshare")
    assert json.loads(cli(tmp_path, "list", "--json").stdout)["campaigns"] == []  # nothing was created

    out = cli(tmp_path, "run", "--problem", EXAMPLE, *QUICK, "--json", "--allow-weak-isolation",
              "--export", str(tmp_path / "export"), mode="unshare")
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert summary["status"] == "completed" and summary["root_score"] is not None
    assert summary["isolation"] == {"backends": {"unshare": 1}, "weak_scores": 1, "weak_isolation": True,
                                    "allow_weak_isolation": True}
    report = (tmp_path / "export" / "report.md").read_text()
    assert "**WEAK ISOLATION**" in report and "unshare (1)" in report
    tree = json.loads((tmp_path / "export" / "tree.json").read_text())
    assert tree[0]["isolation"] == "unshare" and tree[0]["weak_isolation"] is True

    campaign_id = summary["campaign_id"]
    shown = cli(tmp_path, "show", campaign_id, mode="unshare")
    assert "WEAK ISOLATION: 1 score(s)" in shown.stdout and "[WEAK ISOLATION: unshare]" in shown.stdout


def test_resume_refuses_a_campaign_that_did_not_allow_it_until_the_flag_is_given(tmp_path):
    from app.campaigns.config import CampaignConfig
    from app.campaigns.service import create_campaign, open_database
    from app.settings import Settings

    db = open_database(Settings(data_dir=tmp_path))
    campaign_id = create_campaign(db, CampaignConfig(problem=EXAMPLE, iterations=0, candidate_seconds=4,
                                                     smoke_seconds=0))
    db.dispose()
    _refused(cli(tmp_path, "resume", campaign_id), "none")
    out = cli(tmp_path, "resume", campaign_id, "--json", "--allow-weak-isolation")
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert summary["status"] == "completed" and summary["isolation"]["weak_isolation"] is True
    assert summary["isolation"]["allow_weak_isolation"] is True  # the consent is stored with the campaign


def test_batch_run_refuses_then_marks_the_report(tmp_path):
    batch = tmp_path / "batch.json"
    batch.write_text(json.dumps({"name": "weak", "problems": [EXAMPLE],
                                 "defaults": {"iterations": 0, "candidate_seconds": 4, "smoke_seconds": 0,
                                              "memory": "none"}}))
    _refused(cli(tmp_path, "batch", "run", str(batch), "--json"), "none")
    out = cli(tmp_path, "batch", "run", str(batch), "--json", "--allow-weak-isolation")
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    row = summary["rows"][0]
    assert row["weak_isolation"] is True and row["isolation"] == {"none": 1}
    report = Path(summary["report_path"]).read_text()
    assert "## Weak isolation" in report and "(weak isolation)" in report
