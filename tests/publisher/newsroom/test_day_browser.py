"""A newsroom day in a real browser (Debian's chromium through Playwright), against real ingest and
publisher processes on the real Redis and FerretDB:

- a tip sent through ingest (with a photo) appears in the open inbox without a reload; its page
  shows the text, the place, the contact and the photo (which an anonymous browser cannot get);
  the editor accepts it into a draft;
- the chief creates an account, and a disabled editor's session and API token stop at once, in
  the publisher and in ingest; after logout the chief's session and captured token stop too;
- every page passes axe-core (no serious or critical violation), refuses nothing by its CSP and
  fits a phone: screenshots of each in ``test-artifacts/newsroom-*.png``.
"""

import asyncio
import io
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from PIL import Image
from playwright.async_api import Browser, Page
from xabar.devstack.tips import TIPS as DEMO_TIPS
from xabar.devstack.tips import send_demo_tips

from tests.publisher.newsroom.browsing import check_page, log_in, open_signed_in
from tests.publisher.newsroom.processes import CHIEF, PASSWORD, THE_CHIEF, Processes, running
from tests.support.browser import new_context, new_page, watch_csp
from tests.support.procs import ServiceProcess
from tests.support.waiting import eventually

EDITOR = "editor@xabar.test"
TITLE = "Отключили свет в Худжанде"


@dataclass
class Stack:
    publisher: ServiceProcess
    ingest: ServiceProcess

    @property
    def url(self) -> str:
        return self.publisher.url


@pytest.fixture
def stack(processes: Processes) -> Iterator[Stack]:
    ingest = processes.ingest("ingest-0")
    publisher = processes.publisher(
        THE_CHIEF, (EDITOR, "editor", "Тимур Редактор"), INGEST_URL=ingest.url
    )
    with running(ingest, publisher):
        yield Stack(publisher, ingest)


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (40, 120, 200)).save(out, "JPEG", quality=85)
    return out.getvalue()


async def send_tip(stack: Stack) -> str:
    fields = {
        "title": TITLE,
        "text": "Третий день без света на улице Ленина.\nЖители жалуются.",
        "country": "TJ",
        "location": "Худжанд, ул. Ленина",
        "contact_name": "Фарход",
        "contact_email": "farhod@example.org",
        "consent": "on",
    }
    async with httpx.AsyncClient(base_url=stack.ingest.url, timeout=10) as client:
        resp = await client.post(
            "/api/v1/submissions",
            data=fields,
            files=[("photos", ("svet.jpg", photo(), "image/jpeg"))],
        )
    assert resp.status_code == 202, resp.text
    return str(resp.json()["submission_id"])


async def photo_shown(page: Page, timeout: float = 30) -> None:
    """The tip's first photo is loaded and drawn (polled from here: the page's CSP forbids the
    string evaluation ``wait_for_function`` would need)."""
    image = page.locator(".photos img").first
    await image.wait_for()
    deadline = asyncio.get_running_loop().time() + timeout
    while not await image.evaluate("img => img.complete && img.naturalWidth > 0"):
        assert asyncio.get_running_loop().time() < deadline, "the tip's photo is not shown"
        await asyncio.sleep(0.2)


async def api_token(stack: Stack, email: str) -> str:
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as client:
        resp = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


async def refused_everywhere(stack: Stack, token: str) -> dict[str, int]:
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=10) as client:
        me = await client.get(f"{stack.url}/api/v1/auth/me", headers=auth)
        photo_of = await client.get(
            f"{stack.ingest.url}/api/v1/attachments/{'0' * 32}", headers=auth
        )
    return {"publisher": me.status_code, "ingest": photo_of.status_code}


async def test_a_tip_arrives_live_is_read_and_accepted(stack: Stack, browser: Browser) -> None:
    page = await new_page(browser)
    refused = watch_csp(page)
    await open_signed_in(page, f"{stack.url}/inbox", EDITOR)
    assert "Сообщений нет" in await page.inner_text("main")
    await check_page(page, "inbox-empty", refused)

    submission_id = await send_tip(stack)
    row = page.locator(f"#inbox-rows [data-id='{submission_id}']")
    await row.wait_for(timeout=30_000)  # no reload: inbox.js brought it
    assert TITLE in await row.inner_text()
    assert "Новых сообщений: 1" in await page.inner_text("#inbox-live")
    await check_page(page, "inbox", refused)

    await row.locator("a").click()
    await page.wait_for_url(f"{stack.url}/inbox/{submission_id}")
    main = await page.inner_text("main")
    assert "Третий день без света" in main
    assert "Худжанд, ул. Ленина" in main
    assert "farhod@example.org" in main
    image = page.locator(".photos img")
    await photo_shown(page)
    photo_url = await image.get_attribute("src")
    assert photo_url
    await check_page(page, "tip", refused)
    async with httpx.AsyncClient(base_url=stack.url) as anonymous:
        outside = await anonymous.get(photo_url)
        assert outside.status_code == 303  # to the login page, no photo
        assert not outside.headers.get("content-type", "").startswith("image/")

    await page.click("button:has-text('Принять в черновик')")
    await page.wait_for_url(f"{stack.url}/inbox/{submission_id}")
    assert "Принято: создан черновик" in await page.inner_text("main")
    assert "принято" in await page.inner_text("main")
    await check_page(page, "tip-accepted", refused)

    await page.goto(f"{stack.url}/")
    assert "Новые сообщения" in await page.inner_text("main")
    await check_page(page, "today-editor", refused)
    await page.goto(f"{stack.url}/inbox?status=received&country=TJ&from=2026-01-01&to=2199-12-31")
    await check_page(page, "inbox-filtered", refused)
    await page.goto(f"{stack.url}/audit")
    assert "принял(а) сообщение" in await page.inner_text("main")
    await check_page(page, "audit", refused)


