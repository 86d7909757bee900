"""The compose topology without Docker: PostgreSQL, the migrate step, the API and two workers on loopback.

Every process is started with the same command line the compose file gives its service (the installed
``agentic-sciml`` script), against a fresh PostgreSQL schema and one shared data directory (the artefacts
volume). The Ray variant adds a local Ray cluster (head plus a worker node) and runs the campaign workers
as Ray drivers, as the compose file does. Candidates are the scripted team's, in the real sandbox.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.api.harness import small_campaign, upload_example, wait_for

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "agentic-sciml")
from tests.postgres import PG_BASE  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]


@pytest.fixture
def pg_url():
    schema = f"t_deploy_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_BASE, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - no server: skip
        admin.dispose()
        pytest.skip(f"PostgreSQL unreachable at {PG_BASE}: {type(exc).__name__}")
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Started subprocesses, stopped with SIGTERM (then SIGKILL) at the end; their output kept for failures."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen:
        out = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen([CLI, *args], cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [CLI, *args], cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def output(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-4000:]

    def stop(self) -> dict[str, int | None]:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = {}
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait(10)
        return codes


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_api_two_workers_and_postgres_run_campaigns_to_completion(executor, pg_url, tmp_path):
    with ExitStack() as stack:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "DATABASE_URL": pg_url,
            "AGENTIC_SCIML_DATA_DIR": str(tmp_path / "data"),
            "AGENTIC_SCIML_EMBEDDER": "hashing",
            "SCRIPTED_DELAY": "1",
            "EXECUTOR": "local",
        }
        env.pop("RAY_ADDRESS", None)
        if executor == "ray":
            pytest.importorskip("ray")
            from tests.executors.ray_cluster import local_ray_cluster

            cluster = stack.enter_context(local_ray_cluster(worker_cpus=(2,)))
            env.update(
                {k: os.environ[k] for k in ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "RAY_USAGE_STATS_ENABLED")}
            )
            worker_env = {"EXECUTOR": "ray", "RAY_ADDRESS": cluster.address}
        else:
            worker_env = {}
        logs = tmp_path / "logs"
        logs.mkdir()
        procs = Processes(env, logs)
        worker_procs = Processes({**env, **worker_env}, logs)
        stack.callback(worker_procs.stop)
        stack.callback(procs.stop)

        migrated = procs.run("db", "upgrade", "--wait-seconds", "30")
        assert migrated.returncode == 0, migrated.stderr
        created = procs.run("keys", "create", "--name", "deploy-test", "--scope", "write", "--json")
        assert created.returncode == 0, created.stderr
        key = json.loads(created.stdout)["key"]

        port = free_port()
        procs.start("api", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "0")
        for name in ("w1", "w2"):
            worker_procs.start(
                name,
                "worker",
                "--threads",
                "1",
                "--name",
                name,
                "--lease-seconds",
                "10",
                "--heartbeat-seconds",
                "1",
                "--poll-seconds",
                "0.5",
                "--team-factory",
                "tests.api.fakes:scripted_team",
            )
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
            wait_for(
                lambda: _ready(c, 2),
                timeout=180,
                interval=0.5,
                message=f"the API and two workers ({procs.output('api')[-500:]})",
            )
            alive = procs.run("db", "workers", "--json")
            assert alive.returncode == 0 and len(json.loads(alive.stdout)["workers"]) == 2
            assert upload_example(c).status_code == 201
            ids = [c.post("/v1/campaigns", json=small_campaign(iterations=1)).json()["id"] for _ in range(2)]
            finished = [
                wait_for(
                    lambda cid=cid: (
                        (r := c.get(f"/v1/campaigns/{cid}").json())["status"] in ("completed", "failed") and r
                    ),
                    timeout=300,
                    interval=1,
                    message=f"campaign {cid}",
                )
                for cid in ids
            ]
            claimed_by = set()
            for cid, done in zip(ids, finished):
                assert done["status"] == "completed", (
                    done,
                    worker_procs.output("w1"),
                    worker_procs.output("w2"),
                )
                assert done["best_score"] < done["root_score"]
                events = c.get(f"/v1/campaigns/{cid}/events/history").json()["items"]
                claimed_by |= {
                    e["payload"]["worker"].split("/")[0] for e in events if e["type"] == "worker.claimed"
                }
                node = c.get(f"/v1/campaigns/{cid}/nodes/{done['champion']['node_id']}").json()
                assert node["protections"]["placement"]["executor"] == executor
                assert "in-process" not in str(node["protections"])
            assert claimed_by == {"w1", "w2"}
        codes = procs.stop() | worker_procs.stop()
    assert all(code in (0, -signal.SIGTERM) for code in codes.values()), codes


def _ready(client: httpx.Client, workers: int) -> bool:
    try:
        response = client.get("/readyz")
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.json()["workers_alive"] >= workers
