"""Content-addressed artifact store: layout, dedup, atomic publication, input validation."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest

from app.db.artifacts import ArtifactNotFound, ArtifactStore


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "store")


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_get_and_fan_out_layout(store: ArtifactStore) -> None:
    data = b"relative L2 error: 0.0123\n"
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.path(digest) == store.root / digest[:2] / digest[2:4] / digest
    assert store.exists(digest) and store.get(digest) == data and store.size(digest) == len(data)
    with store.open(digest) as handle:
        assert handle.read() == data
    assert store.verify(digest)
    assert list(store) == [digest]
    assert stat.S_IMODE(store.path(digest).stat().st_mode) == 0o444


def test_dedup_writes_once(store: ArtifactStore, tmp_path: Path) -> None:
    digest = store.put(b"same bytes")
    first_inode = store.path(digest).stat().st_ino
    source = tmp_path / "src.bin"
    source.write_bytes(b"same bytes")
    assert store.put(source) == digest
    assert store.put(bytearray(b"same bytes")) == digest
    assert store.put(memoryview(b"same bytes")) == digest
    assert store.path(digest).stat().st_ino == first_inode  # not rewritten
    assert _files(store.root) == [store.path(digest)]


def test_put_file_streams_and_text_helpers(store: ArtifactStore, tmp_path: Path) -> None:
    big = tmp_path / "preds.bin"
    payload = os.urandom(3 * (1 << 20) + 17)  # several read chunks
    big.write_bytes(payload)
    digest = store.put(big)
    assert digest == hashlib.sha256(payload).hexdigest() and store.get(digest) == payload
    text_digest = store.put_text("def solve(task): ...\n")
    assert store.get_text(text_digest) == "def solve(task): ...\n"


def test_atomic_write_leaves_nothing_on_failure(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk vanished")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk vanished"):
        store.put(b"never published")
    digest = hashlib.sha256(b"never published").hexdigest()
    assert not store.exists(digest)
    assert _files(store.root) == []  # the temporary file was removed too


def test_file_changing_while_stored_is_refused(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "moving.bin"
    source.write_bytes(b"version one")
    original_publish = store._publish

    def publish_after_edit(digest, write):  # type: ignore[no-untyped-def]
        source.write_bytes(b"version two!")
        return original_publish(digest, write)

    store._publish = publish_after_edit  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="changed"):
        store.put(source)
    assert _files(store.root) == []


def test_concurrent_writers_of_the_same_blob(store: ArtifactStore) -> None:
    data = os.urandom(1 << 18)
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def put() -> None:
        try:
            start.wait()
            # Bypass the exists() shortcut so every thread really races through the rename.
            digest = hashlib.sha256(data).hexdigest()
            store._publish(digest, lambda handle: handle.write(data))
            results.append(digest)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(set(results)) == 1
    assert store.get(results[0]) == data
    assert _files(store.root) == [store.path(results[0])]


def test_validation_and_missing(store: ArtifactStore) -> None:
    with pytest.raises(TypeError):
        store.put("a string is ambiguous")  # type: ignore[arg-type]
    for bad in ("../../etc/passwd", "ABC", "g" * 64, "A" * 64, ""):
        with pytest.raises(ValueError):
            store.path(bad)
    missing = "0" * 64
    assert not store.exists(missing)
    with pytest.raises(ArtifactNotFound):
        store.get(missing)
    with pytest.raises(ArtifactNotFound):
        store.open(missing)
    assert store.delete(missing) is False
    digest = store.put(b"x")
    assert store.delete(digest) is True and not store.exists(digest)
