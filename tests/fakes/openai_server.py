"""A fake OpenAI-compatible ``/v1/chat/completions`` server for tests.

with FakeOpenAIServer(script=["hello", rate_limited("2"), Reply("ok", input_tokens=5)]) as srv:
    provider = OpenAICompatProvider(base_url=srv.base_url, model="gpt-4o")
    ...
    assert srv.requests[0].headers["authorization"] == "Bearer ..."
"""

from __future__ import annotations

import json
import time
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
