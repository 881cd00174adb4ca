"""A real browser for tests: Debian's chromium driven by Playwright (never a downloaded browser),
axe-core (vendored from npm, see package.json) for accessibility, and screenshots under
``test-artifacts/``.

The browser is a Russian reader's or editor's: ``chromium()`` starts it in Russian (``LANGUAGE``,
with Debian's ``chromium-l10n``, which ``scripts/bootstrap.sh`` installs: Chromium draws date
inputs in its own UI language, never the page's), and ``new_page`` / ``new_context`` give it
``ru-RU`` and the newsroom's time zone, so a date input shows dd.mm.yyyy, ``Accept-Language`` and
``Intl`` are Russian, as the people the pages are for see them."""

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
RUSSIAN_UI = Path("/usr/lib/chromium/locales/ru.pak")  # Debian's chromium-l10n
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 375, "height": 740}
SERIOUS = ("serious", "critical")
LOCALE = "ru-RU"
TIMEZONE = "Asia/Almaty"  # the services' default display zone (NEWSROOM_TIMEZONE, TIMEZONE)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    assert RUSSIAN_UI.exists(), f"no {RUSSIAN_UI}: apt-get install chromium-l10n"
    russian = {**os.environ, "LANG": "ru_RU.UTF-8", "LANGUAGE": "ru"}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, env=russian)
        try:
            yield browser
        finally:
            await browser.close()


async def new_context(
    browser: Browser, viewport: ViewportSize | None = DESKTOP, **options: Any
) -> BrowserContext:
    """A context (a browser profile: its own cookies) of a Russian reader or editor; ``options``
    more of Playwright's (``java_script_enabled=False``, ...)."""
    return await browser.new_context(
        viewport=viewport, locale=LOCALE, timezone_id=TIMEZONE, **options
    )


async def new_page(
    browser: Browser, viewport: ViewportSize | None = DESKTOP, **options: Any
) -> Page:
    """A page in a context of its own (closed with the page), as ``new_context`` makes them."""
    return await browser.new_page(viewport=viewport, locale=LOCALE, timezone_id=TIMEZONE, **options)


def watch_csp(page: Page) -> list[str]:
    """Console errors about the Content-Security-Policy (a script or style the page refused)."""
    refused: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", on_console)
    return refused


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations of the page as it is now. axe is evaluated
    through the DevTools protocol, so the page's own CSP stays as strict as it is."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;void 0")
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]


async def screenshots(page: Page, name: str) -> list[Path]:
    """The whole page at desktop and at phone width, as ``test-artifacts/<name>-<size>.png``;
    the page is left at desktop width. Checks that nothing runs off the phone's screen."""
    ARTIFACTS.mkdir(exist_ok=True)
    slug = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    out = []
    for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        await page.set_viewport_size(viewport)
        if size == "phone":
            wide = await page.evaluate("document.documentElement.scrollWidth")
            assert wide <= PHONE["width"], f"{name}: {wide}px wide on a {PHONE['width']}px phone"
        path = ARTIFACTS / f"{slug}-{size}.png"
        await page.screenshot(path=str(path), full_page=True)
        out.append(path)
    return out
