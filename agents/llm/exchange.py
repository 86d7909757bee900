"""One place where the team talks to models: budget check, call, ledger, recording, message.

Every completed call goes through :meth:`Caller.ask`, so no role can forget to meter itself, skip the
recording, or lose the prompt version. The two loops on top of it implement the only ways a role's answer
is sent back: a structured answer that does not validate gets a repair request quoting the error, and
code that does not apply, parse or meet the contract is rejected with the reason before anything runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from agents.llm.contract import ContractPolicy, ContractViolation, check_candidate
from agents.llm.editing import CodeAnswer, EditError, has_edit_blocks, interpret_answer
from agents.llm.parsing import ParseError, extract_python, give_up_reason, parse_model
from agents.llm.recording import ProviderFactory, Recorder
from agents.providers.accounting import UsageLedger
from agents.providers.base import ChatMessage, ChatRequest, Provider
from agents.providers.config import ProvidersConfig, RoleModelConfig
from agents.providers.factory import build_provider
from agents.providers.retry import ConcurrencyRegistry, SleepFn
from agents.team import TeamMessage

M = TypeVar("M", bound=BaseModel)
MessageHook = Callable[[TeamMessage], None]


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
                 json_mode: bool = False) -> None:
        self.config = config
        self.ledger = ledger
        self.recorder = recorder
        self.campaign_id = campaign_id
        self.on_message = on_message
        self.temperature = dict(temperature or {})
        self.max_tokens = dict(max_tokens or {})
        self.json_mode = json_mode
        self._sleep = sleep
        self._rng = rng
        self._registry = ConcurrencyRegistry()
        self._prices = None
        self._factory = factory or self._build
        self._providers: dict[tuple[str, int], Provider] = {}

    def _build(self, role: str, index: int, cfg: RoleModelConfig) -> Provider:
        if self._prices is None:
            self._prices = self.config.price_table()
        return build_provider(cfg, prices=self._prices, registry=self._registry, sleep=self._sleep, rng=self._rng)

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

    async def ask(self, role: str, kind: str, messages: Sequence[ChatMessage], *, index: int, node: str | None,
                  prompt_version: str, round: int | None = None, json_answer: bool = False,
                  payload: dict[str, Any] | None = None) -> tuple[str, TeamMessage]:
        """One metered exchange. ``BudgetExceeded`` is raised before the call when the budget is spent;
        provider errors (``ProviderUnavailable`` ...) propagate unchanged."""
        self.ledger.check_can_start(self.campaign_id)
        provider, cfg = self.provider(role, index)
        request = ChatRequest(messages=list(messages), temperature=self.temperature.get(role),
                              max_tokens=self.max_tokens.get(role), json_mode=self.json_mode and json_answer)
        response = await provider.complete(request)
        self.ledger.record(response, role=role, node_id=node, campaign_id=self.campaign_id)
        if self.recorder is not None:
            self.recorder.record(role=role, kind=kind, provider=cfg.display_name, model=cfg.model, request=request,
                                 response=response, node=node, campaign_id=self.campaign_id)
        message = TeamMessage(
            role=role, text=response.text, kind=kind, round=round, model=response.model,
            prompt_version=prompt_version, tokens_in=response.input_tokens, tokens_out=response.output_tokens,
            latency_s=response.latency_s, cost_usd=response.cost_usd,
            payload={"provider": response.provider, "attempts": response.attempts, "ledger_node": node,
                     "finish_reason": response.finish_reason, "price_known": response.price_known,
                     "tokens_estimated": response.tokens_estimated, **(payload or {})},
        )
        if self.on_message is not None:
            self.on_message(message)
        return response.text, message

    async def ask_structured(self, role: str, kind: str, messages: list[ChatMessage], model: type[M], *,
                             repair: Callable[[str], str], repairs: int, index: int, node: str | None,
                             prompt_version: str, round: int | None = None,
                             check: Callable[[M], None] | None = None) -> tuple[M, list[TeamMessage]]:
        """Asks, validates against ``model`` (then ``check``, which may raise ``ParseError``), and on failure
        sends the same model up to ``repairs`` repair requests quoting the error."""
        history = list(messages)
        exchanges: list[TeamMessage] = []
        text, msg = await self.ask(role, kind, history, index=index, node=node, prompt_version=prompt_version,
                                   round=round, json_answer=True)
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
                                           prompt_version=prompt_version, round=round, json_answer=True)
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
            except (EditError, ContractViolation) as exc:
                reason = str(exc)
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
