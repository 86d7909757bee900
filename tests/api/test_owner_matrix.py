"""Owner isolation as a table: actor x resource x action -> the status the real server must answer.

The auth model (app/api/auth.py, app/api/views.py): a key belongs to a user and has the ``read`` or the
``write`` scope (write implies read); an admin key sees every user's resources, any other key only its user's.
Scope is checked before visibility, so a read key gets 403 on any change, even of a resource it could not see;
a resource the caller may not see answers 404, never 403, so that ids do not leak. No key, a revoked key:
401. The knowledge base is shared (every reader reads every card), but a card may be replaced only by the
user who added it or by an admin.

Actors (tests/api/world.py): ``alice`` and ``bob`` (ordinary users with write keys; the resources are
alice's), ``admin``, ``readonly`` (a read key of alice's), ``revoked`` (alice's revoked write key), ``none``.
The world is built once for the module; rows that consume their target (cancel, delete, ...) make a fresh
one per cell, as alice, and a refused change is also checked not to have happened.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.fakes import EXAMPLE
from tests.api.harness import Stack, read_sse, small_campaign
from tests.api.world import World, batch_body, build_world, card_markdown, schedule_body

ACTORS = ("alice", "bob", "admin", "readonly", "revoked", "none")

# Expected statuses in ACTORS order:           alice  bob  admin  readonly  revoked  none
READ = (200, 404, 200, 200, 401, 401)  # one of alice's resources
SHARED = (200, 200, 200, 200, 401, 401)  # what every key may read (the knowledge base, lists, identity)


def change(ok: int) -> tuple[int, ...]:
    """A change of one of alice's resources: hers and the admin's succeed with ``ok``, bob cannot see it."""
    return (ok, 404, ok, 403, 401, 401)


@dataclass(frozen=True)
class Cell:
    """One row of the matrix: a request (with placeholders) and the status each actor must get.

    ``fresh`` names a resource made for the cell by alice (``{fresh}`` in the path); ``probe`` is a GET whose
    answer (as the admin) must not change when the request is refused.
    """

    resource: str
    action: str
    method: str
    path: str
    expect: tuple[int, ...]
    body: Any = None
    fresh: str | None = None
    probe: str | None = None
    form: bool = False

    @property
    def label(self) -> str:
        return f"{self.resource}-{self.action}-{self.method} {self.path}"


C = "/v1/campaigns/{campaign}"
N = C + "/nodes/{node}"
MATRIX: list[Cell] = [
    # campaigns
    Cell("campaigns", "read", "GET", C, READ),
    Cell("campaigns", "read", "GET", "/v1/campaigns/{bob_campaign}", (404, 200, 200, 404, 401, 401)),
    Cell("campaigns", "read", "GET", "/v1/campaigns", SHARED),
    Cell("campaigns", "change", "POST", "/v1/campaigns/{fresh}/pause", change(200), fresh="campaign",
         probe="/v1/campaigns/{fresh}"),
    Cell("campaigns", "change", "POST", "/v1/campaigns/{fresh}/resume", change(202), fresh="paused_campaign",
         probe="/v1/campaigns/{fresh}"),
    Cell("campaigns", "cancel", "POST", "/v1/campaigns/{fresh}/cancel", change(200), fresh="campaign",
         probe="/v1/campaigns/{fresh}"),
    Cell("campaigns", "delete", "DELETE", "/v1/campaigns/{fresh}", change(204), fresh="cancelled_campaign",
         probe="/v1/campaigns/{fresh}"),
    # nodes (and the campaign's messages)
    *[Cell("nodes", "read", "GET", path, READ) for path in (
        C + "/tree", N, N + "/diff", N + "/proposal", N + "/messages", N + "/logs", N + "/curves",
        N + "/analyses", N + "/debug-attempts", C + "/messages")],
    # events: the JSON history, the campaign's SSE stream, the global stream (its content is checked below)
    Cell("events", "read", "GET", C + "/events/history", READ),
    Cell("events", "read", "GET", C + "/events?follow=false", READ),
    Cell("events", "read", "GET", "/v1/events?after=0&follow=false", SHARED),
    # batches
    Cell("batches", "read", "GET", "/v1/batches/{batch}", READ),
    Cell("batches", "read", "GET", "/v1/batches", SHARED),
    Cell("batches", "create", "POST", "/v1/batches", (202, 422, 202, 403, 401, 401),
         body=batch_body("{problem}")),  # on alice's upload: bob may not name it
    Cell("batches", "cancel", "POST", "/v1/batches/{fresh}/cancel", change(200), fresh="batch",
         probe="/v1/batches/{fresh}"),
    # schedules
    Cell("schedules", "read", "GET", "/v1/schedules/{schedule}", READ),
    Cell("schedules", "read", "GET", "/v1/schedules", SHARED),
    Cell("schedules", "change", "PATCH", "/v1/schedules/{fresh}", change(200), body={"overlap": "allow"},
         fresh="schedule", probe="/v1/schedules/{fresh}"),
    Cell("schedules", "change", "POST", "/v1/schedules/{fresh}/pause", change(200), fresh="schedule",
         probe="/v1/schedules/{fresh}"),
    Cell("schedules", "change", "POST", "/v1/schedules/{fresh}/resume", change(200), fresh="paused_schedule",
         probe="/v1/schedules/{fresh}"),
    Cell("schedules", "delete", "DELETE", "/v1/schedules/{fresh}", change(204), fresh="schedule",
         probe="/v1/schedules/{fresh}"),
    Cell("schedules", "create", "POST", "/v1/schedules", (201, 422, 201, 403, 401, 401),
         body=schedule_body("{problem}", "{unique}")),
    # uploaded problems: read, use in a campaign; the name space is global, so a taken name is a 409 for
    # every writer; there is no route to change or delete an upload (405 before any auth).
    Cell("problems", "read", "GET", "/v1/problems/{problem}", READ),
    Cell("problems", "read", "GET", "/v1/problems", SHARED),
    Cell("problems", "use", "POST", "/v1/campaigns", (202, 422, 202, 403, 401, 401),
         body=small_campaign("{problem}", iterations=1)),
    Cell("problems", "change", "POST", "/v1/problems", (409, 409, 409, 403, 401, 401), form=True,
         probe="/v1/problems/{problem}"),
    Cell("problems", "delete", "DELETE", "/v1/problems/{problem}", (405,) * 6, probe="/v1/problems/{problem}"),
    # knowledge cards: shared reading; replacing alice's card is hers and the admin's (a fresh card per cell)
    Cell("cards", "read", "GET", "/v1/knowledge/cards/{card}", SHARED),
    Cell("cards", "read", "GET", "/v1/knowledge/cards", SHARED),
    Cell("cards", "read", "GET", "/v1/knowledge/search?q=polynomial", SHARED),
    Cell("cards", "change", "POST", "/v1/knowledge/cards", (201, 409, 201, 403, 401, 401), fresh="card",
         body={"markdown": "{fresh_card_markdown}"}, probe="/v1/knowledge/cards/{fresh}"),
    Cell("cards", "delete", "DELETE", "/v1/knowledge/cards/{card}", (405,) * 6),
    # dashboard data
    Cell("dashboard", "read", "GET", C + "/dashboard", READ),
    Cell("dashboard", "read", "GET", C + "/usage", READ),
    Cell("dashboard", "read", "GET", C + "/messages/recent", READ),
    Cell("dashboard", "read", "GET", N + "/prediction", READ),
    Cell("dashboard", "read", "GET", "/v1/knowledge/cards/{card}/usage", SHARED),
    # exports
    Cell("exports", "read", "GET", C + "/champion.py", READ),
    Cell("exports", "read", "GET", N + "/code", READ),
    Cell("exports", "read", "GET", "/v1/batches/{batch}/report", READ),
    # the service
    Cell("service", "read", "GET", "/v1/me", SHARED),
    Cell("service", "read", "GET", "/v1/metrics", SHARED),
]


@dataclass
class Env:
    """The module's world plus a client per actor."""

    world: World
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def fresh(self, kind: str) -> str:
        """A new resource of alice's for one cell, in the state the cell's request needs."""
        alice = self.clients["alice"]
        problem = self.world.problem
        if kind in ("campaign", "paused_campaign", "cancelled_campaign"):
            cid = _ok(alice.post("/v1/campaigns", json=small_campaign(problem, iterations=1)), 202)["id"]
            if kind != "campaign":
                _ok(alice.post(f"/v1/campaigns/{cid}/{'pause' if kind == 'paused_campaign' else 'cancel'}"), 200)
            return cid
        if kind == "batch":
            return _ok(alice.post("/v1/batches", json=batch_body(problem)), 202)["id"]
        if kind in ("schedule", "paused_schedule"):
            body = {**schedule_body(problem, f"s-{uuid.uuid4().hex[:8]}"), "paused": kind == "paused_schedule"}
            return str(_ok(alice.post("/v1/schedules", json=body), 201)["id"])
        if kind == "card":
            card_id = f"card-{uuid.uuid4().hex[:8]}"
            _ok(alice.post("/v1/knowledge/cards", json={"markdown": card_markdown(card_id)}), 201)
            return card_id
        raise ValueError(kind)


