"""The OpenAI ``/chat/completions`` protocol, which OpenAI, vLLM, Ollama, llama.cpp server, LM Studio and
OpenRouter all speak.

``base_url`` includes the API version prefix, as those servers document it: ``https://api.openai.com/v1``,
``http://localhost:11434/v1`` (Ollama), ``http://localhost:8000/v1`` (vLLM),
``https://openrouter.ai/api/v1``. The key is optional because local servers usually need none.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from agents.providers.base import ChatRequest, ProviderRequestError, ProviderResponseError
from agents.providers.http_provider import HttpChatProvider, ParsedReply

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"

SchemaDialect = Literal["json_schema", "json_object_schema"]


class OpenAICompatProvider(HttpChatProvider):
    def __init__(
        self,
        *,
        model: str,
        base_url: str = DEFAULT_OPENAI_BASE_URL,
        name: str = "openai",
        max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens",
        schema_dialect: SchemaDialect = "json_schema",
        **kwargs: Any,
    ) -> None:
        """``max_tokens_field``: OpenAI's reasoning models (o-series, gpt-5) reject ``max_tokens`` and
        want ``max_completion_tokens``; every other compatible server takes ``max_tokens``."""
        super().__init__(base_url=base_url, model=model, name=name, **kwargs)
        self.max_tokens_field = max_tokens_field
        self.schema_dialect: SchemaDialect = schema_dialect

    def schema_dialects(self) -> list[str]:
        """``json_schema`` is OpenAI's (also vLLM, llama.cpp's llama-server, Ollama, LM Studio, OpenRouter);
        ``json_object_schema`` is llama-cpp-python's server, which validates ``type`` against
        ``text``/``json_object`` only and takes the schema beside it."""
        order: list[str] = ["json_schema", "json_object_schema"]
        order.remove(self.schema_dialect)
        return [self.schema_dialect, *order]

    @property
    def url(self) -> str:
        if self.base_url.endswith("/chat/completions"):
            return self.base_url
        return f"{self.base_url}/chat/completions"

    def auth_headers(self, key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"} if key else {}

    def build_payload(self, request: ChatRequest, model: str) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        temperature = self._temperature(request)
        if temperature is not None:
            payload["temperature"] = temperature
        max_tokens = self._max_tokens(request)
        if max_tokens is not None:
            payload[self.max_tokens_field] = max_tokens
        if request.stop:
            payload["stop"] = list(request.stop)
        dialect = self.schema_support.dialect or self.schema_dialect
        if request.response_schema is not None and dialect == "json_object_schema":
            payload["response_format"] = {"type": "json_object", "schema": request.response_schema.schema_}
        elif request.response_schema is not None:
            spec = request.response_schema
            json_schema: dict[str, Any] = {"name": spec.name, "schema": spec.schema_, "strict": spec.strict}
            if spec.description:
                json_schema["description"] = spec.description
            payload["response_format"] = {"type": "json_schema", "json_schema": json_schema}
        elif request.json_mode:
            payload["response_format"] = {"type": "json_object"}
        return payload

    def parse_reply(self, data: dict[str, Any], model: str) -> ParsedReply:
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            err = data.get("error")
            if err is not None:
                # Some routers (OpenRouter) report upstream failures as a 200 carrying an error object.
                message = err.get("message") if isinstance(err, dict) else str(err)
                code = err.get("code") if isinstance(err, dict) else None
                if isinstance(code, int) and 400 <= code < 500 and code not in (408, 429):
                    raise ProviderRequestError(
                        f"request rejected: {message}",
                        provider=self.name,
                        model=model,
                        status=code,
                        server_message=str(message),
                    )
                raise ProviderResponseError(
                    f"error object in a 2xx response: {message}", provider=self.name, model=model
                )
            raise ProviderResponseError("response has no 'choices'", provider=self.name, model=model)
        first = choices[0]
        message = first.get("message") if isinstance(first, dict) else None
        if not isinstance(message, dict):
            raise ProviderResponseError("choices[0] has no 'message' object", provider=self.name, model=model)
        content = message.get("content")
        tool_text = _tool_arguments(message.get("tool_calls"))
        if (content is None or content == "") and tool_text is not None:
            # Some servers (and models told to use a tool) put a JSON answer in a tool call's arguments.
            text = tool_text
        elif content is None and isinstance(message.get("refusal"), str):
            # Structured outputs: a model declining answers in ``refusal``; as text it reaches the repair
            # request (it is no JSON) instead of disappearing.
            text = message["refusal"]
        elif content is None:
            text = ""  # callers see an empty answer, not a crash
        elif isinstance(content, str):
            text = content
        elif isinstance(content, list):  # a few servers return content parts even for plain text
            text = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        else:
            raise ProviderResponseError(
                f"choices[0].message.content has type {type(content).__name__}",
                provider=self.name,
                model=model,
            )
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return ParsedReply(
            text=text,
            model=data.get("model") if isinstance(data.get("model"), str) else None,
            input_tokens=_int_or_none(usage.get("prompt_tokens")),
            output_tokens=_int_or_none(usage.get("completion_tokens")),
            finish_reason=first.get("finish_reason"),
            raw_id=data.get("id") if isinstance(data.get("id"), str) else None,
            tool_call=tool_text is not None and text == tool_text,
        )


def _tool_arguments(tool_calls: object) -> str | None:
    """The arguments (a JSON string) of the first function tool call, or None when there is none."""
    if not isinstance(tool_calls, list):
        return None
    for call in tool_calls:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            args = function.get("arguments")
            if isinstance(args, str):
                return args
            if isinstance(args, dict):  # Ollama sends the arguments as an object
                return json.dumps(args)
    return None


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return value
    return None
