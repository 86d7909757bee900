"""Serves the dashboard: ``/ui/static/...`` (scripts, styles) and ``index.html`` for every page under ``/ui/``.

Every page is the same document; the script reads the path (``/ui/campaigns/ID`` ...) and draws it, so a
reload or a shared link lands on the same page. Responses carry a Content-Security-Policy that allows only
this origin's scripts and connections: the pages render text that agents wrote, and nothing in it may run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
UI_PREFIX = "/ui"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


class _Static(StaticFiles):
    """Static files that the browser revalidates on each load (a 304 is cheap; a stale script after an
    upgrade is a confusing bug)."""

    async def get_response(self, path: str, scope: Any) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def _page(request: Request, path: str = "") -> Response:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html",
                        headers={"Cache-Control": "no-cache", **SECURITY_HEADERS})


def install(app: FastAPI) -> None:
    """Mount the dashboard on ``app``: static files, the page routes, and ``/`` redirecting to it."""
    if not (STATIC_DIR / "index.html").is_file():  # a broken install: say so rather than serve 404s
        raise RuntimeError(f"dashboard files missing under {STATIC_DIR} (package-data not installed?)")
    app.mount(f"{UI_PREFIX}/static", _Static(directory=STATIC_DIR), name="dashboard-static")

    async def root() -> RedirectResponse:
        return RedirectResponse(f"{UI_PREFIX}/", status_code=307)

    for path in ("/", UI_PREFIX):
        app.add_api_route(path, root, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"{UI_PREFIX}/", _page, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"{UI_PREFIX}/{{path:path}}", _page, methods=["GET"], include_in_schema=False)
