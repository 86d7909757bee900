"""Schemathesis over the whole OpenAPI schema against a real, populated server: no 5xx, no schema violation.

Why this shape:

* The server is real (uvicorn on loopback, auth on) and populated (tests/api/world.py: a finished campaign
  with nodes and a champion, a queued one, a batch, a schedule, an uploaded problem, a discovered card), and
  half of the generated cases get those real ids in their path: random ids only ever reach the 404 branch,
  real ones reach the handlers, the serialisers and the response models, where 5xx and schema violations live.
  Cases with real ids may cancel or delete those resources; later cases then meet 404s, as deterministically,
  and the other tests of the module make what they need themselves.
* Every case is checked for a server error, for a status code the schema does not declare, for a content type
  it does not declare, and (for declared responses) for conformance to the response schema. A route that
  answers something undeclared is fixed by declaring it, not by dropping the check.
* Runs are deterministic (``derandomize=True``, no example database) and bounded (``max_examples`` per
  operation and generation mode), so the fast run fits the CI budget on two cores. The SSE streams are
  fuzzed with ``follow=false`` forced: a following stream never ends by itself (their behaviour has tests of
  their own in test_api_events.py).

The long run (``-m slow``; scripts/fuzz_api.sh) repeats it with many more examples, on SQLite and, when the
server is reachable, PostgreSQL; ``AGENTIC_SCIML_FUZZ_EXAMPLES`` overrides its example count.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text

from tests.api.conftest import PG_BASE
from tests.api.harness import Stack
from tests.api.world import World, build_world

#: Examples per operation and generation mode: the fast run (~50 operations x 2 modes) stays near a minute.
QUICK_EXAMPLES = 30
LONG_EXAMPLES = int(os.environ.get("AGENTIC_SCIML_FUZZ_EXAMPLES", "150"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SSE_PATHS = ("/v1/events", "/v1/campaigns/{campaign_id}/events")

FUZZ_BACKENDS = ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])]


@pytest.fixture(scope="module", params=FUZZ_BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One populated service per back end, shared by the module's runs (building it takes seconds)."""
    root: Path = tmp_path_factory.mktemp("schema-fuzz")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'fuzz.db'}"
    else:
        admin = request.getfixturevalue("pg_admin")
        schema_name = f"t_sfuzz_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema_name}"'))

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE'))

        request.addfinalizer(drop)
        url = f"{PG_BASE}?options=-csearch_path%3D{schema_name}"
    stack = Stack(url=url, data_dir=root / "data", service_overrides={"max_upload_bytes": 200_000})
    try:
        yield build_world(stack, root / "kb")
    finally:
        stack.close()


def known_parameters(world: World) -> dict[str, list[Any]]:
    """Path parameter values that name real resources (alice's, and bob's campaign)."""
    return {"campaign_id": [world.campaign, world.queued_campaign, world.bob_campaign], "node_id": [world.node, 1],
            "batch_id": [world.batch], "schedule_id": [world.schedule], "card_id": [world.card, "adam-then-lbfgs"],
            "name": [world.problem, "burgers1d"]}


def fuzz(world: World, max_examples: int, actor: str = "admin") -> tuple[int, int]:
    """Run every operation in both generation modes with ``actor``'s key; returns (operations, requests).

    Failures of all operations are collected and reported together. (Schemathesis's pytest plugin does not
    load under this pytest, so cases are drawn with hypothesis from each operation's strategy.)
    """
    schema = schemathesis.openapi.from_url(f"{world.server.base_url}/v1/openapi.json")
    headers = {"Authorization": f"Bearer {world.keys[actor]}"}
    known = known_parameters(world)
    failures: list[str] = []
    operations = requests = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode), real=st.booleans(), pick=st.integers(0, 2))
            @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck),
                      database=None, derandomize=True, phases=[Phase.explicit, Phase.generate])
            def exercise(case: Any, real: bool, pick: int) -> None:
                nonlocal requests
                if real and case.path_parameters:
                    for name in list(case.path_parameters):
                        if name in known:
                            case.path_parameters[name] = known[name][pick % len(known[name])]
                if operation.path in SSE_PATHS:
                    case.query = {**(case.query if isinstance(case.query, dict) else {}), "follow": "false"}
                requests += 1
                case.call_and_validate(base_url=world.server.base_url, headers=headers, timeout=30, checks=CHECKS)

            try:
                exercise()
            except Unsatisfiable:
                pass  # nothing to make invalid: the operation takes no input
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect all, then report
                failures.append(f"{operation.label} [{mode.value}]: {type(exc).__name__}: {str(exc)[:2000]}")
    assert not failures, f"{len(failures)} operation(s) failed:\n\n" + "\n\n".join(failures)
    return operations, requests


