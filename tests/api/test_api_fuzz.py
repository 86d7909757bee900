"""Property-based fuzzing of the whole OpenAPI surface with schemathesis: no input may cause a 5xx.

Cases are generated from the schema (valid and invalid), sent over HTTP to a live server with an admin write
key, and checked for server errors and, for documented successes, for conformance to the response schema.
The quick run is part of the fast suite; the thorough one is marked slow. The SSE streams are excluded: a
stream never ends by itself (they have tests of their own).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance
from sqlalchemy import text

from tests.api.conftest import PG_BASE
from tests.api.harness import Stack, upload_example

QUICK_EXAMPLES = 3
THOROUGH_EXAMPLES = 40


# The quick run on PostgreSQL goes with the slow suite, next to the thorough runs on both back ends.
FUZZ_BACKENDS = ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow])]


@pytest.fixture(scope="module", params=FUZZ_BACKENDS)
def fuzz_server(request, tmp_path_factory):
    root: Path = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'fuzz.db'}"
    else:
        admin = request.getfixturevalue("pg_admin")
        schema_name = f"t_fuzz_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema_name}"'))
        request.addfinalizer(lambda: _drop(admin, schema_name))
        url = f"{PG_BASE}?options=-csearch_path%3D{schema_name}"
    stack = Stack(url=url, data_dir=root / "data")
    server = stack.serve(ready_requires_workers=False, max_upload_bytes=200_000, max_active_campaigns=1000, max_active_campaigns_per_user=1000)
    key = stack.key("write", admin=True, user="fuzzer")
    with server.client(key) as client:
        assert upload_example(client, "fuzzed").status_code == 201
        assert client.post("/v1/campaigns", json={"problem": "fuzzed", "iterations": 1}).status_code == 202
    yield server, key
    stack.close()


def _drop(admin, schema_name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE'))


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    server, _ = fuzz_server
    schema = schemathesis.openapi.from_url(f"{server.base_url}/v1/openapi.json")
    return schema.exclude(path_regex=r"/events$")


def fuzz(schema, fuzz_server, max_examples: int) -> int:
    """Run every operation in both generation modes; returns the number of operations exercised.

    (schemathesis's own pytest plugin does not load under this pytest, so the cases are drawn with hypothesis
    directly from each operation's strategy.)
    """
    server, key = fuzz_server
    headers = {"Authorization": f"Bearer {key}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck),
                      database=None, derandomize=True, phases=[Phase.explicit, Phase.generate])
            def exercise(case) -> None:
                case.call_and_validate(base_url=server.base_url, headers=headers, timeout=30,
                                       checks=[not_a_server_error, response_schema_conformance])

            try:
                exercise()
            except Unsatisfiable:
                pass  # nothing to make invalid: the operation takes no input
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect all, then report
                failures.append(f"{operation.label} [{mode.value}]: {type(exc).__name__}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
    return operations


def test_quick_fuzz_finds_no_server_error(api_schema, fuzz_server):
    assert fuzz(api_schema, fuzz_server, QUICK_EXAMPLES) >= 25


@pytest.mark.slow
def test_thorough_fuzz_finds_no_server_error(api_schema, fuzz_server):
    assert fuzz(api_schema, fuzz_server, THOROUGH_EXAMPLES) >= 25
