"""A fake Anthropic Messages API (``POST /v1/messages``) for tests.

It enforces the parts of the protocol a client most easily gets wrong: the ``anthropic-version``
header, ``max_tokens`` present, no ``system`` role inside ``messages``, content blocks well formed, a
``tool_choice`` that names an offered tool. Like the real API it answers a forced tool choice with a
``tool_use`` block: the scripted text's JSON object (the answer itself or its ```json block) becomes the
tool input; a scripted text with no JSON object stays a text block.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes._llm_server import FakeLLMServer, RecordedRequest, default_output_tokens
from tests.fakes.script import Reply, ToolCall

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
        tools = body.get("tools")
        if tools is not None and (not isinstance(tools, list) or not all(
            isinstance(t, dict) and isinstance(t.get("name"), str) and isinstance(t.get("input_schema"), dict)
            for t in tools
        )):
            return "tools: each tool needs a name and an input_schema object"
        choice = body.get("tool_choice")
        if choice is not None:
            names = {t["name"] for t in tools or []}
            if not isinstance(choice, dict) or choice.get("type") not in {"auto", "any", "tool", "none"}:
                return f"tool_choice: invalid value {choice!r}"
            if choice["type"] == "tool" and choice.get("name") not in names:
                return f"tool_choice.name: {choice.get('name')!r} is not one of the tools offered"
        return None

    def refusal_message(self, field: str) -> str:
        return f"{field}: Extra inputs are not permitted"

    def max_tokens_of(self, req: RecordedRequest) -> int | None:
        value = req.json.get("max_tokens")
        return value if isinstance(value, int) else None

    def length_reason(self) -> str:
        return "max_tokens"

    def forced_tool(self, req: RecordedRequest) -> str | None:
        choice = req.json.get("tool_choice")
        return choice.get("name") if isinstance(choice, dict) and choice.get("type") == "tool" else None

    def tool_call_body(self, call: ToolCall, req: RecordedRequest, reply_id: str) -> dict[str, Any]:
        arguments = call.arguments
        if isinstance(arguments, str):  # the API always sends an object; a raw string is kept as text
            content: list[dict[str, Any]] = [{"type": "text", "text": arguments}]
        else:
            content = [{"type": "tool_use", "id": f"toolu_{reply_id}", "name": self.forced_tool(req) or call.name,
                        "input": arguments}]
        return {"id": f"msg_fake_{reply_id}", "type": "message", "role": "assistant", "model": req.model,
                "content": content, "stop_reason": "tool_use", "stop_sequence": None,
                "usage": {"input_tokens": call.input_tokens, "output_tokens": _tool_tokens(call)}}

    def success_body(self, reply: Reply, req: RecordedRequest, reply_id: str) -> dict[str, Any]:
        tool = self.forced_tool(req)
        found = _json_object(reply.text) if tool is not None and reply.finish_reason is None else None
        if found is not None:
            call = ToolCall(found, name=tool, input_tokens=reply.input_tokens, output_tokens=reply.output_tokens)
            return self.tool_call_body(call, req, reply_id)
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


def _json_object(text: str) -> dict[str, Any] | None:
    """The JSON object a scripted answer holds: the whole text, else its last ```json block."""
    candidates = [text.strip(), *reversed(re.findall(r"```(?:json)?\s*\n(.*?)```", text, re.DOTALL))]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _tool_tokens(call: ToolCall) -> int:
    if call.output_tokens is not None:
        return call.output_tokens
    text = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
    return max(1, len(text) // 4)
