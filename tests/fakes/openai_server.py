"""A fake OpenAI-compatible ``/v1/chat/completions`` server for tests.

with FakeOpenAIServer(script=["hello", rate_limited("2"), Reply("ok", input_tokens=5)]) as srv:
    provider = OpenAICompatProvider(base_url=srv.base_url, model="gpt-4o")
    ...
    assert srv.requests[0].headers["authorization"] == "Bearer ..."
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from tests.fakes._llm_server import FakeLLMServer, RecordedRequest, default_output_tokens
from tests.fakes.script import Reply, ToolCall

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}


class FakeOpenAIServer(FakeLLMServer):
    path = "/v1/chat/completions"
    protocol = "openai"

    def __init__(self, *args: Any, response_format_types: Iterable[str] | None = None, **kwargs: Any) -> None:
        """``response_format_types``: the ``response_format.type`` values this server accepts; any other
        gets the 422 that llama-cpp-python's FastAPI server sends (it takes ``text`` and ``json_object``,
        with an optional ``schema`` beside the type). ``None``: OpenAI's three types."""
        super().__init__(*args, **kwargs)
        self.response_format_types = frozenset(response_format_types) if response_format_types is not None else None

    def _respond(self, h: Any, req: RecordedRequest) -> None:
        fmt = req.json.get("response_format") if isinstance(req.json, dict) else None
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if self.response_format_types is not None and fmt is not None and kind not in self.response_format_types:
            allowed = " or ".join(repr(t) for t in sorted(self.response_format_types))
            detail = [{"type": "literal_error", "loc": ["body", "response_format", "type"],
                       "msg": f"Input should be {allowed}", "input": kind}]
            self._send(h, 422, json.dumps({"detail": detail}).encode(), {})
            return
        super()._respond(h, req)

    @property
    def base_url(self) -> str:
        """What to pass as ``base_url``: includes ``/v1`` like the real services document."""
        return f"{self.root_url}/v1"

    def authorized(self, req: RecordedRequest) -> bool:
        if self.api_key is None:
            return True
        return req.headers.get("authorization") == f"Bearer {self.api_key}"

    def validate(self, req: RecordedRequest) -> str | None:
        body = req.json
        if not isinstance(body.get("model"), str) or not body["model"]:
            return "you must provide a model parameter"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "'messages' must be a non-empty array"
        for m in messages:
            if not isinstance(m, dict) or m.get("role") not in {"system", "user", "assistant", "developer"}:
                return f"invalid message {m!r}"
        fmt = body.get("response_format")
        if fmt is not None:
            if not isinstance(fmt, dict) or fmt.get("type") not in {"text", "json_object", "json_schema"}:
                return f"response_format: invalid value {fmt!r}"
            if fmt["type"] == "json_schema":
                spec = fmt.get("json_schema")
                if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                    return "response_format.json_schema.name: Field required"
                if not isinstance(spec.get("schema"), dict) or spec["schema"].get("type") != "object":
                    return "response_format.json_schema.schema: must be a JSON schema of type 'object'"
        return None

    def max_tokens_of(self, req: RecordedRequest) -> int | None:
        body = req.json
        value = body.get("max_completion_tokens", body.get("max_tokens"))
        return value if isinstance(value, int) else None

    def tool_call_body(self, call: ToolCall, req: RecordedRequest, reply_id: str) -> dict[str, Any]:
        arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
        out = call.output_tokens if call.output_tokens is not None else max(1, len(arguments) // 4)
        return {
            "id": f"chatcmpl-fake-{reply_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [{
                    "id": f"call_{reply_id}", "type": "function",
                    "function": {"name": call.name, "arguments": arguments},
                }]},
                "finish_reason": "tool_calls",
            }],
            "usage": {"prompt_tokens": call.input_tokens, "completion_tokens": out,
                      "total_tokens": call.input_tokens + out},
        }

    def success_body(self, reply: Reply, req: RecordedRequest, reply_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": f"chatcmpl-fake-{reply_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or req.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text},
                    "finish_reason": reply.finish_reason or "stop",
                }
            ],
        }
        if reply.usage:
            out = default_output_tokens(reply)
            body["usage"] = {
                "prompt_tokens": reply.input_tokens,
                "completion_tokens": out,
                "total_tokens": reply.input_tokens + out,
            }
        return body

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {
            "error": {
                "message": message,
                "type": _ERROR_TYPES.get(status, "server_error"),
                "param": None,
                "code": None,
            }
        }
