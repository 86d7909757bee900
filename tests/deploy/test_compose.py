"""The production compose file, checked without a Docker engine: structure, wiring, and every command.

Commands are not just looked at: the entry point runs in dry-run mode with each service's environment and
prints what it would execute, and every ``agentic-sciml`` and ``ray`` command line it prints (and every
health check) is parsed by the real command-line parsers, so a renamed option or subcommand fails here.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
ENTRYPOINT = REPO / "deploy" / "entrypoint.sh"
IMAGE = "agentic-sciml:latest"
APP_SERVICES = ("migrate", "api", "worker", "ray-head", "ray-worker", "ray-worker-gpu")
LONG_RUNNING = ("db", "api", "worker", "ray-head", "ray-worker", "ray-worker-gpu")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, Any]:
    return compose["services"]


def _app_cli() -> Any:
    from app.cli import app

    return typer.main.get_command(app)  # type: ignore[return-value]


def _ray_cli() -> Any:
    from ray.scripts.scripts import cli

    return cli


def parse_command(group: Any, argv: list[str]) -> Any:
    """Parse ``argv`` with the real parser down to the leaf command, without running it.

    Duck-typed on purpose: typer ships its own copy of click, so its groups are not ``click.Group``s.
    """
    command, name = group, argv[0] if argv else ""
    args = list(argv)
    while hasattr(command, "list_commands"):
        assert args, f"{name}: a subcommand is missing"
        sub_name, args = args[0], args[1:]
        sub = command.get_command(command.context_class(command), sub_name)
        assert sub is not None, f"no such subcommand {sub_name!r} in {' '.join(argv)!r}"
        command, name = sub, sub_name
    context = command.make_context(name, args)
    assert not context.args, f"unparsed arguments {context.args} in {' '.join(argv)!r}"
    return context


def check_command_line(argv: list[str]) -> None:
    assert argv, "empty command"
    program, rest = argv[0], argv[1:]
    if program == "agentic-sciml":
        parse_command(_app_cli(), rest)
    elif program == "ray":
        parse_command(_ray_cli(), rest)
    else:
        raise AssertionError(f"unexpected program {program!r} in {argv}")


def _env(value: Any) -> dict[str, str]:
    if isinstance(value, list):
        return dict(item.split("=", 1) for item in value)
    return {k: str(v) for k, v in (value or {}).items()}


def dry_run(service: dict[str, Any]) -> list[list[str]]:
    """What the image's entry point would execute for this service (one argv per line)."""
    env = {"PATH": os.environ["PATH"], "DRY_RUN": "1", **_env(service.get("environment"))}
    proc = subprocess.run(
        ["bash", str(ENTRYPOINT), *service["command"]], env=env, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    return [shlex.split(line) for line in proc.stdout.splitlines() if line.strip()]


def test_services_share_one_image_and_the_postgres_service_is_there(services):
    assert set(services) >= {"db", *APP_SERVICES}
    assert services["db"]["image"].startswith("postgres:")
    for name in APP_SERVICES:
        assert services[name]["image"] == IMAGE and services[name]["build"] == ".", name


def test_every_long_running_service_has_a_health_check(services):
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert check.get("interval") and check.get("retries"), name
    assert services["migrate"]["restart"] == "no" and "healthcheck" not in services["migrate"]


def test_start_order_waits_for_health_and_migrations(services):
    def conditions(name: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in services[name]["depends_on"].items()}

    assert conditions("migrate") == {"db": "service_healthy"}
    assert conditions("api") == {"db": "service_healthy", "migrate": "service_completed_successfully"}
    assert conditions("worker") == {
        "migrate": "service_completed_successfully",
        "ray-head": "service_healthy",
    }
    for name in ("ray-worker", "ray-worker-gpu"):
        assert conditions(name) == {"ray-head": "service_healthy"}
    # Every service someone waits on for health has a health check.
    for name in services:
        for other, condition in conditions(name).items() if "depends_on" in services[name] else []:
            if condition == "service_healthy":
                assert "healthcheck" in services[other], (name, other)


def test_volumes_keep_the_database_and_artefacts_and_keep_targets_off_ray_nodes(compose, services):
    declared = set(compose["volumes"])
    assert "db-data:/var/lib/postgresql/data" in services["db"]["volumes"]
    for name in ("migrate", "api", "worker"):
        assert "artefacts:/data" in services[name]["volumes"], name
        assert _env(services[name]["environment"])["AGENTIC_SCIML_DATA_DIR"] == "/data"
    for name in ("ray-head", "ray-worker", "ray-worker-gpu"):
        mounts = services[name].get("volumes", [])
        assert not any(m.startswith("artefacts:") for m in mounts), f"{name} must not see the hidden targets"
    for name in ("ray-worker", "ray-worker-gpu"):
        (mount,) = services[name]["volumes"]
        volume, path = mount.split(":")
        assert _env(services[name]["environment"])["AGENTIC_SCIML_RAY_RUNS_DIR"].startswith(path + "/")
    used = {m.split(":")[0] for s in services.values() for m in s.get("volumes", []) if not m.startswith("/")}
    assert used <= declared


def test_environment_wires_the_services_together(services, monkeypatch):
    from sqlalchemy.engine import make_url

    from app.settings import Settings

    db_env = _env(services["db"]["environment"])
    worker_env = _env(services["worker"]["environment"])
    url = make_url(worker_env["DATABASE_URL"])
    assert (url.host, url.port, url.username, url.password, url.database) == (
        "db",
        5432,
        db_env["POSTGRES_USER"],
        db_env["POSTGRES_PASSWORD"],
        db_env["POSTGRES_DB"],
    )
    head_host, head_port = worker_env["RAY_HEAD_ADDRESS"].split(":")
    assert head_host == "ray-head" and head_port == _env(services["ray-head"]["environment"])["RAY_PORT"]
    for name in ("ray-worker", "ray-worker-gpu"):
        assert _env(services[name]["environment"])["RAY_HEAD_ADDRESS"] == worker_env["RAY_HEAD_ADDRESS"]
    assert _env(services["api"]["environment"])["EXECUTOR"] == "local"  # the API evaluates nothing
    # The workers' environment is valid settings for the Ray executor.
    for key, value in worker_env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert (
        settings.executor == "ray" and settings.ray_max_retries >= 1 and settings.ray_cpus_per_evaluation >= 1
    )


def test_scale_gpu_reservation_and_sandbox_rights(services):
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert services["ray-worker"]["deploy"]["replicas"] >= 1
    gpu = services["ray-worker-gpu"]
    assert gpu["profiles"] == ["gpu"]  # opt-in: a CPU-only host can start the rest
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"] and device["count"]
    for name in ("ray-worker", "ray-worker-gpu"):
        assert "SYS_ADMIN" in services[name]["cap_add"], name  # bubblewrap needs namespaces
        assert "seccomp=unconfined" in services[name]["security_opt"], name
    assert "cap_add" not in services["api"] and "cap_add" not in services["worker"]


def test_every_service_command_exists_and_parses(services):
    seen: dict[str, list[list[str]]] = {}
    for name in APP_SERVICES:
        lines = dry_run(services[name])
        assert lines, name
        for argv in lines:
            check_command_line(argv)
        seen[name] = lines
    assert seen["migrate"][-1][:3] == ["agentic-sciml", "db", "upgrade"]
    assert seen["api"][-1][:2] == ["agentic-sciml", "serve"]
    # The campaign workers join the cluster without resources, then run as Ray drivers.
    join, work = seen["worker"]
    assert join[:2] == ["ray", "start"] and "--num-cpus=0" in join and "--num-gpus=0" in join
    assert work[:2] == ["agentic-sciml", "worker"]
    assert "--head" in seen["ray-head"][0] and "--num-cpus=0" in seen["ray-head"][0]
    assert seen["ray-worker"][0][:2] == ["ray", "start"] and "--block" in seen["ray-worker"][0]


def test_every_health_check_command_exists(services):
    dockerfile = (REPO / "Dockerfile").read_text()
    for name in LONG_RUNNING:
        kind, *rest = services[name]["healthcheck"]["test"]
        if kind == "CMD-SHELL":
            (script,) = rest
            script = script.replace("$$", "$")
            assert subprocess.run(["bash", "-n", "-c", script]).returncode == 0, name
            if "agentic-sciml" in script:
                words = shlex.split(script.split(">")[0].replace('"$HOSTNAME"', "host"))
                check_command_line(words)
            continue
        program = rest[0]
        if program == "python":
            assert rest[1] == "-c"
            compile(rest[2], f"{name}-healthcheck", "exec")
            assert re.search(r"127\.0\.0\.1:8000/healthz", rest[2])
        elif program == "ray":
            check_command_line(rest)
        elif program == "pgrep":
            assert "procps" in dockerfile  # pgrep is in the image
        else:
            raise AssertionError(f"{name}: unchecked health check program {program!r}")


def test_entrypoint_and_image(services):
    assert subprocess.run(["bash", "-n", str(ENTRYPOINT)]).returncode == 0
    assert os.access(ENTRYPOINT, os.X_OK)
    dockerfile = (REPO / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in dockerfile and "COPY deploy deploy" in dockerfile
    assert 'pip install --no-cache-dir ".[ray]"' in dockerfile
    assert "bubblewrap" in dockerfile
    # A role that needs a variable says so instead of starting half-configured.
    proc = subprocess.run(
        ["bash", str(ENTRYPOINT), "ray-worker"],
        env={"PATH": os.environ["PATH"], "DRY_RUN": "1"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode != 0 and "RAY_HEAD_ADDRESS" in proc.stderr


def test_the_ray_pin_matches_the_extra():
    import ray

    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^ray = \[\s*"ray==' + re.escape(ray.__version__) + '"', pyproject, re.M)


@pytest.mark.parametrize(
    "argv",
    [
        ["db", "--help"],
        ["db", "upgrade", "--help"],
        ["db", "workers", "--help"],
        ["serve", "--help"],
        ["worker", "--help"],
        ["keys", "create", "--help"],
    ],
)
def test_deployment_commands_answer_help(argv):
    from app.cli import app

    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
