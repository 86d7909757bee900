"""Problem uploads: a good one is usable by campaigns; every kind of bad one is a 4xx naming the field."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from tests.api.fakes import EXAMPLE
from tests.api.harness import small_campaign, upload_example


def npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def example_arrays() -> dict[str, np.ndarray]:
    with np.load(EXAMPLE / "data.npz") as data:
        return {k: data[k] for k in data.files}


def files(content: bytes, filename: str = "data.npz"):
    return {"data": (filename, content, "application/octet-stream")}


@pytest.fixture
def writer(sqlite_stack):
    server = sqlite_stack.serve(max_upload_bytes=2_000_000)
    with server.client(sqlite_stack.key("write", user="uploader")) as client:
        yield client


def test_upload_then_list_get_and_run_on_it(writer, sqlite_stack):
    created = upload_example(writer, "oscillator")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "oscillator" and body["source"] == "user" and body["budget"]["wall_seconds"] == 20
    names = [p["name"] for p in writer.get("/v1/problems").json()["items"]]
    assert "oscillator" in names and "burgers1d" in names
    detail = writer.get("/v1/problems/oscillator").json()
    assert "oscillator" in detail["description"].lower()
    assert writer.get("/v1/problems/burgers1d").json()["kind"] == "pinn"
    assert writer.get("/v1/problems/nope").status_code == 404
    campaign = writer.post("/v1/campaigns", json=small_campaign("oscillator"))
    assert campaign.status_code == 202 and campaign.json()["problem"] == "oscillator"
    assert "/" not in json.dumps(campaign.json()["config"]["problem"])  # no server path leaks
    # Another user neither sees nor can use it.
    server_url = str(writer.base_url)
    import httpx

    with httpx.Client(base_url=server_url, headers={"Authorization": f"Bearer {sqlite_stack.key('write', user='eve')}"}) as eve:
        assert "oscillator" not in [p["name"] for p in eve.get("/v1/problems").json()["items"]]
        assert eve.get("/v1/problems/oscillator").status_code == 404
        denied = eve.post("/v1/campaigns", json=small_campaign("oscillator"))
        assert denied.status_code == 422 and denied.json()["detail"][0]["loc"] == ["body", "problem"]


def _field_of(response) -> list:
    detail = response.json()["detail"]
    return detail[0]["loc"] if isinstance(detail, list) else []


BAD_ARRAYS = {
    "missing targets": ({k: v for k, v in example_arrays().items() if k != "targets"}, "targets"),
    "NaN in train_y": ({**example_arrays(), "train_y": np.full_like(example_arrays()["train_y"], np.nan)}, "train_y"),
    "wrong target length": ({**example_arrays(), "targets": example_arrays()["targets"][:-3]}, "targets"),
    "unexpected array": ({**example_arrays(), "weights": np.ones(3)}, "weights"),
    "string dtype": ({**example_arrays(), "train_x": np.array([["a"]] * 5)}, "train_x"),
}


def test_bad_arrays_name_the_array(writer):
    for case, (arrays, culprit) in BAD_ARRAYS.items():
        response = upload_example(writer, "bad_arrays", files=files(npz(**arrays)))
        assert response.status_code == 422, (case, response.text)
        assert _field_of(response) == ["body", "data"], case
        assert culprit in response.json()["detail"][0]["msg"], (case, response.json())


BAD_FORMS = {
    "no name": (dict(name=None), ["body", "name"]),
    "bad name": (dict(name="1-bad name"), ["body", "name"]),
    "bad kind": (dict(kind="classification"), ["body", "kind"]),
    "bad metric": (dict(metric="accuracy"), ["body", "metric"]),
    "empty description": (dict(description="   "), ["body", "description"]),
    "budget not json": (dict(budget="{wall_seconds: 3"), ["body", "budget"]),
    "budget not an object": (dict(budget="[1, 2]"), ["body", "budget"]),
    "negative wall budget": (dict(budget=json.dumps({"wall_seconds": -1})), ["body", "budget", "wall_seconds"]),
    "unknown budget key": (dict(budget=json.dumps({"gpus": 8})), ["body", "budget", "gpus"]),
    "pde for a regression": (dict(pde=json.dumps({"name": "heat"})), ["body", "pde"]),
    "pinn without pde": (dict(kind="pinn"), ["body", "pde"]),
    "literature not strings": (dict(literature=json.dumps({"paper": 3})), ["body", "literature"]),
}


def test_bad_form_fields_are_named(writer):
    for case, (overrides, loc) in BAD_FORMS.items():
        response = upload_example(writer, **{"name": "bad_form", **overrides})
        assert response.status_code == 422, (case, response.text)
        assert _field_of(response)[: len(loc)] == loc, (case, response.json())
    assert writer.get("/v1/problems/bad_form").status_code == 404  # nothing half-stored


def test_bad_files(writer):
    not_npz_name = upload_example(writer, "f1", files=files(npz(**example_arrays()), "data.csv"))
    assert not_npz_name.status_code == 422 and _field_of(not_npz_name) == ["body", "data"]
    not_zip = upload_example(writer, "f2", files=files(b"this is not a zip archive"))
    assert not_zip.status_code == 422 and _field_of(not_zip) == ["body", "data"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("targets.npy", b"\x93NUMPY garbage header")
    garbage = upload_example(writer, "f3", files=files(buffer.getvalue()))
    assert garbage.status_code == 422 and "targets" in garbage.json()["detail"][0]["msg"]
    missing_file = writer.post("/v1/problems", data={"name": "f4", "kind": "regression", "description": "x"})
    assert missing_file.status_code == 422 and _field_of(missing_file) == ["body", "data"]
    # A leftover scratch directory would show up as a problem; none does.
    assert [p["source"] for p in writer.get("/v1/problems").json()["items"]].count("user") == 0


def test_too_large_is_413_and_conflicts_are_409(writer):
    big = npz(**{**example_arrays(), "train_x": np.random.default_rng(0).normal(size=(400_000, 1))})
    assert len(big) > 2_000_000
    too_large = upload_example(writer, "huge", files=files(big))
    assert too_large.status_code == 413 and "limit" in too_large.json()["detail"]
    assert upload_example(writer, "twice").status_code == 201
    again = upload_example(writer, "twice")
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    builtin = upload_example(writer, "burgers1d")
    assert builtin.status_code == 409 and "built-in" in builtin.json()["detail"]


def test_chunked_body_over_the_limit_is_413(writer):
    def chunks():  # a well-formed multipart body with no Content-Length, larger than the limit
        yield (b'--zz\r\nContent-Disposition: form-data; name="data"; filename="data.npz"\r\n'
               b"Content-Type: application/octet-stream\r\n\r\n")
        for _ in range(40):
            yield b"x" * 100_000
        yield b"\r\n--zz--\r\n"

    response = writer.post("/v1/problems", content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert response.status_code == 413
    json_too_big = writer.post("/v1/campaigns", content=b'{"problem": "' + b"a" * 2_000_000 + b'"}',
                               headers={"Content-Type": "application/json"})
    assert json_too_big.status_code == 413


PDE_EXAMPLE = EXAMPLE.parent / "heat1d_neumann"


def upload_pde(client, name: str, pde: object):
    import yaml

    config = yaml.safe_load((PDE_EXAMPLE / "problem.yaml").read_text())
    return client.post(
        "/v1/problems",
        data={"name": name, "kind": "pinn", "metric": "rel_l2", "description": (PDE_EXAMPLE / "description.md").read_text(),
              "budget": json.dumps({"wall_seconds": 10}), "pde": json.dumps(pde if pde is not None else config["pde"])},
        files={"data": ("data.npz", (PDE_EXAMPLE / "data.npz").read_bytes(), "application/octet-stream")},
    )


HOSTILE_PDES = {
    "import": ("__import__('os').system('touch /tmp/pwned')", "__import__"),
    "attribute": ("u_t - u.__class__", "attribute"),
    "lambda": ("(lambda: 1)()", "lambda"),
    "unknown name": ("u_t - kappa*u_xx", "kappa"),
    "huge exponent": ("u_t - u**1000", "exponent"),
    "derivative of an unknown variable": ("u_t - u_zz", "u_zz"),
}


def test_a_user_pde_uploads_and_hostile_specs_are_422_naming_the_token(writer):
    created = upload_pde(writer, "my_heat", None)
    assert created.status_code == 201, created.text
    assert writer.get("/v1/problems/my_heat").json()["pde"]["equation"] == "u_t = k*u_xx"
    for case, (equation, token) in HOSTILE_PDES.items():
        import yaml

        spec = yaml.safe_load((PDE_EXAMPLE / "problem.yaml").read_text())["pde"]
        response = upload_pde(writer, "hostile", {**spec, "equation": equation})
        assert response.status_code == 422, (case, response.text)
        message = json.dumps(response.json())
        assert "equation" in message and token.lower() in message.lower(), (case, message)
    assert writer.get("/v1/problems/hostile").status_code == 404
    assert writer.get("/v1/healthz").status_code == 200  # the service is unharmed
