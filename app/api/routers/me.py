"""Who the presented key belongs to (handy for checking a key and its scopes)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from app.api.auth import Principal, require_read
from app.api.context import ApiContext, get_ctx
from app.api.errors import AUTH, responses
from app.api.schemas import Me

router = APIRouter(tags=["service"])


@router.get("/me", response_model=Me, summary="The caller's identity and scopes", responses=responses(*AUTH))
def me(principal: Principal = Depends(require_read), ctx: ApiContext = Depends(get_ctx)) -> Me:
    return Me(user_id=principal.user_id, username=principal.username, key_prefix=principal.key_prefix,
              scopes=sorted(principal.scopes), is_admin=principal.is_admin, auth_enabled=ctx.service.auth_required)
