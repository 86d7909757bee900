"""API keys: created by the CLI, stored hashed, presented as ``Authorization: Bearer KEY``.

A key looks like ``asml_<lookup>_<secret>``: ``lookup`` (12 hex characters, stored in clear as
``api_keys.key_prefix``) finds the row, and the row keeps only the sha256 of the whole key. The secret has
256 bits of entropy, so a plain (unsalted, fast) hash is enough: there is nothing to brute-force that a
salt or a slow hash would protect, and verification stays cheap on every request. The comparison is
constant-time.

Scopes: ``read`` (every GET) and ``write`` (create, cancel, pause, resume, delete, upload; a write key
can also read). An admin key sees every user's campaigns and problems; other keys see their owner's only.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, update

from app.api.errors import ApiError
from app.db import repository as repo
from app.db.models import ApiKey, User
from app.db.session import Database
from app.db.types import utcnow

log = logging.getLogger(__name__)
KEY_TAG = "asml"
Scope = Literal["read", "write"]
SCOPES_FOR: dict[str, tuple[str, ...]] = {"read": ("read",), "write": ("read", "write")}
LAST_USED_EVERY_S = 60.0

bearer = HTTPBearer(auto_error=False, description="An API key from `agentic-sciml keys create`.")


@dataclass(frozen=True)
class Principal:
    """Who is calling. With auth disabled every caller is the anonymous admin."""

    user_id: int | None
    username: str
    key_id: int | None
    key_prefix: str | None
    scopes: frozenset[str]
    is_admin: bool

    @property
    def anonymous(self) -> bool:
        return self.key_id is None

    def can_see(self, owner_id: int | None) -> bool:
        return self.is_admin or (owner_id is not None and owner_id == self.user_id)


ANONYMOUS_ADMIN = Principal(user_id=None, username="anonymous", key_id=None, key_prefix=None,
                            scopes=frozenset({"read", "write"}), is_admin=True)


# -- keys -----------------------------------------------------------------------------------------------------
def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> tuple[str, str, str]:
    """A fresh key: (plaintext, lookup prefix, sha256)."""
    lookup = secrets.token_hex(6)
    key = f"{KEY_TAG}_{lookup}_{secrets.token_urlsafe(32)}"
    return key, lookup, hash_key(key)


def lookup_of(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_TAG or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


@dataclass(frozen=True)
class CreatedKey:
    key: str
    key_id: int
    prefix: str
    user_id: int
    username: str
    scopes: list[str]
    is_admin: bool
    name: str


def create_key(db: Database, *, name: str, scope: Scope, admin: bool = False, username: str | None = None,
               expires_at: datetime | None = None) -> CreatedKey:
    """Create a key (and its user, if new). The plaintext is returned once and never stored."""
    if scope not in SCOPES_FOR:
        raise ValueError(f"scope must be one of {sorted(SCOPES_FOR)}, not {scope!r}")
    username = username or name
    key, lookup, digest = generate_key()
    with db.session_scope() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            user = repo.create_user(s, username, is_admin=admin)
        row = repo.add_api_key(s, user.id, key_prefix=lookup, key_hash=digest, scopes=SCOPES_FOR[scope],
                               is_admin=admin, name=name, expires_at=expires_at)
        return CreatedKey(key=key, key_id=row.id, prefix=lookup, user_id=user.id, username=user.username,
                          scopes=list(row.scopes), is_admin=admin, name=name)


def revoke_key(db: Database, prefix: str) -> bool:
    with db.session_scope() as s:
        row = repo.get_api_key_by_prefix(s, prefix)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        return True


def list_keys(db: Database) -> list[dict[str, object]]:
    with db.session_scope(readonly=True) as s:
        rows = s.execute(select(ApiKey, User.username).join(User, User.id == ApiKey.user_id).order_by(ApiKey.id))
        return [{"prefix": k.key_prefix, "name": k.name, "user": username, "scopes": list(k.scopes),
                 "admin": k.is_admin, "created_at": k.created_at.isoformat(),
                 "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                 "revoked": k.revoked_at is not None} for k, username in rows]


class KeyVerifier:
    """Checks presented keys against the database; records ``last_used_at`` at most once a minute per key.

    A verified key is remembered for ``cache_seconds`` (keyed by its hash, never the key itself), which spares
    a query on most requests; a revocation therefore takes effect within that delay.
    """

    def __init__(self, db: Database, cache_seconds: float = 5.0) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._last_touch: dict[int, float] = {}
        self._lock = threading.Lock()

    def verify(self, key: str) -> Principal | None:
        digest = hash_key(key)
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and time.monotonic() - hit[0] < self.cache_seconds:
            return hit[1]
        principal = self._verify(key)
        with self._lock:
            if principal is None:
                self._cache.pop(digest, None)
            elif self.cache_seconds > 0:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = (time.monotonic(), principal)
        return principal

    def _verify(self, key: str) -> Principal | None:
        lookup = lookup_of(key)
        if lookup is None:
            return None
        now = utcnow()
        with self.db.session_scope(readonly=True) as s:
            row = repo.get_api_key_by_prefix(s, lookup)
            if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)):
                return None
            if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
                return None
            user = s.get(User, row.user_id)
            if user is None or user.disabled_at is not None:
                return None
            principal = Principal(user_id=user.id, username=user.username, key_id=row.id,
                                  key_prefix=row.key_prefix, scopes=frozenset(row.scopes or ()),
                                  is_admin=bool(row.is_admin or user.is_admin))
        self._touch(principal.key_id)
        return principal

    def _touch(self, key_id: int | None) -> None:
        if key_id is None:
            return
        with self._lock:
            last = self._last_touch.get(key_id, 0.0)
            if time.monotonic() - last < LAST_USED_EVERY_S:
                return
            self._last_touch[key_id] = time.monotonic()
        try:
            with self.db.session_scope() as s:
                s.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow()))
        except Exception:  # bookkeeping must never fail a request
            log.debug("could not record the use of key %s", key_id, exc_info=True)


# -- dependencies ---------------------------------------------------------------------------------------------
def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": "Bearer"})


def current_principal(request: Request,
                      credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
    ctx = request.app.state.ctx
    if not ctx.service.auth_required:
        return ANONYMOUS_ADMIN
    if credentials is None or not credentials.credentials:
        raise _unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    principal = ctx.verifier.verify(credentials.credentials)
    if principal is None:
        raise _unauthorized("invalid, revoked or expired API key")
    return principal


def require_read(principal: Principal = Depends(current_principal)) -> Principal:
    if "read" not in principal.scopes:
        raise ApiError(403, "this API key lacks the 'read' scope")
    return principal


def require_write(principal: Principal = Depends(current_principal)) -> Principal:
    if "write" not in principal.scopes:
        raise ApiError(403, "this API key lacks the 'write' scope")
    return principal
