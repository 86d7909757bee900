"""The retriever role choosing a method card from a shortlist (what the engine calls per parent)."""

from __future__ import annotations

import asyncio

from agents.llm import LLMTeam
from tests.fakes.openai_server import FakeOpenAIServer
from tests.llm.helpers import InstantSleep, RoleScript, context, last_user_text, providers_config

CARDS = [
    {"id": "fourier-features", "title": "Fourier feature embeddings", "family": "architecture",
     "body": "Random Fourier features counter spectral bias.", "score": 0.8},
    {"id": "lbfgs-finetune", "title": "L-BFGS fine-tuning", "family": "optimiser",
     "body": "Switch to L-BFGS after Adam.", "score": 0.7},
]


def test_retriever_picks_a_card_after_repair_and_can_pick_none() -> None:
    script = RoleScript({"retriever": ['{"card": "made-up", "reason": "x"}',
                                       '```json\n{"card": "lbfgs-finetune", "reason": "plateau"}\n```',
                                       '{"card": null, "reason": "nothing fits"}']})
    with FakeOpenAIServer(default=script) as srv:
        team = LLMTeam(providers_config(srv.base_url), sleep=InstantSleep())
        card, message = asyncio.run(team.choose_card(context(), CARDS))
        first_prompt, repair_prompt = last_user_text(srv.requests[0]), last_user_text(srv.requests[1])
        assert card is not None and card["id"] == "lbfgs-finetune"
        assert message.payload["exchanges"] == 2
        assert "Fourier feature embeddings" in first_prompt and "A straight line underfits" in first_prompt
        assert "not on the shortlist" in repair_prompt

        card, _ = asyncio.run(team.choose_card(context(), CARDS))
        assert card is None
        # An empty shortlist costs no call.
        assert asyncio.run(team.choose_card(context(), [])) == (None, None)
        assert len(srv.requests) == 3
