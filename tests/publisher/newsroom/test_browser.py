"""The newsroom in a real browser (Debian's chromium through Playwright) against a real publisher
process: log in through the form and land where one was going, every page passes axe-core with
no serious or critical violation and no CSP refusal, fits a phone's screen, and a form posted
from another site's page is refused. Screenshots in ``test-artifacts/newsroom-*.png``."""

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from tests.publisher.conftest import SettingsFactory, env_of
from tests.publisher.newsroom.conftest import PASSWORD
from tests.support.browser import axe_violations, chromium, screenshots, watch_csp
from tests.support.procs import ServiceProcess, service_process

CHIEF = "chief@xabar.test"


@dataclass
class Running:
    proc: ServiceProcess
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.proc.url


def create_editor(env: dict[str, str], email: str, role: str, name: str) -> None:
    command = [sys.executable, "-m", "xabar.publisher", "create-editor", "--email", email]
    subprocess.run(
        [*command, "--name", name, "--role", role],
        env={**os.environ, **env, "XABAR_PUBLISHER_NEW_EDITOR_PASSWORD": PASSWORD},
        check=True,
        capture_output=True,
        timeout=60,
    )


@pytest.fixture
def publisher(make_settings: SettingsFactory, tmp_path: Path) -> Iterator[Running]:
    env = env_of(make_settings())
    proc = service_process("xabar.publisher", env, tmp_path, "XABAR_PUBLISHER_PORT")
    origin = f"http://127.0.0.1:{proc.port}"
    proc.env |= {"XABAR_PUBLISHER_PUBLIC_URL": origin}
    env = proc.env
    create_editor(env, CHIEF, "chief", "Гульнара Главная")
    proc.start()
    try:
        yield Running(proc, env)
    finally:
        proc.terminate()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


async def check_page(page: Page, name: str, refused: list[str]) -> None:
    violations = await axe_violations(page)
    assert violations == [], f"{name}: {violations}"
    await screenshots(page, f"newsroom-{name}")
    assert refused == [], f"{name}: the page's CSP refused {refused}"


async def log_in(page: Page, email: str = CHIEF, password: str = PASSWORD) -> None:
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")


async def test_log_in_see_today_and_log_out(publisher: Running, browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    refused = watch_csp(page)
    resp = await page.goto(f"{publisher.url}/?from=test")
    assert resp is not None
    assert page.url.startswith(f"{publisher.url}/login?next=")
    assert await page.inner_text("h1") == "Вход в редакцию"
    await check_page(page, "login", refused)

    await log_in(page, CHIEF, "не-тот-пароль")
    assert "Неверный e-mail или пароль" in await page.inner_text("main")
    await check_page(page, "login-error", refused)

    await log_in(page)
    await page.wait_for_url(f"{publisher.url}/?from=test")
    assert (await page.inner_text("h1")).startswith("Сегодня")
    assert "Гульнара Главная" in await page.inner_text("header")
    nav = await page.locator("nav a").all_inner_texts()
    assert nav[0] == "Сегодня"
    await check_page(page, "today", refused)

    missing = await page.goto(f"{publisher.url}/no-such-page")
    assert missing is not None
    assert missing.status == 404
    await check_page(page, "not-found", refused)

    await page.goto(f"{publisher.url}/")
    await page.click("text=Выйти")
    await page.wait_for_url(f"{publisher.url}/login?bye=1")
    assert "Вы вышли" in await page.inner_text("main")
    await page.goto(f"{publisher.url}/")
    assert page.url.startswith(f"{publisher.url}/login?next=")


async def test_a_form_on_another_sites_page_is_refused(
    publisher: Running, browser: Browser
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{publisher.url}/login")
    await log_in(page)
    await page.wait_for_url(f"{publisher.url}/")

    evil = "http://evil.test/"
    form = (
        f'<form method="post" action="{publisher.url}/logout">'
        '<input name="csrf" value="guess"><button id="go">go</button></form>'
    )
    await context.route(evil, lambda route: route.fulfill(body=form, content_type="text/html"))
    await page.goto(evil)
    async with page.expect_response(f"{publisher.url}/logout") as answer:
        await page.click("#go")
    refused = await answer.value
    assert refused.status == 403
    assert "только со страниц редакции" in await page.inner_text("main")
    await screenshots(page, "newsroom-foreign-origin")
    await page.goto(f"{publisher.url}/")
    assert page.url == f"{publisher.url}/"  # still logged in: nothing was done
    await context.close()
