"""The Anthropic Messages API (``POST /v1/messages``).

Differences from the OpenAI shape that matter here: the system prompt is a top-level ``system`` field,
``max_tokens`` is mandatory, content is a list of typed blocks, stop reasons use their own vocabulary
(normalised below to OpenAI's so callers check one set), and there is no JSON mode: a JSON answer is
requested by an instruction in the system prompt, or, when the request carries a JSON schema, by a tool
whose input schema is that schema and a ``tool_choice`` forcing the model to call it; the tool call's
``input`` is then the answer.
"""

from __future__ import annotations

import json
from typing import Any

from agents.providers.base import ChatRequest, ProviderResponseError
from agents.providers.http_provider import HttpChatProvider, ParsedReply

DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
# Required by the API. 4,096 cut whole candidate modules short; 8,192 is within every current model's
# output limit (Claude 3 Haiku's 4,096 excepted: configure max_tokens for it).
DEFAULT_MAX_TOKENS = 8192

_JSON_INSTRUCTION = "Respond with a single JSON object and nothing else: no prose, no code fences."

_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


class AnthropicProvider(HttpChatProvider):
    def __init__(
        self,
        *,
        model: str,
        base_url: str = DEFAULT_ANTHROPIC_BASE_URL,
        name: str = "anthropic",
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url=base_url, model=model, name=name, **kwargs)

    @property
    def url(self) -> str:
        if self.base_url.endswith("/messages"):
            return self.base_url
        if self.base_url.endswith("/v1"):
            return f"{self.base_url}/messages"
        return f"{self.base_url}/v1/messages"

    def auth_headers(self, key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if key:
            headers["x-api-key"] = key
        return headers

    def build_payload(self, request: ChatRequest, model: str) -> dict[str, Any]:
        system_parts = [m.content for m in request.messages if m.role == "system"]
        if request.json_mode:
            system_parts.append(_JSON_INSTRUCTION)
        # Consecutive turns of the same role are merged into one turn with several text blocks, which
        # keeps the strict user/assistant alternation older API versions required.
        turns: list[dict[str, Any]] = []
        for m in request.messages:
            if m.role == "system":
                continue
            block = {"type": "text", "text": m.content}
            if turns and turns[-1]["role"] == m.role:
                turns[-1]["content"].append(block)
            else:
                turns.append({"role": m.role, "content": [block]})
        payload: dict[str, Any] = {
            "model": model,
            "max_tokens": self._max_tokens(request) or DEFAULT_MAX_TOKENS,
            "messages": turns,
        }
        if system_parts:
            payload["system"] = "\n\n".join(system_parts)
        temperature = self._temperature(request)
        if temperature is not None:
            payload["temperature"] = min(temperature, 1.0)  # Anthropic's range is [0, 1]
        if request.stop:
            payload["stop_sequences"] = list(request.stop)
        if request.response_schema is not None:
            spec = request.response_schema
            payload["tools"] = [{
                "name": spec.name,
                "description": spec.description or f"Give your answer as the input of this tool ({spec.name}).",
                "input_schema": spec.schema_,
            }]
            payload["tool_choice"] = {"type": "tool", "name": spec.name}
        return payload

    def parse_reply(self, data: dict[str, Any], model: str) -> ParsedReply:
        content = data.get("content")
        if not isinstance(content, list):
            raise ProviderResponseError("response has no 'content' list", provider=self.name, model=model)
        text = "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
        tool_inputs = [b.get("input") for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]
        tool_call = bool(tool_inputs) and isinstance(tool_inputs[0], dict)
        if tool_call:
            # A forced tool call: its input is the answer; any text beside it is the model thinking aloud.
            text = json.dumps(tool_inputs[0], ensure_ascii=False)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        stop_reason = data.get("stop_reason")
        return ParsedReply(
            text=text,
            model=data.get("model") if isinstance(data.get("model"), str) else None,
            input_tokens=_tokens(usage, "input_tokens"),
            output_tokens=_tokens(usage, "output_tokens"),
            finish_reason=_STOP_REASONS.get(stop_reason, stop_reason) if stop_reason else None,
            raw_id=data.get("id") if isinstance(data.get("id"), str) else None,
            tool_call=tool_call,
        )


def _tokens(usage: dict[str, Any], key: str) -> int | None:
    value = usage.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return None
    if key == "input_tokens":
        # Prompt-cache reads/writes are reported separately but are still input the model consumed.
        for extra in ("cache_creation_input_tokens", "cache_read_input_tokens"):
            more = usage.get(extra)
            if isinstance(more, int) and not isinstance(more, bool) and more > 0:
                value += more
    return value