def _ok(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.request.method, str(response.request.url), response.text)
    return response.json() if response.content else {}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root: Path = tmp_path_factory.mktemp("owner-matrix")
    stack = Stack(url=f"sqlite:///{root / 'matrix.db'}", data_dir=root / "data")
    try:
        world = build_world(stack, root / "kb")
        clients = {actor: world.client(actor) for actor in ACTORS}
        try:
            yield Env(world, clients)
        finally:
            for client in clients.values():
                client.close()
    finally:
        stack.close()


def _fill(template: Any, values: dict[str, str]) -> Any:
    """Placeholders ``{name}`` replaced in a path or (recursively) in a JSON body."""
    if isinstance(template, str):
        for key, value in values.items():
            template = template.replace("{" + key + "}", value)
        return template
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def _send(client: httpx.Client, cell: Cell, values: dict[str, str]) -> httpx.Response:
    path = _fill(cell.path, values)
    if cell.form:
        form = {"name": values["problem"], "kind": "regression", "metric": "rel_l2", "description": "again",
                "budget": json.dumps({"wall_seconds": 20})}
        files = {"data": ("data.npz", (EXAMPLE / "data.npz").read_bytes(), "application/octet-stream")}
        return client.request(cell.method, path, data=form, files=files)
    if cell.body is not None:
        return client.request(cell.method, path, json=_fill(cell.body, values))
    return client.request(cell.method, path)


