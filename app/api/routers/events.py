"""Live events as server-sent events: one stream per campaign, one for everything the caller may see."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import StreamingResponse

from app.api.auth import Principal, require_read
from app.api.context import ApiContext, get_ctx
from app.api.errors import AUTH, ApiError, responses
from app.api.schemas import ID_PATTERN
from app.api.sse import campaign_stream, global_stream
from app.api.views import visible_campaign

router = APIRouter(tags=["events"])
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_RESPONSE = {200: {"content": {"text/event-stream": {}}, "description": "An event stream (text/event-stream)"}}


#: The largest event cursor accepted, as for the ``after`` query parameter: the database columns are 64-bit.
MAX_CURSOR = 2**62


def _cursor(last_event_id: str | None, query_value: int | None) -> int | None:
    """The resume point: ``Last-Event-ID`` (ASCII digits, at most MAX_CURSOR) if sent, else ``after``.

    The header is checked as strictly as the query parameter: a value past 64 bits reached the database
    inside the stream, after the 200 was sent, and broke the connection (found by schemathesis)."""
    if last_event_id is not None and last_event_id.strip():
        text = last_event_id.strip()
        if not (text.isascii() and text.isdigit()):
            raise ApiError(400, "Last-Event-ID must be a non-negative integer event id")
        value = int(text)
        if value > MAX_CURSOR:
            raise ApiError(400, f"Last-Event-ID must be at most {MAX_CURSOR}")
        return value
    return query_value


@router.get("/campaigns/{campaign_id}/events", summary="Live events of one campaign (SSE; id = seq)",
            description="Replays the campaign's events from the start (or after `Last-Event-ID` / `after`), then "
                        "follows new ones. Each message's `id` is the event's per-campaign `seq`; reconnecting with "
                        "`Last-Event-ID` resumes exactly after it. `follow=false` sends what exists and closes.",
            response_class=StreamingResponse, responses={**SSE_RESPONSE, **responses(*AUTH, 400, 404)})
def campaign_events(
    campaign_id: str = Path(pattern=ID_PATTERN),
    after: int | None = Query(None, ge=0, le=MAX_CURSOR, description="start after this seq (Last-Event-ID wins)"),
    follow: bool = Query(True, description="keep the stream open for new events"),
    last_event_id: str | None = Header(None, alias="Last-Event-ID", max_length=32),
    ctx: ApiContext = Depends(get_ctx),
    principal: Principal = Depends(require_read),
) -> StreamingResponse:
    start = _cursor(last_event_id, after) or 0
    with ctx.db.session_scope(readonly=True) as s:
        visible_campaign(s, principal, campaign_id)
    return StreamingResponse(campaign_stream(ctx, campaign_id, start, follow=follow),
                             media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/events", summary="Live events of every campaign you may see (SSE; id = global event id)",
            description="Starts with new events (or after `Last-Event-ID` / `after`). Each message's `id` is the "
                        "global event id; reconnecting with `Last-Event-ID` resumes exactly after it.",
            response_class=StreamingResponse, responses={**SSE_RESPONSE, **responses(*AUTH, 400)})
def all_events(
    after: int | None = Query(None, ge=0, le=MAX_CURSOR, description="start after this event id (Last-Event-ID wins)"),
    follow: bool = Query(True, description="keep the stream open for new events"),
    last_event_id: str | None = Header(None, alias="Last-Event-ID", max_length=32),
    ctx: ApiContext = Depends(get_ctx),
    principal: Principal = Depends(require_read),
) -> StreamingResponse:
    start = _cursor(last_event_id, after)
    return StreamingResponse(global_stream(ctx, principal, start, follow=follow),
                             media_type="text/event-stream", headers=SSE_HEADERS)
