"""Fixtures for the dashboard tests: a service stack (tests/api's harness) and Debian's Chromium via Playwright.

The browser is the system's ``/usr/bin/chromium`` (``scripts/setup.sh --dev`` installs it with apt); Playwright
never downloads one. Without it the browser tests are skipped with the reason, the others still run.
Screenshots go to ``test-artifacts/screenshots/`` (git-ignored; CI keeps them as artefacts).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import BACKENDS, _database_url  # noqa: F401
from tests.api.harness import Stack

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("AGENTIC_SCIML_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"


@pytest.fixture(autouse=True)
def hashing_embedder(monkeypatch):
    """The method memory embeds cards into each fresh data directory: milliseconds with the hashing embedder."""
    monkeypatch.setenv("AGENTIC_SCIML_EMBEDDER", "hashing")


@pytest.fixture
def stack(tmp_path) -> Iterator[Stack]:
    s = Stack(url=f"sqlite:///{tmp_path / 'service.db'}", data_dir=tmp_path / "data")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(params=BACKENDS)
def any_stack(request, tmp_path) -> Iterator[Stack]:
    """A stack on SQLite and (marked ``postgres``) on a fresh PostgreSQL schema."""
    for url in _database_url(request.param, tmp_path, request):
        s = Stack(url=url, data_dir=tmp_path / "data")
        try:
            yield s
        finally:
            s.close()


# Module scope, not session: Playwright's sync API keeps an event loop running in the main thread while it
# is open, and every later test that calls asyncio.run() would fail with "cannot be called from a running
# event loop".
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: `bash scripts/setup.sh --dev` installs Debian's chromium with apt")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


class PageErrors(list):
    """Uncaught script errors of a page (console 'Failed to load resource' lines are API answers, not bugs)."""

    def check(self) -> None:
        assert not self, f"script errors in the page: {self}"


@pytest.fixture
def open_page(browser):
    contexts = []

    def make(width: int = 1280, height: int = 900, **kwargs):
        context = browser.new_context(viewport={"width": width, "height": height}, **kwargs)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors = PageErrors()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text else None)
        page.errors = errors
        return page

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