def _observe(env: Env, path: str | None) -> tuple[int, Any] | None:
    """What the admin sees at ``path`` (status and body), minus the fields that move by themselves."""
    if path is None:
        return None
    response = env.clients["admin"].get(path)
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else None
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in ("updated_at", "next_run_at", "recent_firings")}
    return response.status_code, body


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("cell", MATRIX, ids=[c.label for c in MATRIX])
def test_owner_matrix(env: Env, cell: Cell, actor: str) -> None:
    world = env.world
    values = {"campaign": world.campaign, "node": str(world.node), "batch": world.batch,
              "schedule": str(world.schedule), "problem": world.problem, "card": world.card,
              "bob_campaign": world.bob_campaign, "unique": f"s-{uuid.uuid4().hex[:8]}"}
    if cell.fresh is not None:
        values["fresh"] = env.fresh(cell.fresh)
        if cell.fresh == "card":  # replacing the fresh card: same id, new text
            values["fresh_card_markdown"] = card_markdown(values["fresh"]).replace("The degree.", "The degree!")
    probe = _fill(cell.probe, values) if cell.probe else None
    before = _observe(env, probe)
    expected = cell.expect[ACTORS.index(actor)]
    response = _send(env.clients[actor], cell, values)
    assert response.status_code == expected, (actor, cell.label, response.text[:500])
    if expected >= 400 and probe is not None:
        assert _observe(env, probe) == before, f"{actor} was refused ({expected}) but {probe} changed"


# -- what a list or stream shows each actor -------------------------------------------------------------------
def _ids(env: Env, actor: str, path: str, key: str = "id") -> set[str]:
    return {str(item[key]) for item in _ok(env.clients[actor].get(path), 200)["items"]}


