"""No input reaches a 5xx: every JSON value the API parses (bodies and the JSON form fields of uploads) is
bounded in size (413) and nesting depth (422, the field in ``loc``) before it is parsed; the YAML front matter
of a card added through the API likewise. One test per endpoint family, on a real server (issue 15)."""

from __future__ import annotations

import json

import httpx
import pytest

from app.api.errors import ApiError
from app.api.json_limits import MAX_JSON_DEPTH, check_json, json_depth_exceeds
from knowledge_base.cards import MAX_FRONT_MATTER_DEPTH, CardError, parse_card
from knowledge_base.embeddings import HashingEmbedder
from knowledge_base.retrieval import MethodMemory
from tests.api.harness import small_campaign, upload_example
from tests.api.test_api_service import DISCOVERED

DEEP = 100_000
BODY_LIMIT = 1 << 20  # ServiceSettings.max_body_bytes, the default the server below runs with
JSON = {"Content-Type": "application/json"}
SMALL = {"iterations": 1, "parents": 1, "smoke_seconds": 0, "debug_attempts": 1, "debate_rounds": 2, "memory": "none"}


def nested(depth: int, inner: str = "") -> str:
    return "[" * depth + inner + "]" * depth


def batch(**extra) -> dict:
    return {"name": "pair", "problems": ["discontinuous_fit1d"], "teams": [{"name": "t0", **SMALL}], **extra}


def schedule(**extra) -> dict:
    return {"name": "nightly", "cron": "0 3 * * *", "batch": batch(), **extra}


@pytest.fixture
def server(sqlite_stack, tmp_path):
    memory = MethodMemory(tmp_path / "kb", embedder=HashingEmbedder(256))
    running = sqlite_stack.serve(memory=memory, max_upload_bytes=2 * BODY_LIMIT, max_active_campaigns=100,
                                 max_active_campaigns_per_user=100)
    assert running.app.state.ctx.service.max_body_bytes == BODY_LIMIT
    with running.client(sqlite_stack.key("write", user="limits")) as client:
        yield client


def too_deep(response: httpx.Response, loc: list) -> str:
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["loc"] == loc, error
    return error["msg"]


def assert_deep_body_refused(client: httpx.Client, method: str, path: str, template: str) -> None:
    """``template`` is a JSON body with ``{}`` where a value nested DEEP levels goes."""
    for value in (nested(DEEP), '{"a": ' * DEEP + "1" + "}" * DEEP, nested(MAX_JSON_DEPTH + 1)):
        response = client.request(method, path, content=template.replace("{}", value), headers=JSON)
        assert "nested deeper" in too_deep(response, ["body"])


def assert_oversize_body_refused(client: httpx.Client, method: str, path: str) -> None:
    padding = "x" * (BODY_LIMIT + 10)
    declared = client.request(method, path, content=json.dumps({"name": padding}), headers=JSON)
    assert declared.status_code == 413 and "body" in declared.json()["detail"], declared.text

    def chunks():  # no Content-Length: counted as it streams
        yield b'{"name": "'
        for _ in range(11):
            yield b"x" * 100_000
        yield b'"}'

    streamed = client.request(method, path, content=chunks(), headers=JSON)
    assert streamed.status_code == 413 and "body" in streamed.json()["detail"], streamed.text


# -- the scan itself ---------------------------------------------------------------------------------------
def test_the_depth_scan_counts_brackets_outside_strings_only():
    assert not json_depth_exceeds(json.dumps({"a": [[1, {"b": [2]}]], "s": "[" * 1000}), 5)
    assert json_depth_exceeds(json.dumps({"a": [[1, {"b": [2]}]]}), 4)
    assert not json_depth_exceeds(json.dumps({"s": '\\"' + "{" * 50 + '"'}), 1)  # escaped quotes stay in the string
    assert json_depth_exceeds('["\\\\", ' + nested(5) + "]", 5)  # an escaped backslash ends before the quote
    # A stray closer lowers the count, but the parser refuses the text there, before the deep part.
    stray = "]" * DEEP + nested(DEEP)
    assert not json_depth_exceeds(stray)
    with pytest.raises(json.JSONDecodeError):
        json.loads(stray)
    assert json_depth_exceeds(nested(DEEP).encode(), MAX_JSON_DEPTH)
    assert not json_depth_exceeds(nested(MAX_JSON_DEPTH))
    with pytest.raises(ApiError) as deep:
        check_json(nested(MAX_JSON_DEPTH + 1), ["body", "pde"])
    assert deep.value.status == 422 and deep.value.body()["detail"][0]["loc"] == ["body", "pde"]
    with pytest.raises(ApiError) as big:
        check_json("[1, 2, 3]", ["body", "budget"], max_size=5)
    assert big.value.status == 413 and big.value.body()["detail"].startswith("budget: 9 characters exceed")


