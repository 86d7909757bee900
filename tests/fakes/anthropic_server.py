"""A fake Anthropic Messages API (``POST /v1/messages``) for tests.

It enforces the parts of the protocol a client most easily gets wrong: the ``anthropic-version``
header, ``max_tokens`` present, no ``system`` role inside ``messages``, content blocks well formed.
"""

from __future__ import annotations

from typing import Any

from tests.fakes._llm_server import FakeLLMServer, RecordedRequest, default_output_tokens
from tests.fakes.script import Reply

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class FakeAnthropicServer(FakeLLMServer):
    path = "/v1/messages"
    protocol = "anthropic"

    def authorized(self, req: RecordedRequest) -> bool:
        if self.api_key is None:
            return True
        return req.headers.get("x-api-key") == self.api_key

    def validate(self, req: RecordedRequest) -> str | None:
        if "anthropic-version" not in req.headers:
            return "anthropic-version: header is required"
        body = req.json
        if not isinstance(body.get("model"), str) or not body["model"]:
            return "model: Field required"
        if not isinstance(body.get("max_tokens"), int):
            return "max_tokens: Field required"
        if "system" in body and not isinstance(body["system"], (str, list)):
            return "system: Input should be a valid string or list of blocks"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "messages: at least one message is required"
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in {"user", "assistant"}:
                return f"messages.{i}.role: Input should be 'user' or 'assistant'"
            content = m.get("content")
            if isinstance(content, list):
                for block in content:
                    if not isinstance(block, dict) or block.get("type") != "text" or "text" not in block:
                        return f"messages.{i}.content: malformed content block {block!r}"
            elif not isinstance(content, str):
                return f"messages.{i}.content: Input should be a string or a list of blocks"
        return None

    def success_body(self, reply: Reply, req: RecordedRequest, reply_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": f"msg_fake_{reply_id}",
            "type": "message",
            "role": "assistant",
            "model": reply.model or req.model,
            "content": [{"type": "text", "text": reply.text}],
            "stop_reason": reply.finish_reason or "end_turn",
            "stop_sequence": None,
        }
        if reply.usage:
            body["usage"] = {
                "input_tokens": reply.input_tokens,
                "output_tokens": default_output_tokens(reply),
            }
        return body

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"type": "error", "error": {"type": _ERROR_TYPES.get(status, "api_error"), "message": message}}
