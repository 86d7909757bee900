"""A fake OpenAI-compatible ``/v1/chat/completions`` server for tests.

with FakeOpenAIServer(script=["hello", rate_limited("2"), Reply("ok", input_tokens=5)]) as srv:
    provider = OpenAICompatProvider(base_url=srv.base_url, model="gpt-4o")
    ...
    assert srv.requests[0].headers["authorization"] == "Bearer ..."
"""

from __future__ import annotations

import time
from typing import Any

from tests.fakes._llm_server import FakeLLMServer, RecordedRequest, default_output_tokens
from tests.fakes.script import Reply

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
        return None

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
