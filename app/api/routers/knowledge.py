"""The method memory (knowledge base): browse, search and add method cards.

Served only if :mod:`knowledge_base.retrieval` is importable and builds; otherwise every route answers 503
with the reason, and the rest of the API is unaffected.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from app.api.auth import Principal, require_read, require_write
from app.api.context import ApiContext, get_ctx
from app.api.errors import AUTH, BODY, ApiError, field_error, not_found, responses
from app.api.schemas import CardCreate, CardList, CardOut, CardSummary, SearchHit, SearchResult

router = APIRouter(tags=["knowledge"])
SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Kind = Literal["pinn", "operator", "regression"]


def _summary(card: Any) -> CardSummary:
    return CardSummary(id=card.id, title=card.title, family=card.family, kinds=list(card.kinds), origin=card.origin,
                       citation=card.citation.short() if card.citation else None)


def _full(card: Any) -> CardOut:
    from knowledge_base.cards import render_card

    return CardOut(**_summary(card).model_dump(), failure_modes=list(card.failure_modes), tags=list(card.tags),
                   sections=card.sections(), provenance=dict(card.provenance), markdown=render_card(card))


@router.get("/knowledge/cards", response_model=CardList, summary="Method cards (curated and discovered)",
            responses=responses(*AUTH, 503))
def list_cards(kind: Kind | None = Query(None), ctx: ApiContext = Depends(get_ctx),
               principal: Principal = Depends(require_read)) -> CardList:
    return CardList(items=[_summary(c) for c in ctx.memory().list(kind)])


@router.get("/knowledge/cards/{card_id}", response_model=CardOut, summary="One card in full",
            responses=responses(*AUTH, 404, 503))
def get_card(card_id: str = Path(pattern=SLUG, max_length=200), ctx: ApiContext = Depends(get_ctx),
             principal: Principal = Depends(require_read)) -> CardOut:
    memory = ctx.memory()
    try:
        return _full(memory.get(card_id))
    except KeyError:
        raise not_found(f"card {card_id!r}") from None


@router.get("/knowledge/search", response_model=SearchResult, summary="Cards closest to a described situation",
            responses=responses(*AUTH, 503))
def search(q: str = Query(min_length=1, max_length=4000, description="the situation, in words"),
           kind: Kind | None = Query(None), k: int = Query(5, ge=1, le=50), ctx: ApiContext = Depends(get_ctx),
           principal: Principal = Depends(require_read)) -> SearchResult:
    hits = ctx.memory().search(q, kind=kind, k=k)
    return SearchResult(query=q, hits=[SearchHit(card_id=h.card_id, score=h.score, title=h.title, family=h.family,
                                                 kinds=list(h.kinds), origin=h.origin, citation=h.citation)
                                       for h in hits])


@router.post("/knowledge/cards", response_model=CardOut, status_code=201, summary="Add a discovered card",
             description="A card whose id is taken replaces it only if the caller added it, or is an admin "
                         "(409 otherwise); curated cards are never replaced. The adder is recorded as "
                         "`provenance.added_by`.",
             responses=responses(*AUTH, *BODY, 409, 503))
def add_card(body: CardCreate, ctx: ApiContext = Depends(get_ctx),
             principal: Principal = Depends(require_write)) -> CardOut:
    from knowledge_base.cards import CardError, parse_card

    memory = ctx.memory()
    if "\x00" in body.markdown:
        raise field_error(["body", "markdown"], "markdown: contains a NUL character")
    try:
        card = parse_card(body.markdown, source="markdown")
    except CardError as exc:
        raise field_error(["body", "markdown"], str(exc)) from None
    if card.origin != "discovered":
        raise field_error(["body", "markdown", "origin"],
                          "markdown: field 'origin': cards added through the API must be 'discovered' "
                          "(curated cards are reviewed files of the repository)")
    try:
        existing = memory.get(card.id)
    except KeyError:
        existing = None
    if existing is not None and existing.origin == "curated":
        raise ApiError(409, f"card id {card.id!r} is a curated card; choose another id")
    # Adding a card under an existing id replaces it, so without this check any write key could rewrite the
    # cards other users added (or their campaigns discovered). The adder is recorded in the provenance
    # (whatever the markdown claims) and only they, or an admin, may replace the card.
    if existing is not None and not principal.is_admin and existing.provenance.get("added_by") != principal.username:
        raise ApiError(409, f"card id {card.id!r} is taken by a card you did not add; choose another id")
    card = card.model_copy(update={"provenance": {**card.provenance, "added_by": principal.username}})
    try:
        stored = memory.add_card(card)
    except CardError as exc:
        raise ApiError(409, str(exc)) from None
    return _full(stored)