@pytest.mark.timeout(240)
def test_bounded_fuzz_finds_no_server_error_nor_schema_violation(world: World) -> None:
    """The CI run: every operation, admin key (it reaches every resource), on SQLite."""
    started = time.monotonic()
    operations, requests = fuzz(world, QUICK_EXAMPLES)
    assert operations >= 45 and requests >= operations * QUICK_EXAMPLES
    assert time.monotonic() - started < 180, "the bounded fuzz run outgrew its CI budget; lower QUICK_EXAMPLES"


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("actor", ["admin", "bob"])
def test_long_fuzz_finds_no_server_error_nor_schema_violation(world: World, actor: str) -> None:
    """The documented long run (scripts/fuzz_api.sh): more examples, an admin and an ordinary user's key."""
    fuzz(world, LONG_EXAMPLES, actor)


def test_error_responses_are_declared_as_json_and_body_routes_declare_400(world: World) -> None:
    """Regression for what the fuzzing found in the schema: errors of the text routes (logs, code, report)
    were documented as text/plain though they are JSON, and routes with a body did not declare the 400 that
    FastAPI gives a body it cannot decode."""
    spec = world.server.client().get("/v1/openapi.json").json()
    for path in ("/v1/campaigns/{campaign_id}/nodes/{node_id}/logs", "/v1/batches/{batch_id}/report",
                 "/v1/campaigns/{campaign_id}/champion.py"):
        for status in ("401", "404"):
            assert list(spec["paths"][path]["get"]["responses"][status]["content"]) == ["application/json"], path
    for path, method in (("/v1/campaigns", "post"), ("/v1/batches", "post"), ("/v1/schedules", "post"),
                         ("/v1/schedules/{schedule_id}", "patch"), ("/v1/knowledge/cards", "post"),
                         ("/v1/problems", "post")):
        assert {"400", "413"} <= set(spec["paths"][path][method]["responses"]), (method, path)
    with world.client("admin") as admin:
        garbled = admin.post("/v1/schedules", content=b"\xff\xfe{", headers={"Content-Type": "application/json"})
        assert garbled.status_code == 400 and garbled.headers["content-type"] == "application/json"
        missing = admin.get("/v1/batches/nope/report")
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/json"


@pytest.mark.parametrize("header", ["9223372036854775808", "99999999999999999999", "4611686018427387905", "-1",
                                    "1_000", "+5"])
def test_an_out_of_range_last_event_id_is_a_400_not_a_broken_stream(world: World, header: str) -> None:
    """Regression: a Last-Event-ID past 64 bits passed the check, reached the database inside the stream
    (OverflowError after the 200 had been sent) and broke the connection; int()'s extras ('+5', '1_000')
    passed too. Now the header is held to the rules of the ``after`` parameter: digits, at most 2**62."""
    with world.client("admin") as admin:
        # A campaign of its own: the fuzz runs of this module may have deleted the world's.
        campaign = admin.post("/v1/campaigns", json={"problem": "discontinuous_fit1d", "iterations": 1}).json()["id"]
        for path in ("/v1/events", f"/v1/campaigns/{campaign}/events"):
            response = admin.get(path, params={"follow": "false"}, headers={"Last-Event-ID": header})
            assert response.status_code == 400 and "Last-Event-ID" in response.json()["detail"], (path, header)
        resumed = admin.get(f"/v1/campaigns/{campaign}/events", params={"follow": "false"},
                            headers={"Last-Event-ID": str(2**62)})
        assert resumed.status_code == 200 and "data:" not in resumed.text
