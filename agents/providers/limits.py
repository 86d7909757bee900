"""Output-token ceilings of well-known models, so per-role defaults never ask a server for more than it allows.

A request whose ``max_tokens`` exceeds the model's ceiling is rejected with a 400 by OpenAI and Anthropic
alike, so the team's generous defaults for code-writing roles (16k tokens: a whole candidate module) are
capped by this table. Local servers (llama.cpp, vLLM, Ollama) bound the answer by their context window
instead and reject a ``max_tokens`` that does not fit beside the prompt; their models are not listed here,
and the team leaves ``max_tokens`` unset for them unless the providers file gives ``max_tokens`` or
``max_output_tokens``.
"""

from __future__ import annotations

# Model-id prefixes (lower case) -> the most output tokens one answer may have. Longest prefix wins.
KNOWN_OUTPUT_LIMITS: dict[str, int] = {
    "gpt-3.5-turbo": 4096,
    "gpt-4-turbo": 4096,
    "gpt-4o": 16_384,
    "gpt-4o-mini": 16_384,
    "gpt-4.1": 32_768,
    "gpt-5": 128_000,
    "o1": 100_000,
    "o3": 100_000,
    "o4-mini": 100_000,
    "claude-3-haiku": 4096,
    "claude-3-opus": 4096,
    "claude-3-5-haiku": 8192,
    "claude-3-5-sonnet": 8192,
    "claude-3-7-sonnet": 64_000,
    "claude-sonnet-4": 64_000,
    "claude-opus-4": 32_000,
    "claude-haiku-4": 64_000,
}


def output_limit(model: str) -> int | None:
    """The ceiling of ``model`` (an OpenRouter-style ``vendor/model`` id is looked up by its tail)."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    best: str | None = None
    for prefix in KNOWN_OUTPUT_LIMITS:
        if name.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return KNOWN_OUTPUT_LIMITS[best] if best is not None else None
