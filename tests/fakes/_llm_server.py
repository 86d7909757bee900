"""Shared machinery of the fake LLM servers: a threaded ``http.server`` on 127.0.0.1 with a script.

``http.server`` is used rather than an ASGI stack so the fakes need no extra dependencies and can do
things a framework would tidy away (drop a connection mid-request, send broken JSON, hang).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.script import Disconnect, Hang, Malformed, Reply, ScriptItem, SlowStart, Status, ToolCall

_ITEMS = (Reply, ToolCall, SlowStart, Status, Hang, Disconnect, Malformed)
CHARS_PER_TOKEN = 4  # how the fakes count tokens: the same rough rule as the client's estimate


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any  # None when the body was not JSON
    received_at: float = field(default_factory=time.monotonic)

    @property
    def model(self) -> str | None:
        return self.json.get("model") if isinstance(self.json, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.json.get("messages", [])) if isinstance(self.json, dict) else []


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeLLMServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        self.server.fake._handle(self)

    def do_GET(self) -> None:  # noqa: N802
        self.server.fake._send_json(self, 404, self.server.fake.error_body(404, "not found"))

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


class FakeLLMServer:
    """Base class; subclasses define the protocol's path, success body, error body and validation."""

    path: str = "/"
    protocol: str = "fake"

    def __init__(
        self,
        script: Iterable[ScriptItem] = (),
        *,
        default: ScriptItem | None = None,
        api_key: str | None = None,
        refuse_fields: Iterable[str] = (),
        enforce_max_tokens: bool = True,
    ) -> None:
        """``default``: answer used once the script runs out (otherwise a 500 says it ran out).
        ``api_key``: when set, requests without this key get the protocol's 401.
        ``refuse_fields``: top-level request fields this server does not support; a request carrying one
        gets a 400 naming it, as servers without structured output answer ``response_format`` or ``tools``.
        ``enforce_max_tokens``: cut answers longer than the request's token limit (4 characters a token)
        and say so in the finish/stop reason, as every real server does."""
        self.refuse_fields = frozenset(refuse_fields)
        self.enforce_max_tokens = enforce_max_tokens
        self._script: deque[ScriptItem] = deque(script)
        self.default = default
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_concurrent = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._ids = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True, name=type(self).__name__
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wakes hanging handlers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        """Stays readable after close, so assertions can mention the URL."""
        assert self._port is not None, "server not started"
        return self._port

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url

    # -- script -----------------------------------------------------------------------------------

    def push(self, *items: ScriptItem) -> None:
        with self._lock:
            self._script.extend(items)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    def _next_item(self, req: RecordedRequest) -> ScriptItem:
        with self._lock:
            item = self._script.popleft() if self._script else self.default
        if item is None:
            return Status(500, message="fake server script exhausted")
        while callable(item) and not isinstance(item, _ITEMS):
            item = item(req)
        return item

    # -- protocol hooks -----------------------------------------------------------------------------

    def authorized(self, req: RecordedRequest) -> bool:
        raise NotImplementedError

    def validate(self, req: RecordedRequest) -> str | None:
        """A reason to reject the request with 400, mimicking the real API's checks."""
        return None

    def success_body(self, reply: Reply, req: RecordedRequest, reply_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def tool_call_body(self, call: ToolCall, req: RecordedRequest, reply_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def refusal_message(self, field: str) -> str:
        return f"{field}: this server does not support the '{field}' parameter"

    def max_tokens_of(self, req: RecordedRequest) -> int | None:
        """The output-token limit the request asked for (protocols name it differently)."""
        return None

    def length_reason(self) -> str:
        return "length"

    def cut_to_limit(self, reply: Reply, req: RecordedRequest) -> Reply:
        """``reply`` as the server would send it under the request's token limit."""
        limit = self.max_tokens_of(req) if self.enforce_max_tokens else None
        if limit is None or default_output_tokens(reply) <= limit:
            return reply
        return replace(reply, text=reply.text[: limit * CHARS_PER_TOKEN], output_tokens=limit,
                       finish_reason=self.length_reason())

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        raise NotImplementedError

    # -- request handling --------------------------------------------------------------------------

    def _handle(self, h: _Handler) -> None:
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        req = RecordedRequest(
            method=h.command,
            path=h.path,
            headers={k.lower(): v for k, v in h.headers.items()},
            body=raw,
            json=parsed,
        )
        with self._lock:
            self.requests.append(req)
            self.in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self.in_flight)
        try:
            self._respond(h, req)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _respond(self, h: _Handler, req: RecordedRequest) -> None:
        if req.path.split("?")[0] != self.path:
            self._send_json(h, 404, self.error_body(404, f"unknown path {req.path}"))
            return
        if not self.authorized(req):
            self._send_json(h, 401, self.error_body(401, "invalid api key"))
            return
        if not isinstance(req.json, dict):
            self._send_json(h, 400, self.error_body(400, "request body is not a JSON object"))
            return
        refused = sorted(f for f in self.refuse_fields if f in req.json)
        if refused:
            self._send_json(h, 400, self.error_body(400, self.refusal_message(refused[0])))
            return
        problem = self.validate(req)
        if problem is not None:
            self._send_json(h, 400, self.error_body(400, problem))
            return

        item = self._next_item(req)
        if isinstance(item, str):
            item = Reply(item)
        if isinstance(item, Reply):
            self._closing.wait(item.delay_s)
            body = self.success_body(self.cut_to_limit(item, req), req, str(next(self._ids)))
            self._send_json(h, 200, body)
        elif isinstance(item, ToolCall):
            self._closing.wait(item.delay_s)
            self._send_json(h, 200, self.tool_call_body(item, req, str(next(self._ids))))
        elif isinstance(item, SlowStart):
            if self._closing.wait(item.first_byte_s):
                return
            body = json.dumps(self.success_body(self.cut_to_limit(item.reply, req), req,
                                                str(next(self._ids)))).encode()
            self._send_slowly(h, body, item.chunks, item.gap_s)
        elif isinstance(item, Status):
            self._closing.wait(item.delay_s)
            body_bytes = (
                item.body
                if item.body is not None
                else json.dumps(self.error_body(item.code, item.message)).encode()
            )
            self._send(h, item.code, body_bytes, item.headers)
        elif isinstance(item, Malformed):
            self._send(h, item.status, item.body, {})
        elif isinstance(item, Hang):
            self._closing.wait(item.seconds)
            h.close_connection = True
        elif isinstance(item, Disconnect):
            h.close_connection = True
        else:
            raise TypeError(f"unknown script item {item!r}")

    def _send_slowly(self, h: _Handler, body: bytes, chunks: int, gap_s: float) -> None:
        size = max(1, -(-len(body) // max(1, chunks)))
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            for start in range(0, len(body), size):
                if start and self._closing.wait(gap_s):
                    return
                h.wfile.write(body[start:start + size])
                h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True

    def _send_json(self, h: _Handler, status: int, body: dict[str, Any]) -> None:
        self._send(h, status, json.dumps(body).encode(), {})

    @staticmethod
    def _send(h: _Handler, status: int, body: bytes, headers: Any) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            for k, v in dict(headers).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body)
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True  # the client gave up (timeout); nothing to tell it


def default_output_tokens(reply: Reply) -> int:
    return reply.output_tokens if reply.output_tokens is not None else max(1, len(reply.text) // 4)
