"""One error shape for the whole API, and the handlers that keep every failure a clear 4xx.

* 422 keeps FastAPI's shape, ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``, so a client finds
  the bad field in ``loc`` whether pydantic or our own checks (problem uploads, limits) rejected it;
* every other error is ``{"detail": "<message>"}``.

Exceptions from lower layers that mean "bad input" or "not there" (``NotFound``, ``ProblemNotFound``,
``ProblemValidationError``, ``CardError``) are mapped here rather than in each route.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    detail: list[FieldError]


class ApiError(Exception):
    """An error with an HTTP status, a message and optionally the request field at fault."""

    def __init__(self, status: int, message: str, *, field: list[str | int] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers

    def body(self) -> dict[str, Any]:
        if self.status == 422:
            return {"detail": [{"loc": self.field or ["body"], "msg": self.message, "type": "value_error"}]}
        return {"detail": self.message}


def field_error(loc: list[str | int], message: str) -> ApiError:
    return ApiError(422, message, field=loc)


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


# Responses documented on routes (OpenAPI); 422 is documented by FastAPI itself.
def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Error responses for a route's OpenAPI entry, always as ``application/json`` with :class:`ErrorBody`.

    The content type is spelled out instead of passing ``model=ErrorBody``: FastAPI documents a ``model``
    response under the route's own media type, so routes that answer text (logs, code, reports) would claim
    their JSON errors are ``text/plain`` (schemathesis's content-type check caught it).
    """
    text = {400: "Bad request (e.g. a body that cannot be decoded)", 401: "Missing or invalid API key",
            403: "The key lacks the scope", 404: "Not found (or not yours)",
            409: "Conflicts with the current state", 413: "Body too large",
            429: "A limit on active campaigns was reached", 503: "A dependency is unavailable"}
    schema = ErrorBody.model_json_schema()
    return {code: {"description": text.get(code, "Error"), "content": {"application/json": {"schema": schema}}}
            for code in codes}


AUTH = (401, 403)
#: Responses of every route that reads a request body: FastAPI answers 400 "There was an error parsing the
#: body" to one it cannot decode (bytes that are not UTF-8, a broken multipart form); the size limits 413.
BODY = (400, 413)


def install(app: FastAPI) -> None:
    from app.db.errors import NotFound
    from problems.errors import ProblemNotFound

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": f"{exc} not found"}, status_code=404)

    @app.exception_handler(ProblemNotFound)
    async def _problem_not_found(request: Request, exc: ProblemNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)
