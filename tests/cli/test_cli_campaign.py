"""A small real discovery campaign through the installed CLI: offline team, sandbox, SQLite, export."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = shutil.which("agentic-sciml", path=os.path.dirname(sys.executable)) or "agentic-sciml"
EXAMPLE = str(Path(__file__).resolve().parents[2] / "problems" / "examples" / "damped_oscillator")
QUICK = ["--iterations", "1", "--parents", "1", "--candidate-seconds", "3", "--smoke-seconds", "1"]


def env_for(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "AGENTIC_SCIML_DATA_DIR": str(data_dir), "AGENTIC_SCIML_EMBEDDER": "hashing"}


def cli(data_dir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env_for(data_dir), timeout=timeout)


def test_run_list_show_export(tmp_path):
    out = cli(tmp_path, "run", "--problem", EXAMPLE, *QUICK, "--json", "--export", str(tmp_path / "export"))
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    for key in ("campaign_id", "status", "root_score", "champion_score", "champion_node_id", "iterations",
                "evaluations", "failures", "wall_seconds"):
        assert key in summary
    assert summary["status"] == "completed" and summary["iterations"] == 1
    assert summary["champion_score"] <= summary["root_score"]
    assert Path(summary["report"]).is_file()
    campaign_id = summary["campaign_id"]

    listed = json.loads(cli(tmp_path, "list", "--json").stdout)["campaigns"]
    assert [c["campaign_id"] for c in listed] == [campaign_id]
    shown = json.loads(cli(tmp_path, "show", campaign_id, "--json").stdout)
    assert shown["nodes"][0]["parent_id"] is None and len(shown["nodes"]) >= 2
    text = cli(tmp_path, "show", campaign_id).stdout
    assert "★" in text and "#1 [it 0]" in text

    export = cli(tmp_path, "export", campaign_id, str(tmp_path / "again"))
    assert export.returncode == 0
    assert {"champion.py", "report.md", "lineage.json", "best_score.png"} <= {p.name for p in (tmp_path / "again").iterdir()}

    resumed = cli(tmp_path, "resume", campaign_id)
    assert resumed.returncode == 2 and "nothing to resume" in resumed.stderr


def test_interrupt_then_resume(tmp_path):
    proc = subprocess.Popen([SCRIPT, "run", "--problem", EXAMPLE, "--iterations", "0", "--parents", "1",
                             "--candidate-seconds", "4", "--smoke-seconds", "0"],
                            env=env_for(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    seen = ""
    while time.monotonic() < deadline and "training" not in seen:
        line = proc.stderr.readline()
        assert line or proc.poll() is None, seen
        seen += line
    proc.send_signal(signal.SIGINT)  # a person pressing Ctrl-C
    stdout, stderr = proc.communicate(timeout=120)
    assert "paused" in stdout + stderr
    campaign_id = json.loads(cli(tmp_path, "list", "--json").stdout)["campaigns"][0]["campaign_id"]
    assert json.loads(cli(tmp_path, "show", campaign_id, "--json").stdout)["status"] == "paused"
    resumed = cli(tmp_path, "resume", campaign_id, "--json")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final = json.loads(resumed.stdout)
    assert final["status"] == "completed" and final["iterations"] == 0
    assert final["root_score"] is not None  # the interrupted root was trained again, to the end


def test_bad_run_arguments(tmp_path):
    out = cli(tmp_path, "run", "--problem", "nope")
    assert out.returncode == 2 and "unknown problem" in out.stderr
    out = cli(tmp_path, "run", "--problem", EXAMPLE, "--parents", "0")
    assert out.returncode == 2 and "parents" in out.stderr
    out = cli(tmp_path, "show", "doesnotexist")
    assert out.returncode == 2 and "no campaign" in out.stderr
