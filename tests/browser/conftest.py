"""Pages in a real browser: Debian's `chromium` driven by Playwright (`executable_path`), against
the real app served by uvicorn on a loopback port, at a phone's and a desktop's size.

Without `/usr/bin/chromium` these tests skip on a developer's machine but fail under CI (`CI`
set), as the PostgreSQL tests do. Screenshots are kept in `test-artifacts/screenshots/`
(`ZHAOSHANG_TEST_ARTIFACTS` names another folder).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from domain.events import Actor
from services.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}
ARTIFACTS = Path(os.environ.get("ZHAOSHANG_TEST_ARTIFACTS", "test-artifacts")) / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=zh-CN",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    """The app served on loopback, with users of every role and a JSON client for seeding."""

    app: Any
    base_url: str
    tokens: dict[tuple[str, str | None], str] = field(default_factory=dict)

    def token(self, role: str, association_id: str | None = None) -> str:
        key = (role, association_id)
        if key not in self.tokens:
            name = f"{role}-{len(self.tokens) + 1}"
            _, self.tokens[key] = self.app.state.users.create(name, role, association_id)
        return self.tokens[key]

    def auth(self, role: str, association_id: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, association_id)}"}

    def api(self, method: str, path: str, role: str = "admin", **kwargs: Any) -> httpx.Response:
        headers = {
            **self.auth(role, kwargs.pop("association_id", None)),
            **kwargs.pop("headers", {}),
        }
        return httpx.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)

    def wait_for_read_models(self) -> None:
        ledger = self.app.state.services.ledger
        read = self.app.state.services.read_models
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                head = ledger.recorder.max_notification_id() or 0
                if min(read.position(n) for n in ("ledger", "figures", "rewards")) >= head:
                    return
            except LookupError:
                pass
            time.sleep(0.05)
        raise AssertionError("the read models did not catch up")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'pages.db'}"
    app = create_app(
        Settings(database_url=url, scheduler_enabled=False, projection_poll_seconds=0.05)
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield Live(app, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed under CI: the browser tests must run")
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    password: str


def person(live: Live, role: str, association_id: str | None = None) -> Person:
    """A new account with a password it may keep (as `serve --demo` makes them)."""
    name = f"{role}-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(12)
    ctx = live.app.state.services.ledger.context(Actor("test-admin", "admin"), source="cli")
    account_id, _ = live.app.state.services.accounts.create_account(
        ctx, name, role, association_id, password, must_change=False
    )
    return Person(str(account_id), name, password)


def log_in(browser: Any, live: Live, who: Person, viewport: dict[str, int]) -> Any:
    """A page of a new browser context signed in through `/app/login`."""
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live.base_url}/app/login")
    page.fill("input[name=name]", who.name)
    page.fill("input[name=password]", who.password)
    page.click("form.event-form button[type=submit]")
    page.wait_for_url("**/app/")
    return page


def signed_in(
    browser: Any,
    live: Live,
    role: str,
    viewport: dict[str, int],
    association_id: str | None = None,
) -> Any:
    return log_in(browser, live, person(live, role, association_id), viewport)


def screenshot(page: Any, name: str) -> Path:
    """Keep the page as an artefact, after checking its accessibility basics: every page a
    test keeps a picture of is a page it visits."""
    assert_accessible(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# Every input, select and textarea labelled (a `<label for>`, an enclosing `<label>`, or an
# ARIA label); one `h1`, first; heading levels never skipped on the way down (h2 → h4).
ACCESSIBILITY_PROBLEMS = """() => {
  const problems = [];
  for (const el of document.querySelectorAll(
      'input:not([type=hidden]):not([type=submit]), select, textarea')) {
    const byFor = el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`);
    if (!(byFor || el.closest('label') || el.getAttribute('aria-label')
          || el.getAttribute('aria-labelledby'))) {
      problems.push(`unlabelled ${el.tagName.toLowerCase()} ${el.name || el.id}`);
    }
  }
  const levels = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')]
    .map((h) => Number(h.tagName[1]));
  if (levels.filter((l) => l === 1).length !== 1) problems.push(`h1 count: ${levels}`);
  if (levels.length && levels[0] !== 1) problems.push(`the first heading is h${levels[0]}`);
  for (let i = 1; i < levels.length; i++) {
    if (levels[i] > levels[i - 1] + 1) {
      problems.push(`heading h${levels[i - 1]} is followed by h${levels[i]}`);
    }
  }
  return problems;
}"""


def assert_accessible(page: Any) -> None:
    """The accessibility basics of the page as it stands (issues 18, 19)."""
    problems = page.evaluate(ACCESSIBILITY_PROBLEMS)
    assert problems == [], f"{page.url}: {problems}"
