"""Limits: request body size (413), and how many campaigns may be active per user and in total (429).

The body limit is an ASGI middleware rather than a route check so that nothing reads (or spools to disk) a
body larger than allowed: a declared ``Content-Length`` over the limit is refused before a byte is read,
and a chunked body is counted as it streams and cut off at the limit.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from sqlalchemy.orm import Session

from app.api.auth import Principal
from app.api.errors import ApiError
from app.workers.queue import active_campaign_count

UPLOAD_PATHS = ("/v1/problems",)


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuse bodies above ``limit_for(path)`` bytes with 413 (upload routes get a larger limit)."""

    def __init__(self, app: Any, *, default_limit: int, upload_limit: int) -> None:
        self.app = app
        self.default_limit = default_limit
        self.upload_limit = upload_limit

    def limit_for(self, path: str) -> int:
        return self.upload_limit if path.rstrip("/") in UPLOAD_PATHS else self.default_limit

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _reply(send, 400, "Content-Length is not an integer")
                return
            if size > limit:
                await _reply(send, 413, f"request body of {size} bytes exceeds the limit of {limit} bytes")
                return
        state = {"received": 0, "too_large": False, "started": False}

        async def counted_receive() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    state["too_large"] = True
                    raise _TooLarge()
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            if state["too_large"]:
                return  # whatever the app made of the cut-off body, the answer is 413
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not state["too_large"] or state["started"]:
                raise
        if state["too_large"] and not state["started"]:
            await _reply(send, 413, f"request body exceeds the limit of {limit} bytes")


async def _reply(send: Callable, status: int, message: str) -> None:
    body = json.dumps({"detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def check_campaign_admission(session: Session, principal: Principal, *, per_user: int, total: int) -> None:
    """429 when starting one more campaign would exceed the user's or the service's active limit."""
    active_total = active_campaign_count(session)
    if active_total >= total:
        raise ApiError(429, f"the service already runs or queues {active_total} campaigns (limit {total}); "
                            "try again when one finishes")
    if principal.anonymous:
        return
    mine = active_campaign_count(session, owner_id=principal.user_id, any_owner=False)
    if mine >= per_user:
        raise ApiError(429, f"you already run or queue {mine} campaigns (limit {per_user}); pause, cancel "
                            "or wait for one first")
