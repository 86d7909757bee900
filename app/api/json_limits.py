"""Bounds on the JSON the API parses: nesting depth (422) and size (413), checked on the raw text first.

Python's ``json`` decoder, pydantic and everything downstream (YAML dumps, card rendering, deep copies)
recurse once per nesting level, so a value nested a few thousand levels deep ends in a ``RecursionError``
(a 500) somewhere. No legitimate input comes close: the deepest shipped specs (PDE problems) nest 6 levels.
:func:`check_json` therefore scans the raw text linearly, counting ``[`` and ``{`` outside strings (escapes
honoured), and refuses it before anything parses it:

* JSON request bodies, by :class:`JsonBodyLimit` (an ASGI middleware inside
  :class:`~app.api.limits.BodySizeLimit`, which already bounds their size with 413);
* JSON form fields of problem uploads (``budget``, ``pde``, ``literature``), by
  :func:`app.api.problem_store._json_field`.

Rejections use the API's error shape (:mod:`app.api.errors`): 422 with the field in ``loc``, 413 with the
field named in ``detail``.
"""

from __future__ import annotations

import email.message
import json
import re
from itertools import accumulate
from typing import Any, Callable

from app.api.errors import ApiError

#: Deepest nesting of arrays/objects accepted in any JSON value (legitimate inputs nest at most 6 levels;
#: 32 leaves room and stays far below the interpreter's recursion limit of about 1000 frames).
MAX_JSON_DEPTH = 32

# A string (escapes honoured; an unterminated one runs to the end of the text), removed before counting.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.S)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth_exceeds(raw: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays/objects in ``raw`` nest deeper than ``max_depth`` (brackets inside strings do not count).

    One linear pass, in C but for the final running sum (a megabyte of ``[]`` takes ~20 ms). Not a validator:
    text with a stray closer counts as shallower than it looks, but a parser refuses such text at the stray
    closer, before it reaches anything after it.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return False  # too few brackets to nest that deep, whatever the strings hold
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > max_depth


def check_json(raw: bytes | str, field: list[str | int], *, max_size: int | None = None,
               max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise :class:`ApiError` 413 if ``raw`` is longer than ``max_size`` (characters of a str, bytes of
    bytes), 422 if it nests deeper than ``max_depth``; ``field`` is the request location (``["body", "pde"]``)."""
    name = ".".join(str(part) for part in field[1:]) or str(field[0])
    if max_size is not None and len(raw) > max_size:
        unit = "characters" if isinstance(raw, str) else "bytes"
        raise ApiError(413, f"{name}: {len(raw)} {unit} exceed the limit of {max_size} {unit}", field=field)
    if json_depth_exceeds(raw, max_depth):
        raise ApiError(422, f"{name}: JSON nested deeper than {max_depth} levels", field=field)


def is_json_content_type(value: str | None) -> bool:
    """The content types FastAPI parses as JSON (``application/json``, ``application/*+json``)."""
    if not value:
        return False
    message = email.message.Message()
    message["content-type"] = value
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


class JsonBodyLimit:
    """ASGI middleware: refuse a JSON request body larger than ``max_bytes`` with 413 or nested deeper than
    ``max_depth`` with 422, before FastAPI parses it. Bodies without a content type are checked too (harmless,
    and safe should FastAPI's strict content-type default change).

    It sits inside :class:`~app.api.limits.BodySizeLimit`; ``max_bytes`` (the ordinary body limit) also holds
    on upload routes, whose larger limit is for multipart forms, so a JSON body is never buffered beyond it.
    """

    def __init__(self, app: Any, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        content_type = None
        for key, value in scope.get("headers") or []:
            if key == b"content-type":
                content_type = value.decode("latin-1")
        if content_type is not None and not is_json_content_type(content_type):
            await self.app(scope, receive, send)
            return
        # Read the whole body (BodySizeLimit, outside, has bounded it) and replay it to the app.
        chunks: list[bytes] = []
        pending: list[dict[str, Any]] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                pending.append(message)  # a disconnect: let the app see it
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await _reply(send, ApiError(413, f"body: JSON request body exceeds the limit of {self.max_bytes} "
                                                 "bytes", field=["body"]), close=True)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if not pending and json_depth_exceeds(body, self.max_depth):
            await _reply(send, ApiError(422, f"body: JSON nested deeper than {self.max_depth} levels", field=["body"]))
            return
        pending.insert(0, {"type": "http.request", "body": body, "more_body": False})

        async def replay() -> dict[str, Any]:
            if pending:
                return pending.pop(0)
            return await receive()

        await self.app(scope, replay, send)


async def _reply(send: Callable, error: ApiError, *, close: bool = False) -> None:
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:  # the rest of the body was not read
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