#: Whether alice's resource appears in each listing, in ACTORS order (the two without a valid key get 401).
LISTED = (True, False, True, True)
LISTS: list[tuple[str, str, Callable[[World], str], str]] = [
    ("campaigns", "/v1/campaigns?limit=200", lambda w: w.campaign, "id"),
    ("batches", "/v1/batches?limit=100", lambda w: w.batch, "id"),
    ("schedules", "/v1/schedules?limit=500", lambda w: str(w.schedule), "id"),
    ("problems", "/v1/problems", lambda w: w.problem, "name"),
]


@pytest.mark.parametrize("actor", ACTORS[:4])
@pytest.mark.parametrize("resource,path,target,key", LISTS, ids=[row[0] for row in LISTS])
def test_lists_show_only_what_the_actor_may_see(env: Env, resource: str, path: str,
                                                target: Callable[[World], str], key: str, actor: str) -> None:
    assert (target(env.world) in _ids(env, actor, path, key)) is LISTED[ACTORS.index(actor)], (actor, resource)
    if actor in ("alice", "readonly"):  # and bob's campaign is not alice's to list
        assert env.world.bob_campaign not in _ids(env, actor, "/v1/campaigns?limit=200")


@pytest.mark.parametrize("actor", ACTORS[:4])
def test_global_stream_carries_only_visible_campaigns(env: Env, actor: str) -> None:
    with env.clients[actor].stream("GET", "/v1/events", params={"after": 0, "follow": "false"}) as response:
        assert response.status_code == 200
        seen = {json.loads(m["data"])["campaign_id"] for m in read_sse(response) if "data" in m}
    assert (env.world.campaign in seen) is LISTED[ACTORS.index(actor)], (actor, seen)
    assert (env.world.bob_campaign in seen) is (actor in ("bob", "admin")), (actor, seen)


@pytest.mark.parametrize("actor", ACTORS[:4])
def test_card_usage_counts_only_visible_campaigns(env: Env, actor: str) -> None:
    """The card-usage page lists the campaigns that retrieved a card (the world seeds one retrieval of alice's
    card by her champion): bob must not learn of alice's campaign."""
    usage = _ok(env.clients[actor].get(f"/v1/knowledge/cards/{env.world.card}/usage"), 200)
    campaigns = {use["campaign_id"] for use in usage["campaigns"]}
    assert (env.world.campaign in campaigns) is LISTED[ACTORS.index(actor)], (actor, campaigns)


def test_a_card_records_who_added_it_whatever_the_markdown_claims(env: Env) -> None:
    """Regression: any write key could replace a card another user had added (POST with the same id). The
    adder is recorded in the provenance, a forged ``added_by`` is overwritten, and bob's replacement of
    alice's card is a 409 that leaves the card as it was."""
    card_id = f"forged-{uuid.uuid4().hex[:8]}"
    forged = card_markdown(card_id).replace("origin: discovered", "origin: discovered\nprovenance: {added_by: bob}")
    added = _ok(env.clients["alice"].post("/v1/knowledge/cards", json={"markdown": forged}), 201)
    assert added["provenance"]["added_by"] == "alice"
    replaced = env.clients["bob"].post("/v1/knowledge/cards", json={"markdown": card_markdown(card_id)})
    assert replaced.status_code == 409 and "did not add" in replaced.json()["detail"]
    assert _ok(env.clients["bob"].get(f"/v1/knowledge/cards/{card_id}"), 200)["provenance"]["added_by"] == "alice"


def test_bob_cannot_reach_alices_upload_through_his_own_resources(env: Env) -> None:
    """Naming alice's upload is refused wherever bob may write a problem name: a campaign, a batch, a new
    schedule (matrix rows) and an edit of his own schedule's batch (here), as it would be when it fires."""
    bob = env.clients["bob"]
    own = _ok(bob.post("/v1/schedules", json=schedule_body("discontinuous_fit1d", "bob-nightly")), 201)["id"]
    edited = bob.patch(f"/v1/schedules/{own}", json={"batch": batch_body(env.world.problem)})
    assert edited.status_code == 422 and edited.json()["detail"][0]["loc"][:3] == ["body", "batch", "problems"]
    assert _ok(env.clients["admin"].patch(f"/v1/schedules/{own}", json={"batch": batch_body(env.world.problem)}),
               422), "an admin's edit is checked under the owner's (bob's) rules"
