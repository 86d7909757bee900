"""Token and cost ledger per role, node and campaign, with budget caps.

Caps are checked only *before* new work starts (``check_can_start``); recording never raises, because a
call already in flight has already been paid for and its result should still be used. A campaign may
therefore overshoot its cap by at most the calls running at the moment it was reached.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from agents.providers.base import BudgetExceeded, ChatRequest, ChatResponse, Provider


class UsageRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: str
    node_id: str | None = None
    campaign_id: str | None = None
    provider: str
    model: str
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    cost_usd: float = Field(ge=0.0)
    price_known: bool = True
    tokens_estimated: bool = False
    latency_s: float = Field(default=0.0, ge=0.0)
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class UsageTotals(BaseModel):
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = Field(default=0, description="Calls whose model had no price: cost under-reported.")
    estimated_calls: int = Field(default=0, description="Calls whose token counts were estimated.")

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, rec: UsageRecord) -> None:
        self.calls += 1
        self.input_tokens += rec.input_tokens
        self.output_tokens += rec.output_tokens
        self.cost_usd += rec.cost_usd
        self.unpriced_calls += 0 if rec.price_known else 1
        self.estimated_calls += 1 if rec.tokens_estimated else 0


class BudgetCaps(BaseModel):
    max_cost_usd: float | None = Field(default=None, ge=0.0)
    max_total_tokens: int | None = Field(default=None, ge=0)


class UsageLedger:
    """In-memory ledger; thread-safe. Persist ``records`` and rebuild with ``UsageLedger(records=...)``.

    ``caps`` bound the whole ledger; ``set_caps(..., campaign_id=...)`` bounds one campaign.
    """

    def __init__(
        self,
        caps: BudgetCaps | None = None,
        *,
        records: Iterable[UsageRecord] = (),
    ) -> None:
        self._lock = threading.Lock()
        self._records: list[UsageRecord] = []
        # Running sums (key None: every campaign), so the budget check before each call is O(1), not
        # a pass over every record of a long campaign.
        self._sums: dict[str | None, UsageTotals] = {}
        for rec in records:
            self._append(rec)
        self._global_caps = caps or BudgetCaps()
        self._campaign_caps: dict[str, BudgetCaps] = {}

    # -- writing ---------------------------------------------------------------------------------

    def set_caps(self, caps: BudgetCaps, *, campaign_id: str | None = None) -> None:
        with self._lock:
            if campaign_id is None:
                self._global_caps = caps
            else:
                self._campaign_caps[campaign_id] = caps

    def record(
        self,
        response: ChatResponse,
        *,
        role: str,
        node_id: str | None = None,
        campaign_id: str | None = None,
    ) -> UsageRecord:
        rec = UsageRecord(
            role=role,
            node_id=node_id,
            campaign_id=campaign_id,
            provider=response.provider,
            model=response.model,
            input_tokens=response.input_tokens,
            output_tokens=response.output_tokens,
            cost_usd=response.cost_usd,
            price_known=response.price_known,
            tokens_estimated=response.tokens_estimated,
            latency_s=response.latency_s,
        )
        self.add_record(rec)
        return rec

    def add_record(self, rec: UsageRecord) -> None:
        with self._lock:
            self._append(rec)

    def _append(self, rec: UsageRecord) -> None:
        self._records.append(rec)
        self._sums.setdefault(None, UsageTotals()).add(rec)
        if rec.campaign_id is not None:
            self._sums.setdefault(rec.campaign_id, UsageTotals()).add(rec)

    # -- reading ---------------------------------------------------------------------------------

    @property
    def records(self) -> tuple[UsageRecord, ...]:
        with self._lock:
            return tuple(self._records)

    def _select(self, campaign_id: str | None) -> list[UsageRecord]:
        with self._lock:
            if campaign_id is None:
                return list(self._records)
            return [r for r in self._records if r.campaign_id == campaign_id]

    def totals(self, campaign_id: str | None = None) -> UsageTotals:
        with self._lock:
            current = self._sums.get(campaign_id)
            return current.model_copy() if current is not None else UsageTotals()

    def _group(self, campaign_id: str | None, key: str) -> dict[str, UsageTotals]:
        groups: dict[str, UsageTotals] = {}
        for rec in self._select(campaign_id):
            name = getattr(rec, key)
            if name is None:
                continue
            groups.setdefault(name, UsageTotals()).add(rec)
        return groups

    def by_role(self, campaign_id: str | None = None) -> dict[str, UsageTotals]:
        return self._group(campaign_id, "role")

    def by_node(self, campaign_id: str | None = None) -> dict[str, UsageTotals]:
        return self._group(campaign_id, "node_id")

    def by_campaign(self) -> dict[str, UsageTotals]:
        return self._group(None, "campaign_id")

    def by_model(self, campaign_id: str | None = None) -> dict[str, UsageTotals]:
        return self._group(campaign_id, "model")

    # -- budget ----------------------------------------------------------------------------------

    def check_can_start(self, campaign_id: str | None = None) -> None:
        """Raises ``BudgetExceeded`` when the ledger's or the campaign's cap is reached."""
        with self._lock:
            scopes: list[tuple[str | None, BudgetCaps]] = [(None, self._global_caps)]
            if campaign_id is not None and campaign_id in self._campaign_caps:
                scopes.append((campaign_id, self._campaign_caps[campaign_id]))
        for scope, caps in scopes:
            used = self.totals(scope)
            where = f"campaign {scope}" if scope is not None else "all campaigns"
            if caps.max_cost_usd is not None and used.cost_usd >= caps.max_cost_usd:
                raise BudgetExceeded(
                    f"USD budget reached for {where}: spent ${used.cost_usd:.4f} of ${caps.max_cost_usd:.4f}",
                    cap="cost_usd",
                    limit=caps.max_cost_usd,
                    used=used.cost_usd,
                    scope=scope,
                )
            if caps.max_total_tokens is not None and used.total_tokens >= caps.max_total_tokens:
                raise BudgetExceeded(
                    f"token budget reached for {where}: used {used.total_tokens} of {caps.max_total_tokens}",
                    cap="total_tokens",
                    limit=caps.max_total_tokens,
                    used=used.total_tokens,
                    scope=scope,
                )

    def can_start(self, campaign_id: str | None = None) -> bool:
        try:
            self.check_can_start(campaign_id)
        except BudgetExceeded:
            return False
        return True


async def complete_metered(
    provider: Provider,
    request: ChatRequest,
    ledger: UsageLedger,
    *,
    role: str,
    node_id: str | None = None,
    campaign_id: str | None = None,
) -> ChatResponse:
    """Budget check, call, record: the one-liner agents should use instead of ``provider.complete``."""
    ledger.check_can_start(campaign_id)
    response = await provider.complete(request)
    ledger.record(response, role=role, node_id=node_id, campaign_id=campaign_id)
    return response