# -- endpoint families -------------------------------------------------------------------------------------
def test_problem_upload_json_form_fields(server):
    for field in ("pde", "literature", "budget"):
        depth = 4_000 if field == "budget" else 40_000  # within each field's length limit
        for value in (nested(depth), '{"a": ' + nested(depth) + "}"):
            response = upload_example(server, f"deep_{field}", **{field: value})
            assert f"{field}: JSON nested deeper than {MAX_JSON_DEPTH}" in too_deep(response, ["body", field])
        oversize = upload_example(server, f"big_{field}", **{field: nested(DEEP)})
        assert oversize.status_code == 422 and oversize.json()["detail"][0]["loc"] == ["body", field], oversize.text
    # A JSON body to the upload route gets the ordinary body limit, not the upload one.
    json_upload = server.post("/v1/problems", content=json.dumps({"name": "x" * (BODY_LIMIT + 10)}), headers=JSON)
    assert json_upload.status_code == 413 and "body" in json_upload.json()["detail"]
    assert_deep_body_refused(server, "POST", "/v1/problems", '{"name": {}}')
    assert server.get("/v1/problems").json()["items"][-1]["source"] == "builtin"  # nothing was stored
    ok = upload_example(server, "fine", pde=None, literature=json.dumps({"a": "b"}))
    assert ok.status_code == 201, ok.text


def test_knowledge_cards(server):
    assert_deep_body_refused(server, "POST", "/v1/knowledge/cards", '{"markdown": {}}')
    assert_oversize_body_refused(server, "POST", "/v1/knowledge/cards")
    # The card's YAML front matter: libyaml's composer recurses (it crashed the process at this depth), and
    # render_card and pydantic recurse through provenance. (90 000 levels: the markdown's length limit.)
    flow = DISCOVERED.replace("origin: discovered", "origin: discovered\nprovenance: {a: " + nested(90_000) + "}")
    block = DISCOVERED.replace("origin: discovered",
                               "origin: discovered\nprovenance:\n  a:\n    " + "- " * 90_000 + "1")
    mapping = DISCOVERED.replace("origin: discovered", "origin: discovered\nprovenance: " + "{a: " * 5000 + "1"
                                 + "}" * 5000)
    for markdown in (flow, block, mapping):
        msg = too_deep(server.post("/v1/knowledge/cards", json={"markdown": markdown}), ["body", "markdown"])
        assert f"nests deeper than {MAX_FRONT_MATTER_DEPTH}" in msg
    # Aliases could nest (or repeat) without bound past the event count; they are refused.
    aliased = DISCOVERED.replace("origin: discovered", "origin: discovered\nprovenance: {a: &x [1], b: [*x, *x]}")
    assert "alias" in too_deep(server.post("/v1/knowledge/cards", json={"markdown": aliased}), ["body", "markdown"])
    fine = DISCOVERED.replace("origin: discovered", "origin: discovered\nprovenance: {campaign_id: c1, run: {a: [1]}}")
    added = server.post("/v1/knowledge/cards", json={"markdown": fine})
    assert added.status_code == 201, added.text
    # (the service records who added the card: only they, or an admin, may replace it)
    assert added.json()["provenance"] == {"campaign_id": "c1", "run": {"a": [1]}, "added_by": "limits"}


def test_cards_refuse_deep_provenance_however_built():
    card = parse_card(DISCOVERED)
    with pytest.raises(ValueError, match="nested deeper"):
        card.model_validate({**card.model_dump(), "provenance": {"a": json.loads(nested(MAX_FRONT_MATTER_DEPTH))}})
    with pytest.raises(CardError, match="nests deeper"):
        parse_card(DISCOVERED.replace("origin: discovered", "origin: discovered\nprovenance: " + nested(DEEP)))


def test_campaigns(server):
    assert_deep_body_refused(server, "POST", "/v1/campaigns", '{"problem": "burgers1d", "reeval_seeds": {}}')
    assert_oversize_body_refused(server, "POST", "/v1/campaigns")
    # Brackets inside a string are text, not nesting: the ordinary validation answers.
    named = server.post("/v1/campaigns", json=small_campaign("burgers1d", name=nested(150)))
    assert named.status_code == 422 and named.json()["detail"][0]["loc"] == ["body", "name"]
    created = server.post("/v1/campaigns", json=small_campaign("burgers1d"))
    assert created.status_code == 202, created.text


def test_batches(server):
    assert_deep_body_refused(server, "POST", "/v1/batches", '{"name": "pair", "problems": {}}')
    assert_oversize_body_refused(server, "POST", "/v1/batches")
    created = server.post("/v1/batches", json=batch())
    assert created.status_code == 202, created.text


def test_schedules(server):
    assert_deep_body_refused(server, "POST", "/v1/schedules",
                             '{"name": "nightly", "cron": "0 3 * * *", "batch": {"name": "x", "problems": {}}}')
    assert_oversize_body_refused(server, "POST", "/v1/schedules")
    created = server.post("/v1/schedules", json=schedule())
    assert created.status_code == 201, created.text
    path = f"/v1/schedules/{created.json()['id']}"
    assert_deep_body_refused(server, "PATCH", path, '{"batch": {"name": "x", "problems": {}}}')
    assert_oversize_body_refused(server, "PATCH", path)
    changed = server.patch(path, json={"batch": batch(name="renamed")})
    assert changed.status_code == 200 and changed.json()["batch"]["name"] == "renamed", changed.text
