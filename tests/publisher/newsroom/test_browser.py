"""The newsroom in a real browser (Debian's chromium through Playwright) against a real publisher
process: log in through the form and land where one was going, every page passes axe-core with
no serious or critical violation and no CSP refusal, fits a phone's screen, and a form posted
from another site's page is refused. Screenshots in ``test-artifacts/newsroom-*.png``."""

from playwright.async_api import Browser

from tests.publisher.newsroom.browsing import check_page, log_in
from tests.publisher.newsroom.processes import CHIEF
from tests.support.browser import new_context, new_page, screenshots, watch_csp
from tests.support.procs import ServiceProcess


async def test_log_in_see_today_and_log_out(publisher: ServiceProcess, browser: Browser) -> None:
    page = await new_page(browser)
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
    publisher: ServiceProcess, browser: Browser
) -> None:
    context = await new_context(browser)
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
