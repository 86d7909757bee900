"""Price lookup, per-call cost, the usage ledger and budget caps."""

from __future__ import annotations

import asyncio

import pytest

from agents.providers import (
    BudgetCaps,
    BudgetExceeded,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ModelPrice,
    OpenAICompatProvider,
    PriceTable,
    UsageLedger,
    complete_metered,
)
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.script import Reply
from tests.providers.conftest import fast_policy

# ------------------------------------------------------------------------------------------ prices


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini", "gpt-4o-mini"),  # longest matching key wins
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai/gpt-4.1-mini", "gpt-4.1-mini"),  # router-style vendor prefix
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("Claude-Opus-4-1", "claude-opus-4-1"),
    ],
)
def test_lookup_matches_dated_and_prefixed_ids(model, key) -> None:
    found = PriceTable().lookup(model)
    assert found is not None and found[0] == key


@pytest.mark.parametrize("model", ["llama3.1:8b", "gpt-4omega", "my-finetune", "o3x"])
def test_unknown_models_have_no_price(model) -> None:
    table = PriceTable()
    assert table.lookup(model) is None
    est = table.cost(model, 1000, 1000)
    assert est.cost_usd == 0.0 and not est.price_known


def test_cost_per_call() -> None:
    est = PriceTable().cost("gpt-4o-mini", 2_000_000, 500_000)
    assert est.cost_usd == pytest.approx(2 * 0.15 + 0.5 * 0.60)
    assert est.price_known and est.matched == "gpt-4o-mini"


def test_overrides_from_dict_and_yaml(tmp_path) -> None:
    table = PriceTable.from_mapping(
        {"gpt-4o": {"input": 1.0, "output": 2.0}, "llama3.1:8b": {"input": 0, "output": 0}}
    )
    assert table.cost("gpt-4o", 1_000_000, 1_000_000).cost_usd == pytest.approx(3.0)
    local = table.cost("llama3.1:8b", 10, 10)
    assert local.price_known and local.cost_usd == 0.0  # explicitly free, so not flagged
    assert table.lookup("claude-haiku-4-5") is not None  # defaults kept

    path = tmp_path / "prices.yaml"
    path.write_text("models:\n  my-model:\n    input_per_mtok: 4\n    output_per_mtok: 8\n")
    only = PriceTable.from_yaml(path, include_defaults=False)
    assert only.cost("my-model", 500_000, 0).cost_usd == pytest.approx(2.0)
    assert only.lookup("gpt-4o") is None


def test_provider_price_override_wins() -> None:
    with FakeOpenAIServer(script=[Reply("ok", input_tokens=1_000_000, output_tokens=0)]) as srv:
        provider = OpenAICompatProvider(
            base_url=srv.base_url,
            model="gpt-4o",
            price=ModelPrice(input_per_mtok=0.5, output_per_mtok=1.0),
            policy=fast_policy(),
        )
        resp = asyncio.run(provider.complete(ChatRequest(messages=[ChatMessage(role="user", content="q")])))
    assert resp.cost_usd == pytest.approx(0.5)


# ------------------------------------------------------------------------------------------ ledger


def _resp(
    cost: float, tin: int = 100, tout: int = 50, *, model: str = "gpt-4o", known: bool = True
) -> ChatResponse:
    return ChatResponse(
        text="",
        model=model,
        provider="openai",
        input_tokens=tin,
        output_tokens=tout,
        latency_s=0.1,
        cost_usd=cost,
        price_known=known,
    )


def test_ledger_sums_per_role_node_and_campaign() -> None:
    ledger = UsageLedger()
    ledger.record(_resp(0.10), role="proposer", node_id="n1", campaign_id="c1")
    ledger.record(_resp(0.20), role="proposer", node_id="n2", campaign_id="c1")
    ledger.record(_resp(0.05), role="critic", node_id="n1", campaign_id="c1")
    ledger.record(_resp(0.0, model="llama3", known=False), role="critic", campaign_id="c2")

    total = ledger.totals()
    assert total.calls == 4 and total.cost_usd == pytest.approx(0.35)
    assert total.total_tokens == 4 * 150 and total.unpriced_calls == 1

    roles = ledger.by_role("c1")
    assert roles["proposer"].cost_usd == pytest.approx(0.30) and roles["critic"].calls == 1
    nodes = ledger.by_node("c1")
    assert nodes["n1"].cost_usd == pytest.approx(0.15) and nodes["n2"].calls == 1
    campaigns = ledger.by_campaign()
    assert campaigns["c1"].calls == 3 and campaigns["c2"].unpriced_calls == 1
    assert set(ledger.by_model()) == {"gpt-4o", "llama3"}

    rebuilt = UsageLedger(records=ledger.records)
    assert rebuilt.totals() == total


def test_usd_cap_stops_new_work_but_recording_continues() -> None:
    ledger = UsageLedger(BudgetCaps(max_cost_usd=0.25))
    ledger.check_can_start()
    ledger.record(_resp(0.20), role="proposer")
    ledger.check_can_start()  # still under the cap
    ledger.record(_resp(0.10), role="proposer")  # an evaluation already running finishes and is recorded
    with pytest.raises(BudgetExceeded) as info:
        ledger.check_can_start()
    assert info.value.cap == "cost_usd" and info.value.used == pytest.approx(0.30)
    assert "USD budget reached" in str(info.value) and "0.25" in str(info.value)
    assert not ledger.can_start()
    ledger.record(_resp(0.01), role="critic")  # never raises
    assert ledger.totals().calls == 3


def test_token_cap_and_per_campaign_caps() -> None:
    ledger = UsageLedger(BudgetCaps(max_total_tokens=10_000))
    ledger.set_caps(BudgetCaps(max_total_tokens=300), campaign_id="small")
    ledger.record(_resp(0.0, 100, 100), role="proposer", campaign_id="small")
    ledger.record(_resp(0.0, 100, 100), role="proposer", campaign_id="big")
    ledger.check_can_start("small")
    ledger.record(_resp(0.0, 100, 100), role="proposer", campaign_id="small")
    with pytest.raises(BudgetExceeded) as info:
        ledger.check_can_start("small")
    assert info.value.cap == "total_tokens" and info.value.scope == "small"
    ledger.check_can_start("big")  # other campaigns unaffected
    ledger.record(_resp(0.0, 5_000, 4_400), role="proposer", campaign_id="big")
    with pytest.raises(BudgetExceeded) as info:
        ledger.check_can_start("big")  # the global cap now binds
    assert info.value.scope is None


def test_complete_metered_refuses_once_budget_is_spent() -> None:
    ledger = UsageLedger(BudgetCaps(max_cost_usd=0.001))
    with FakeOpenAIServer(default=Reply("ok", input_tokens=1000, output_tokens=100)) as srv:
        provider = OpenAICompatProvider(base_url=srv.base_url, model="gpt-4o", policy=fast_policy())
        req = ChatRequest(messages=[ChatMessage(role="user", content="q")])

        async def run():
            first = await complete_metered(
                provider, req, ledger, role="proposer", node_id="n1", campaign_id="c"
            )
            with pytest.raises(BudgetExceeded):
                await complete_metered(provider, req, ledger, role="proposer", node_id="n2", campaign_id="c")
            return first

        first = asyncio.run(run())
    assert first.cost_usd == pytest.approx(1000 * 2.5e-6 + 100 * 10e-6)
    assert len(srv.requests) == 1  # the refused call never reached the server
    assert ledger.by_node("c")["n1"].cost_usd == pytest.approx(first.cost_usd)
