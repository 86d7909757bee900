"""The real thing, slow: `agentic-sciml serve` in a subprocess, candidates in the real sandbox."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from app.api.auth import create_key
from app.db.session import Database, upgrade_database
from tests.api.fakes import REPO
from tests.api.harness import small_campaign, upload_example, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_runs_a_sandboxed_campaign_and_stops_on_sigterm(tmp_path):
    url = f"sqlite:///{tmp_path / 'service.db'}"
    upgrade_database(url)
    key = create_key(Database(url), name="e2e", scope="write").key
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "AGENTIC_SCIML_DATA_DIR": str(tmp_path / "data"),
           "DATABASE_URL": url, "AGENTIC_SCIML_TEAM_FACTORY": "tests.api.fakes:scripted_team",
           "AGENTIC_SCIML_WARM_WORKERS": "1", "AGENTIC_SCIML_EMBEDDER": "hashing",
           "AGENTIC_SCIML_HEARTBEAT_SECONDS": "1"}
    server = subprocess.Popen([sys.executable, "-c", "import app.cli, app.cli_service; app.cli.main()", "serve",
                               "--port", str(port), "--workers", "1"], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(base), timeout=120, interval=0.5, message="the server")
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
            assert upload_example(c).status_code == 201
            cid = c.post("/v1/campaigns", json=small_campaign(iterations=1)).json()["id"]
            done = wait_for(lambda: (r := c.get(f"/v1/campaigns/{cid}").json())["status"] in ("completed", "failed")
                            and r, timeout=300, interval=1, message="the sandboxed campaign")
            assert done["status"] == "completed" and done["best_score"] < done["root_score"]
            node = c.get(f"/v1/campaigns/{cid}/nodes/{done['champion']['node_id']}").json()
            assert node["protections"] and "in-process" not in str(node["protections"])
            assert c.get("/v1/readyz").json()["workers_alive"] == 1
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            output = server.communicate(timeout=60)[0].decode()
        except subprocess.TimeoutExpired:
            server.kill()
            raise
    assert server.returncode in (0, -signal.SIGTERM), output[-3000:]


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
