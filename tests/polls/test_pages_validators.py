"""The polls service's own reader pages held to the real validators: the Nu Html Checker
(0 errors) and axe-core in Debian's chromium (0 serious or critical violations), with hostile
questions and options from the XSS corpus, in every variant a reader gets: the list, a poll
with its form, the page right after a vote (their choice), a poll already voted in, a closed
poll, and the 404 page. Screenshots of each go to test-artifacts/."""

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Response, async_playwright

from tests.feed.test_xss import PAYLOADS
from tests.feed.validators import CHROMIUM, CHROMIUM_FLAGS, ROOT, axe_violations, nu_check
from tests.polls.conftest import SettingsFactory, create_poll
from tests.support import fuzz
from xabar.polls.app import create_app
from xabar.runtime.localinfra import free_port

ARTIFACTS = ROOT / "test-artifacts"
SERIOUS = ("serious", "critical")
pytestmark = pytest.mark.skipif(
    shutil.which("java") is None or not Path(CHROMIUM).exists(),
    reason="the validators need java and Debian's chromium",
)


async def test_every_reader_page_of_the_polls_is_valid_and_accessible(
    make_settings: SettingsFactory, auth: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    settings = make_settings(port=port, address_cooldown_s=0)
    ARTIFACTS.mkdir(exist_ok=True)
    with fuzz.served(create_app(settings), port) as url:
        async with httpx.AsyncClient(base_url=url) as editor:
            hostile = await create_poll(
                editor,
                auth,
                question=f"Опрос {PAYLOADS[0]} {PAYLOADS[1]}?",
                options=["Да", PAYLOADS[2], PAYLOADS[4]],
            )
            closed = await create_poll(editor, auth, question="Закрытый опрос?")
            await editor.post(f"/api/v1/polls/{closed['poll_id']}/votes", json={"options": ["o1"]})
            assert (
                await editor.post(f"/api/v1/polls/{closed['poll_id']}/close", headers=auth)
            ).is_success
        pid = hostile["poll_id"]
        pages: dict[str, str] = {}
        found: list[str] = []
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                context = await browser.new_context(locale="ru-RU", bypass_csp=True)
                page = await context.new_page()

                async def check(name: str, response: Response | None) -> None:
                    assert response is not None and page.url.startswith(url)
                    pages[name] = await response.text()  # the bytes as sent, for the checker
                    for v in await axe_violations(page):
                        if v["impact"] in SERIOUS:
                            found.append(f"{name}: {v['id']} ({v['impact']})")
                    await page.screenshot(
                        path=str(ARTIFACTS / f"polls-service-{name}.png"), full_page=True
                    )

                await check("list", await page.goto(f"{url}/polls"))
                await check("poll", await page.goto(f"{url}/polls/{pid}"))
                await page.get_by_label("Да").check()
                async with page.expect_navigation() as landed:
                    await page.get_by_role("button", name="Голосовать").click()
                await check("just-voted", await landed.value)
                assert "Ваш выбор: Да." in pages["just-voted"]
                await check("voted", await page.goto(f"{url}/polls/{pid}"))
                assert "Вы уже проголосовали" in pages["voted"]
                await check("closed", await page.goto(f"{url}/polls/{closed['poll_id']}"))
                assert "Опрос закрыт" in pages["closed"]
                missing = await page.goto(f"{url}/polls/nothere1")
                assert missing is not None and missing.status == 404
                await check("missing", missing)
                assert "alert(1)" not in "".join(
                    await page.evaluate("() => [...document.scripts].map(s => s.text)")
                )
            finally:
                await browser.close()
    files = []
    for name, html in pages.items():
        path = tmp_path / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        files.append(path)
    errors = [m for m in await asyncio.to_thread(nu_check, files) if m.kind == "error"]
    assert not errors, "\n".join(map(str, errors))
    assert not found, "\n".join(found)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages["poll"]  # shown as text, escaped
