"""API keys: 401 without or with a wrong key, 403 without the scope, users see only their own campaigns."""

from __future__ import annotations

import json
import time

import pytest

from app.api.auth import hash_key, revoke_key
from app.db import repository as repo
from tests.api.harness import small_campaign

PUBLIC = {"/v1/healthz", "/v1/readyz"}


def _concrete(path: str) -> str:
    return (path.replace("{campaign_id}", "abc123").replace("{node_id}", "1").replace("{name}", "burgers1d")
            .replace("{card_id}", "some-card"))


def test_every_endpoint_but_probes_needs_a_key(sqlite_stack):
    server = sqlite_stack.serve()
    spec = server.client().get("/v1/openapi.json").json()
    checked = 0
    with server.client() as anonymous, server.client("asml_000000000000_not-a-real-key") as wrong:
        for path, operations in spec["paths"].items():
            for method in operations:
                url = _concrete(path)
                if path in PUBLIC:
                    assert anonymous.request(method, url).status_code in (200, 503)
                    continue
                missing = anonymous.request(method, url)
                assert missing.status_code == 401, (method, path, missing.text)
                assert missing.headers["www-authenticate"] == "Bearer"
                assert "missing API key" in missing.json()["detail"]
                bad = wrong.request(method, url)
                assert bad.status_code == 401, (method, path)
                checked += 1
        assert anonymous.get("/healthz").status_code == 200  # root alias for orchestrators
        assert anonymous.get("/metrics").status_code == 401
        assert anonymous.get("/v1/me", headers={"Authorization": "Basic dXNlcjpwdw=="}).status_code == 401
    assert checked >= 25


def test_scopes_and_keys_stored_hashed(sqlite_stack):
    server = sqlite_stack.serve()
    read_key, write_key = sqlite_stack.key("read", user="reader"), sqlite_stack.key("write", user="writer")
    with server.client(read_key) as reader, server.client(write_key) as writer:
        assert reader.get("/v1/campaigns").status_code == 200
        assert reader.get("/v1/me").json()["scopes"] == ["read"]
        denied = reader.post("/v1/campaigns", json=small_campaign("discontinuous_fit1d"))
        assert denied.status_code == 403 and "'write' scope" in denied.json()["detail"]
        assert reader.post("/v1/campaigns/abc/cancel").status_code == 403
        assert reader.delete("/v1/campaigns/abc").status_code == 403
        created = writer.post("/v1/campaigns", json=small_campaign("discontinuous_fit1d"))
        assert created.status_code == 202, created.text
        me = writer.get("/v1/me").json()
        assert me["username"] == "writer" and me["scopes"] == ["read", "write"] and not me["is_admin"]
    prefix = read_key.split("_")[1]
    with sqlite_stack.db.session_scope(readonly=True) as s:
        row = repo.get_api_key_by_prefix(s, prefix)
        assert row.key_hash == hash_key(read_key) and read_key not in (row.key_hash, row.key_prefix)
    assert revoke_key(sqlite_stack.db, prefix)
    time.sleep(0.3)  # verified keys are trusted for auth_cache_seconds (0.2 s here)
    with server.client(read_key) as reader:
        assert reader.get("/v1/campaigns").status_code == 401
    # A key whose secret part was tampered with fails even though its prefix exists.
    with server.client(write_key[:-3] + "xyz") as forged:
        assert forged.get("/v1/me").status_code == 401


def test_users_see_only_their_campaigns_admins_see_all(sqlite_stack):
    server = sqlite_stack.serve()
    alice, bob = sqlite_stack.key("write", user="alice"), sqlite_stack.key("write", user="bob")
    admin = sqlite_stack.key("read", admin=True, user="root")
    with server.client(alice) as a, server.client(bob) as b, server.client(admin) as root:
        cid = a.post("/v1/campaigns", json=small_campaign("discontinuous_fit1d")).json()["id"]
        assert a.get(f"/v1/campaigns/{cid}").status_code == 200
        for url in (f"/v1/campaigns/{cid}", f"/v1/campaigns/{cid}/tree", f"/v1/campaigns/{cid}/events?follow=false"):
            assert b.get(url).status_code == 404
        assert b.post(f"/v1/campaigns/{cid}/cancel").status_code == 404
        assert b.delete(f"/v1/campaigns/{cid}").status_code == 404
        assert b.get("/v1/campaigns").json()["total"] == 0
        assert root.get(f"/v1/campaigns/{cid}").status_code == 200
        assert root.get("/v1/campaigns").json()["total"] == 1
        assert root.post(f"/v1/campaigns/{cid}/cancel").status_code == 403  # admin, but a read key


def test_embedded_mode_needs_no_key(sqlite_stack):
    server = sqlite_stack.serve(embedded=True)
    with server.client() as anonymous:
        assert anonymous.get("/v1/me").json()["auth_enabled"] is False
        assert anonymous.post("/v1/campaigns", json=small_campaign("discontinuous_fit1d")).status_code == 202


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """The agentic-sciml CLI, in process, on a data directory of its own."""
    from typer.testing import CliRunner

    import app.cli
    import app.cli_service  # registers serve, worker and keys on app.cli.app
    from app.settings import get_settings

    monkeypatch.setenv("AGENTIC_SCIML_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app.cli.app, list(args))
    get_settings.cache_clear()


def test_keys_create_cli_prints_the_key_once(cli):
    out = cli("keys", "create", "--name", "ci", "--scope", "write", "--admin", "--json")
    assert out.exit_code == 0, out.output
    created = json.loads(out.stdout)
    assert created["key"].startswith("asml_") and created["scopes"] == ["read", "write"] and created["admin"]
    plain = cli("keys", "create", "--name", "dashboard")
    assert plain.exit_code == 0 and plain.stdout.strip().startswith("asml_")
    listed = cli("keys", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)["keys"]
    assert [r["prefix"] for r in rows] == [created["prefix"], plain.stdout.strip().split("_")[1]]
    assert rows[1]["scopes"] == ["read"] and not rows[1]["admin"]
    assert created["key"] not in listed.stdout  # only the prefix is ever shown again
    bad = cli("keys", "create", "--name", "x", "--scope", "admin")
    assert bad.exit_code == 2 and "--scope" in bad.stderr
    assert cli("keys", "revoke", created["prefix"]).exit_code == 0
    assert json.loads(cli("keys", "list", "--json").stdout)["keys"][0]["revoked"] is True


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10"])
def test_embedded_serve_refuses_non_loopback(cli, host):
    out = cli("serve", "--embedded", "--host", host, "--port", "1")
    assert out.exit_code == 2 and "loopback" in out.stderr
