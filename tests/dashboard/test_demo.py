"""`agentic-sciml serve --demo` (what scripts/demo.sh runs): a campaign queued at start-up, its page's address
printed; in-process with the server stubbed (fast), and for real in a subprocess (slow)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import app as cli
from app.db import repository as repo
from app.db.session import Database
from app.settings import Settings
from tests.api.fakes import REPO
from tests.api.harness import wait_for


@pytest.fixture
def demo_env(tmp_path, monkeypatch):
    import app.cli_service as service_cli
    import app.workers.pool as pool_module
    import uvicorn

    settings = Settings(data_dir=tmp_path / "data")
    served = {}
    monkeypatch.setattr(service_cli, "get_settings", lambda: settings)
    monkeypatch.setattr(pool_module.WorkerPool, "from_settings", classmethod(lambda cls, *a, **k: None))
    monkeypatch.setattr(uvicorn, "run", lambda application, **kwargs: served.update(app=application, **kwargs))
    return settings, served


def test_demo_queues_a_campaign_and_prints_its_address(demo_env):
    settings, served = demo_env
    result = CliRunner().invoke(cli, ["serve", "--demo", "--port", "8123"])
    assert result.exit_code == 0, result.output
    match = re.search(r"dashboard: http://127\.0\.0\.1:8123/ui/campaigns/([A-Za-z0-9_-]+)", result.stdout)
    assert match, result.output
    assert served["host"] == "127.0.0.1" and served["port"] == 8123
    assert served["app"].state.ctx.service.embedded, "the demo needs no key"
    served["app"].state.ctx.db.dispose()
    db = Database(settings.resolved_database_url)
    try:
        with db.session_scope(readonly=True) as s:
            campaign = repo.get_campaign(s, match.group(1))
            assert campaign.name == "demo: discontinuous_fit1d" and campaign.config["team"] == "offline"
            assert campaign.config["iterations"] == 3 and campaign.config["candidate_seconds"] == 15
            from app.workers.queue import live_item

            assert live_item(s, campaign.id) is not None, "queued for the server's worker"
    finally:
        db.dispose()


def test_demo_refuses_an_unknown_problem_and_a_public_address(demo_env):
    _, served = demo_env
    bad = CliRunner().invoke(cli, ["serve", "--demo", "--demo-problem", "no_such_problem"])
    assert bad.exit_code == 2 and "unknown problem 'no_such_problem'" in bad.output
    public = CliRunner().invoke(cli, ["serve", "--demo", "--host", "0.0.0.0"])
    assert public.exit_code == 2 and "loopback" in public.output
    assert not served, "no server was started"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_demo_script_command_serves_a_running_campaign(tmp_path):
    """The real command: sandboxed evaluations, one worker; the scripted team keeps it short."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO), "AGENTIC_SCIML_DATA_DIR": str(tmp_path / "data"),
           "AGENTIC_SCIML_TEAM_FACTORY": "tests.api.fakes:scripted_team", "AGENTIC_SCIML_EMBEDDER": "hashing"}
    proc = subprocess.Popen([sys.executable, "-c", "import app.cli; app.cli.main()", "serve", "--demo", "--port",
                             str(port)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        cid = re.search(rf"dashboard: http://127\.0\.0\.1:{port}/ui/campaigns/(\S+)", line).group(1)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _get(base, "/healthz"), timeout=120, interval=0.5, message="the server")
        assert "<script type=\"module\"" in httpx.get(f"{base}/ui/campaigns/{cid}").text
        scored = wait_for(lambda: (_get(base, f"/v1/campaigns/{cid}") or {}).get("best_score"), timeout=300,
                          interval=1, message="the demo's first scored node")
        assert scored > 0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _get(base: str, path: str):
    try:
        r = httpx.get(base + path, timeout=5)
        return r.json() if r.status_code == 200 else None
    except httpx.HTTPError:
        return None
