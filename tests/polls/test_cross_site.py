"""Cross-site vote forgery, in a real browser (Debian's chromium driven by Playwright): a page
served from another origin on loopback posts the vote form to the polls service. Nothing is
counted and the reader's voter cookie stays as it was; the same form on the poll's own page is
counted. The pages carry the security headers that keep them from being framed."""

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, async_playwright

from tests.polls.conftest import SettingsFactory, create_poll
from tests.support import fuzz
from tests.support.browser import ARTIFACTS, FLAGS
from xabar.polls.app import create_app
from xabar.runtime.localinfra import free_port

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"
)


@contextmanager
def other_site(page: str) -> Iterator[str]:
    """A site of another origin (another port on loopback) that serves ``page`` at /."""
    body = page.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def forged_form(polls: str, pid: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Win a prize</title>
</head><body><form method="post" action="{polls}/api/v1/polls/{pid}/votes">
<input type="hidden" name="option" value="o1"></form>
<script>document.forms[0].submit()</script></body></html>"""


async def voter_cookie(context: BrowserContext) -> str | None:
    return next((c["value"] for c in await context.cookies() if c["name"] == "xabar_voter"), None)


async def total_votes(polls: str, pid: str) -> int:
    async with httpx.AsyncClient(base_url=polls) as client:
        view = (await client.get(f"/api/v1/polls/{pid}")).json()
    return int(view["results"]["total_votes"])


async def test_a_form_posted_from_another_site_counts_nothing_and_keeps_the_cookie(
    make_settings: SettingsFactory, auth: dict[str, str]
) -> None:
    port = free_port()
    polls = f"http://127.0.0.1:{port}"
    settings = make_settings(port=port)  # its own origin is http://127.0.0.1:PORT
    ARTIFACTS.mkdir(exist_ok=True)
    with fuzz.served(create_app(settings), port) as url:
        assert url == polls
        async with httpx.AsyncClient(base_url=polls) as editor:
            pid = (await create_poll(editor, auth, options=["Да", "Нет"]))["poll_id"]
            earlier = (await create_poll(editor, auth, options=["Раньше", "Позже"]))["poll_id"]
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                context = await browser.new_context(locale="ru-RU")
                page = await context.new_page()
                first = await page.goto(f"{polls}/polls/{pid}")
                assert first is not None and first.status == 200
                csp = first.headers["content-security-policy"]
                assert "frame-ancestors 'none'" in csp
                assert first.headers["x-content-type-options"] == "nosniff"
                assert await page.locator("main h1").count() == 1
                assert await voter_cookie(context) is None  # reading a poll sets no cookie
                # the reader voted in another poll before: the polls know them by their cookie
                await page.goto(f"{polls}/polls/{earlier}")
                await page.get_by_label("Раньше").check()
                async with page.expect_navigation():
                    await page.get_by_role("button", name="Голосовать").click()
                cookie = await voter_cookie(context)
                assert cookie

                with other_site(forged_form(polls, pid)) as evil:
                    for _ in range(4):  # the probe that found it cast 4 counted votes
                        async with page.expect_response(f"**/api/v1/polls/{pid}/votes") as got:
                            await page.goto(evil)
                        refused = await got.value
                        assert refused.status == 403
                        await page.wait_for_load_state()
                        assert "только на страницах нашего сайта" in await page.content()
                        assert "set-cookie" not in refused.headers
                await page.screenshot(path=str(ARTIFACTS / "polls-cross-site-refused.png"))
                assert await total_votes(polls, pid) == 0
                assert await voter_cookie(context) == cookie

                # the same form on the poll's own page is counted, for the same voter
                await page.goto(f"{polls}/polls/{pid}")
                await page.get_by_label("Да").check()
                async with page.expect_navigation():
                    await page.get_by_role("button", name="Голосовать").click()
                text = await page.content()
                assert "Спасибо! Ваш голос учтён." in text and "Ваш выбор: Да." in text
                assert "Всего голосов: 1" in text  # the new results, on the page they came from
                await page.screenshot(path=str(ARTIFACTS / "polls-voted.png"), full_page=True)
                assert await total_votes(polls, pid) == 1
                assert await voter_cookie(context) == cookie
            finally:
                await browser.close()