async def test_disabled_and_logged_out_accounts_stop_at_once(
    stack: Stack, browser: Browser
) -> None:
    chief = await new_context(browser)
    editor = await new_context(browser)
    page = await chief.new_page()
    refused = watch_csp(page)
    await open_signed_in(page, f"{stack.url}/people", CHIEF)
    await check_page(page, "people", refused)

    await page.fill("#new-name", "Айгерим Автор")
    await page.fill("#new-email", "author@xabar.test")
    await page.select_option("#new-role", "contributor")
    await page.click("button:has-text('Создать')")
    assert "Учётная запись author@xabar.test создана" in await page.inner_text("main")
    await check_page(page, "person", refused)
    log = stack.publisher.log_path.read_text()
    link = next(
        line for line in log.splitlines() if "author@xabar.test" in line and "/password/" in line
    )
    reset_url = link.rsplit(" ", 1)[-1].strip()

    newcomer = await new_page(browser)
    newcomer_refused = watch_csp(newcomer)
    await newcomer.goto(reset_url)
    await check_page(newcomer, "password-link", newcomer_refused)
    await newcomer.fill("#new", "пароль автора надёжный")
    await newcomer.fill("#again", "пароль автора надёжный")
    await newcomer.click("button[type=submit]")
    await newcomer.wait_for_url(f"{stack.url}/login?changed=1")
    await log_in(newcomer, "author@xabar.test", "пароль автора надёжный")
    await newcomer.wait_for_url(f"{stack.url}/")
    await newcomer.goto(f"{stack.url}/account")
    await check_page(newcomer, "account", newcomer_refused)

    their = await editor.new_page()
    await open_signed_in(their, f"{stack.url}/", EDITOR)
    token = await api_token(stack, EDITOR)
    assert await refused_everywhere(stack, token) == {"publisher": 200, "ingest": 404}

    await page.goto(f"{stack.url}/people")
    await page.click("text=Тимур Редактор")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.click("button:has-text('Отключить')")
    await page.wait_for_selector("text=Учётная запись отключена")
    assert await refused_everywhere(stack, token) == {"publisher": 401, "ingest": 401}
    await their.goto(f"{stack.url}/inbox")
    assert their.url.startswith(f"{stack.url}/login?next=")

    captured = await api_token(stack, CHIEF)
    await page.click("text=Выйти")
    await page.wait_for_url(f"{stack.url}/login?bye=1")
    assert await refused_everywhere(stack, captured) == {"publisher": 401, "ingest": 401}
    await page.goto(f"{stack.url}/people")
    assert page.url.startswith(f"{stack.url}/login?next=")
    await chief.close()
    await editor.close()


async def test_the_demos_tips_wait_in_the_inbox_with_their_photos(
    stack: Stack, browser: Browser
) -> None:
    """What the first ``make run`` leaves in «Входящие»: the demo's citizen tips, each with a
    photo an editor sees."""
    assert await asyncio.to_thread(send_demo_tips, stack.ingest.url) == len(DEMO_TIPS)
    page = await new_page(browser)
    refused = watch_csp(page)
    await open_signed_in(page, f"{stack.url}/inbox", EDITOR)
    rows = page.locator("#inbox-rows [data-id]")

    async def all_there() -> bool:
        await page.reload()
        return await rows.count() == len(DEMO_TIPS)

    await eventually(all_there, 30, "the demo's tips in the inbox", every=0.5)
    listed = await page.inner_text("main")
    for tip in DEMO_TIPS:
        assert str(tip["title"]) in listed
    await check_page(page, "inbox-demo", refused)
    for n in range(len(DEMO_TIPS)):
        await page.goto(f"{stack.url}/inbox")
        await rows.nth(n).locator("a").click()
        await page.wait_for_url(f"{stack.url}/inbox/*")
        await photo_shown(page)
