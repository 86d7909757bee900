"""One place where the team talks to models: budget check, call, ledger, recording, message.

Every completed call goes through :meth:`Caller.ask`, so no role can forget to meter itself, skip the
recording, or lose the prompt version. The two loops on top of it implement the only ways a role's answer
is sent back: a structured answer that does not validate gets a repair request quoting the error, and
code that does not apply, parse or meet the contract is rejected with the reason before anything runs.

Answers are not lost to the output-token limit: an answer that stopped there (``finish_reason ==
"length"``) is continued up to ``continuations`` times and the parts are stitched into one answer (each
part is still metered and recorded as its own exchange). Code still cut off after that is sent back asking
for SEARCH/REPLACE edits instead of a whole file. JSON roles send their pydantic model's JSON schema, which
the provider turns into constrained decoding where the server offers it (``structured_output``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from agents.llm.contract import ContractPolicy, ContractViolation, check_candidate
from agents.llm.editing import CodeAnswer, EditError, has_edit_blocks, interpret_answer
from agents.llm.parsing import ParseError, extract_python, give_up_reason, parse_model
from agents.llm.recording import ProviderFactory, Recorder
from agents.providers.accounting import UsageLedger
from agents.providers.base import (
    BudgetExceeded,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    Provider,
    ProviderError,
    ResponseSchema,
)
from agents.providers.config import ProvidersConfig, RoleModelConfig
from agents.providers.factory import build_provider
from agents.providers.http_provider import SchemaSupport
from agents.providers.limits import output_limit
from agents.providers.retry import ConcurrencyRegistry, SleepFn
from agents.team import TeamMessage

M = TypeVar("M", bound=BaseModel)
MessageHook = Callable[[TeamMessage], None]

# Output tokens each role may use when neither the team options nor the providers file say: code roles
# answer with a whole candidate module (a PINN with its training loop is 300-600 lines), the rest briefly.
ROLE_MAX_TOKENS: dict[str, int] = {
    "root_engineer": 16_384, "engineer": 16_384, "debugger": 16_384,
    "proposer": 4096, "critic": 4096, "data_analyst": 2048, "result_analyst": 2048,
    "retriever": 1024, "selector": 1024,
}

CONTINUE_PROMPT = (
    "Your answer was cut off by the output-token limit. Continue exactly where it stopped, from the next "
    "character: no preamble, no repetition of what you already wrote, and no new code fence opener if "
    "you were inside a code block."
)


def without_echo(tail: str) -> tuple[str, bool]:
    """A continuation up to where it repeats our own request to continue, and whether it did.

    Small models asked to continue often answer with the request itself, verbatim or inside the code
    (SmolLM2-135M did both); stitched in, our words would land in the candidate's source. What comes before
    the echo is kept; an answer that only echoes ends the continuing (the answer stays cut)."""
    probe = CONTINUE_PROMPT[:48]
    at = tail.find(probe)
    if at < 0:
        return tail, False
    return tail[:at].rstrip(), True


def stitch(head: str, tail: str) -> str:
    """Joins an answer cut at the token limit with its continuation.

    Models asked to continue often restart the open code fence or repeat the last words they wrote; both
    are dropped so the stitched module parses. The overlap searched is short (at most 300 characters) so a
    continuation that legitimately repeats a line far back is left alone.
    """
    if not tail:
        return head
    if head.count("```") % 2 == 1:  # cut inside a fenced block: a fresh opener would close it instead
        lines = tail.lstrip("\n").split("\n", 1)
        if re.fullmatch(r"```[A-Za-z0-9_+.-]*", lines[0].strip()):
            tail = lines[1] if len(lines) > 1 else ""
    for size in range(min(len(head), len(tail), 300), 7, -1):
        if head.endswith(tail[:size]):
            return head + tail[size:]
    return head + tail


class LLMTeamError(Exception):
    """A role could not produce a usable answer; ``messages`` holds every exchange it cost."""

    def __init__(self, message: str, *, role: str, messages: list[TeamMessage] | None = None) -> None:
        super().__init__(message)
        self.role = role
        self.messages = list(messages or [])


class StructuredAnswerError(LLMTeamError):
    """A JSON answer stayed malformed after the repair request(s)."""


class CodeRejected(LLMTeamError):
    """Every attempt at code was rejected (edits did not apply, code did not parse or broke the contract)."""

    def __init__(self, message: str, *, role: str, messages: list[TeamMessage] | None = None,
                 last_reason: str = "") -> None:
        super().__init__(message, role=role, messages=messages)
        self.last_reason = last_reason


class Caller:
    """Providers per role (built lazily), plus the ledger, recorder and message hook shared by all roles."""

    def __init__(self, config: ProvidersConfig, *, ledger: UsageLedger, recorder: Recorder | None,
                 campaign_id: str | None, factory: ProviderFactory | None = None, sleep: SleepFn | None = None,
                 rng: random.Random | None = None, on_message: MessageHook | None = None,
                 temperature: dict[str, float] | None = None, max_tokens: dict[str, int] | None = None,
                 json_mode: bool = False, continuations: int = 2) -> None:
        self.config = config
        self.ledger = ledger
        self.recorder = recorder
        self.campaign_id = campaign_id
        self.on_message = on_message
        self.temperature = dict(temperature or {})
        self.max_tokens = dict(max_tokens or {})
        self.json_mode = json_mode
        self.continuations = continuations
        # Set when replaying a format-1 recording: requests as they were made before schemas, per-role
        # output limits and continuations existed.
        self.legacy_requests = False
        self._sleep = sleep
        self._rng = rng
        self._registry = ConcurrencyRegistry()
        self._schema_support: dict[str, SchemaSupport] = {}  # one campaign's memory of schema refusals
        self._prices = None
        self._factory = factory or self._build
        self._providers: dict[tuple[str, int], Provider] = {}

    def _build(self, role: str, index: int, cfg: RoleModelConfig) -> Provider:
        if self._prices is None:
            self._prices = self.config.price_table()
        return build_provider(cfg, prices=self._prices, registry=self._registry, sleep=self._sleep, rng=self._rng,
                              schema_support=self._schema_support)

    def models(self, role: str) -> list[RoleModelConfig]:
        return self.config.for_role(role)

    def provider(self, role: str, index: int) -> tuple[Provider, RoleModelConfig]:
        models = self.models(role)
        index %= len(models)
        key = (role, index)
        if key not in self._providers:
            self._providers[key] = self._factory(role, index, models[index])
        return self._providers[key], models[index]

    async def aclose(self) -> None:
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            await provider.aclose()

    def output_tokens(self, role: str, cfg: RoleModelConfig) -> int | None:
        """``max_tokens`` for a role's request: the team option, else ``None`` where the providers file
        sets ``max_tokens`` (the provider applies it), else the role's default capped by the model's
        ceiling (``max_output_tokens`` or the known-model table). A model with no known ceiling gets
        ``None``: local servers bound answers by their context and reject a limit that does not fit."""
        if role in self.max_tokens or self.legacy_requests:
            return self.max_tokens.get(role)
        if cfg.max_tokens is not None:
            return None
        ceiling = cfg.max_output_tokens or output_limit(cfg.model)
        if ceiling is None:
            return None
        return min(ROLE_MAX_TOKENS.get(role, 4096), ceiling)

    async def _complete(self, provider: Provider, cfg: RoleModelConfig, role: str, kind: str,
                        request: ChatRequest, node: str | None) -> ChatResponse:
        """One paid call: budget check, call, ledger, recording."""
        self.ledger.check_can_start(self.campaign_id)
        response = await provider.complete(request)
        self.ledger.record(response, role=role, node_id=node, campaign_id=self.campaign_id)
        if self.recorder is not None:
            self.recorder.record(role=role, kind=kind, provider=cfg.display_name, model=cfg.model, request=request,
                                 response=response, node=node, campaign_id=self.campaign_id)
        return response

    async def ask(self, role: str, kind: str, messages: Sequence[ChatMessage], *, index: int, node: str | None,
                  prompt_version: str, round: int | None = None, json_answer: bool = False,
                  payload: dict[str, Any] | None = None,
                  schema: ResponseSchema | None = None) -> tuple[str, TeamMessage]:
        """One metered answer (several exchanges when it had to be continued past the token limit).
        ``BudgetExceeded`` is raised before a call when the budget is spent; provider errors
        (``ProviderUnavailable`` ...) propagate unchanged. ``schema`` asks for constrained JSON."""
        provider, cfg = self.provider(role, index)
        max_tokens = self.output_tokens(role, cfg)
        schema = None if self.legacy_requests else schema
        request = ChatRequest(messages=list(messages), temperature=self.temperature.get(role),
                              max_tokens=max_tokens, json_mode=self.json_mode and json_answer,
                              response_schema=schema)
        first = response = await self._complete(provider, cfg, role, kind, request, node)
        responses = [response]
        text = response.text
        failure: BaseException | None = None
        echoes = 0
        # An empty cut answer (a reasoning model that spent the limit thinking) has nothing to continue.
        while (response.truncated and text.strip()
               and len(responses) <= (0 if self.legacy_requests else self.continuations)):
            # Without the schema: constrained decoding would start a new object instead of going on.
            follow = ChatRequest(messages=[*messages, ChatMessage(role="assistant", content=text),
                                           ChatMessage(role="user", content=CONTINUE_PROMPT)],
                                 temperature=self.temperature.get(role), max_tokens=max_tokens)
            try:
                response = await self._complete(provider, cfg, role, f"{kind}_continuation", follow, node)
            except (BudgetExceeded, ProviderError) as exc:
                failure = exc  # the parts already paid for are still handed on as a message, then it raises
                break
            responses.append(response)
            tail, echoed = without_echo(response.text)
            text = stitch(text, tail)
            if echoed:
                echoes += 1
                break  # asked again, it would only echo again
        message = TeamMessage(
            role=role, text=text, kind=kind, round=round, model=first.model,
            prompt_version=prompt_version, tokens_in=sum(r.input_tokens for r in responses),
            tokens_out=sum(r.output_tokens for r in responses),
            latency_s=sum(r.latency_s for r in responses), cost_usd=sum(r.cost_usd for r in responses),
            payload={"provider": first.provider, "attempts": sum(r.attempts for r in responses),
                     "ledger_node": node, "finish_reason": response.finish_reason,
                     "price_known": all(r.price_known for r in responses),
                     "tokens_estimated": any(r.tokens_estimated for r in responses),
                     "structured_output": first.structured,
                     **({"structured_fallback": first.structured_fallback} if first.structured_fallback else {}),
                     **({"continuations": len(responses) - 1} if len(responses) > 1 else {}),
                     **({"truncated": True} if response.truncated or echoes else {}),
                     **({"continuation_echoed": True} if echoes else {}),
                     **(payload or {})},
        )
        if self.on_message is not None:
            self.on_message(message)
        if failure is not None:
            raise failure
        return text, message

    async def ask_structured(self, role: str, kind: str, messages: list[ChatMessage], model: type[M], *,
                             repair: Callable[[str], str], repairs: int, index: int, node: str | None,
                             prompt_version: str, round: int | None = None,
                             check: Callable[[M], None] | None = None,
                             narrow: Callable[[ResponseSchema], ResponseSchema] | None = None,
                             ) -> tuple[M, list[TeamMessage]]:
        """Asks, validates against ``model`` (then ``check``, which may raise ``ParseError``), and on failure
        sends the same model up to ``repairs`` repair requests quoting the error. ``narrow`` tightens the
        schema sent to the server to what ``check`` accepts (see ``ResponseSchema.with_choices``)."""
        history = list(messages)
        exchanges: list[TeamMessage] = []
        schema = ResponseSchema.for_model(kind, model)
        if narrow is not None:
            schema = narrow(schema)
        text, msg = await self.ask(role, kind, history, index=index, node=node, prompt_version=prompt_version,
                                   round=round, json_answer=True, schema=schema)
        exchanges.append(msg)
        for attempt in range(repairs + 1):
            try:
                value = parse_model(text, model)
                if check is not None:
                    check(value)
                return value, exchanges
            except ParseError as exc:
                msg.payload = {**(msg.payload or {}), "accepted": False, "error": str(exc)}
                if attempt == repairs:
                    raise StructuredAnswerError(
                        f"{role}: the answer is still malformed after {repairs} repair request(s): {exc}",
                        role=role, messages=exchanges) from None
                history += [ChatMessage(role="assistant", content=text or "(empty answer)"),
                            ChatMessage(role="user", content=repair(str(exc)))]
                text, msg = await self.ask(role, f"{kind}_repair", history, index=index, node=node,
                                           prompt_version=prompt_version, round=round, json_answer=True,
                                           schema=schema)
                exchanges.append(msg)
        raise AssertionError("unreachable")

    async def ask_code(self, role: str, kind: str, messages: list[ChatMessage], *, bases: Sequence[str],
                       attempts: int, rejected: Callable[[str, int], str], policy: ContractPolicy, index: int,
                       node: str | None, prompt_version: str, allow_give_up: bool = False,
                       must_change: bool = True) -> tuple[CodeAnswer | None, list[TeamMessage], str | None]:
        """Asks for code (edits or a whole file) and validates it before anything runs.

        Returns ``(answer, messages, None)``, or ``(None, messages, reason)`` when the role gave up (only if
        ``allow_give_up``). Raises :class:`CodeRejected` once ``attempts`` answers were all rejected.
        """
        history = list(messages)
        candidates = [b for b in bases if b]
        exchanges: list[TeamMessage] = []
        reason = ""
        for attempt in range(1, attempts + 1):
            text, msg = await self.ask(role, kind if attempt == 1 else f"{kind}_retry", history, index=index,
                                       node=node, prompt_version=prompt_version, payload={"attempt": attempt})
            exchanges.append(msg)
            if allow_give_up:
                why = give_up_reason(text)
                if why is not None and not has_edit_blocks(text) and extract_python(text) is None:
                    msg.payload = {**(msg.payload or {}), "gave_up": why}
                    return None, exchanges, why
            answer: CodeAnswer | None = None
            try:
                answer = interpret_answer(text, candidates)
                check_candidate(answer.code, policy)
                if must_change and candidates and answer.code.strip() == candidates[0].strip():
                    raise EditError("the code is identical to the code you were given; make the change")
                if (msg.payload or {}).get("truncated"):
                    # Still cut after the continuations: code that happens to parse is still incomplete.
                    raise EditError("the answer ends where the token limit cut it")
            except (EditError, ContractViolation) as exc:
                reason = str(exc)
                if (msg.payload or {}).get("truncated"):
                    # Not a coding mistake: the whole file does not fit in one answer. Edits do.
                    reason = (f"your answer was cut off at the output-token limit (after "
                              f"{(msg.payload or {}).get('continuations', 0)} continuation(s)), so it is "
                              f"incomplete ({reason}). Do not send the whole file again: answer with "
                              f"SEARCH/REPLACE edits of only the lines that change.")
                msg.payload = {**(msg.payload or {}), "accepted": False, "rejection": reason}
                if answer is not None and answer.code not in candidates:
                    candidates.append(answer.code)  # a follow-up edit may build on the rejected version
                if attempt < attempts:
                    history += [ChatMessage(role="assistant", content=text or "(empty answer)"),
                                ChatMessage(role="user", content=rejected(reason, attempt + 1))]
                continue
            msg.payload = {**(msg.payload or {}), "accepted": True, "mode": answer.mode, "edits": answer.edits}
            return answer, exchanges, None
        raise CodeRejected(f"{role}: no acceptable code after {attempts} attempt(s); last reason: {reason}",
                           role=role, messages=exchanges, last_reason=reason)
