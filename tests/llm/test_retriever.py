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


def test_the_schema_sent_names_only_the_shortlist_and_the_candidates() -> None:
    """A server that decodes with the schema (llama.cpp's grammar) can then only name a card on the
    shortlist, or none, and only vote for candidate nodes: SmolLM2-135M otherwise answered the problem's
    name or the prompt's placeholder '<id of the chosen card, or null>'."""
    from agents.team import NodeView

    script = RoleScript({"retriever": ['{"card": "lbfgs-finetune", "reason": "plateau"}'],
                         "selector": ['{"votes": [5], "reason": "diverse"}']})
    with FakeOpenAIServer(default=script) as srv:
        team = LLMTeam(providers_config(srv.base_url), sleep=InstantSleep())
        card, _ = asyncio.run(team.choose_card(context(), CARDS))
        ballot = asyncio.run(team.vote([NodeView(node_id=3, status="succeeded", score=0.1),
                                        NodeView(node_id=5, status="succeeded", score=0.2)], 1, 0, 1))
        retrieval, vote = (r.json["response_format"]["json_schema"]["schema"]["properties"] for r in srv.requests)
    assert card["id"] == "lbfgs-finetune" and ballot.payload["votes"] == [5]
    assert retrieval["card"] == {"anyOf": [{"enum": ["fourier-features", "lbfgs-finetune"]}, {"type": "null"}]}
    assert vote["votes"] == {"type": "array", "items": {"enum": [3, 5]}}
    assert "reason" in retrieval and "reason" in vote
