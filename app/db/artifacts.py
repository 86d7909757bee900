"""Content-addressed blob store on the local file system.

A blob lives at ``<root>/<h[0:2]>/<h[2:4]>/<h>`` where ``h`` is the hex sha256 of its bytes. Because
the name is the content, writes are idempotent and deduplicate for free, and a reader never sees a
blob change. Writes go to a temporary file in the destination directory and are published with
``os.replace`` (atomic on POSIX within one file system), so a crash or a concurrent writer can leave
at worst a stray ``.tmp-*`` file, never a truncated blob under a real name.

The database only records hash, size and media type (``artifacts`` table, see
``repository.store_artifact``); this module knows nothing about the database.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

_HASH_RE = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


class ArtifactNotFound(KeyError):
    """No blob with this hash in the store."""


def sha256_bytes(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_hash(digest: str) -> str:
    # Also the guard against path traversal: only 64 lowercase hex characters reach the file system.
    if not isinstance(digest, str) or not _HASH_RE.match(digest):
        raise ValueError(f"not a sha256 hex digest: {digest!r}")
    return digest


class ArtifactStore:
    """Blobs keyed by sha256 under ``root`` (created on first use)."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync  # off only in tests that hammer the store; durability needs it on

    def path(self, digest: str) -> Path:
        """Where the blob with this hash lives (whether or not it exists yet)."""
        _check_hash(digest)
        return self.root / digest[:2] / digest[2:4] / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put(self, data: bytes | bytearray | memoryview | os.PathLike[str]) -> str:
        """Store bytes, or the contents of a file given as a ``Path``; return the sha256 hex digest.

        ``str`` is refused on purpose: it is ambiguous between text to store and a file name.
        """
        if isinstance(data, (bytes, bytearray, memoryview)):
            return self._put_bytes(bytes(data))
        if isinstance(data, os.PathLike):
            return self._put_file(Path(data))
        raise TypeError(
            f"put() takes bytes or a path-like object, not {type(data).__name__}; "
            "encode text first or wrap a file name in pathlib.Path"
        )

    def put_text(self, text: str, encoding: str = "utf-8") -> str:
        return self._put_bytes(text.encode(encoding))

    def get(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            raise ArtifactNotFound(digest) from None

    def get_text(self, digest: str, encoding: str = "utf-8") -> str:
        return self.get(digest).decode(encoding)

    def open(self, digest: str) -> BinaryIO:
        """Binary read handle, for blobs too large to hold in memory."""
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise ArtifactNotFound(digest) from None

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise ArtifactNotFound(digest) from None

    def delete(self, digest: str) -> bool:
        """Remove a blob (for garbage collection); True if it was there."""
        try:
            self.path(digest).unlink()
            return True
        except FileNotFoundError:
            return False

    def verify(self, digest: str) -> bool:
        """Re-hash the stored bytes; False means on-disk corruption."""
        return sha256_file(self.path(digest)) == digest

    def __iter__(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for path in self.root.glob("??/??/*"):
            if _HASH_RE.match(path.name):
                yield path.name

    # ------------------------------------------------------------------------------------- internals

    def _put_bytes(self, data: bytes) -> str:
        digest = sha256_bytes(data)
        if self.exists(digest):
            return digest
        self._publish(digest, lambda handle: handle.write(data))
        return digest

    def _put_file(self, source: Path) -> str:
        digest = sha256_file(source)
        if self.exists(digest):
            return digest

        def copy(handle: BinaryIO) -> None:
            hasher = hashlib.sha256()
            with open(source, "rb") as src:
                for chunk in iter(lambda: src.read(_CHUNK), b""):
                    hasher.update(chunk)
                    handle.write(chunk)
            # The file may have changed between hashing and copying; never file it under a wrong name.
            if hasher.hexdigest() != digest:
                raise RuntimeError(f"{source} changed while being stored")

        self._publish(digest, copy)
        return digest

    def _publish(self, digest: str, write: Callable[[BinaryIO], object]) -> None:
        final = self.path(digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                if self.fsync:
                    os.fsync(handle.fileno())
            os.chmod(tmp_name, 0o444)  # blobs are immutable; make accidental edits fail loudly
            # If another writer won the race the bytes are identical, so replacing is harmless.
            os.replace(tmp_name, final)
        except BaseException:
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass
            raise
        if self.fsync:
            _fsync_dir(final.parent)


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself; best effort (not every file system allows opening a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
