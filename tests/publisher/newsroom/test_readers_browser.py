"""The readers' side of the newsroom in a real browser (Debian's chromium through Playwright),
against a real publisher process on the real Redis and FerretDB:

- a moderator approves comments in «Комментарии» and the feed's stream gets them;
- an editor creates a poll in «Опросы» against a real polls process and sets where it is shown;
- an editor reads a reader's letter in «Письма» and marks it handled;
- the XSS corpus of the feed's tests, in every commenter's and letter writer's name and text,
  runs no script and reads as typed;
- every page passes axe-core with no serious or critical violation, refuses nothing by its CSP
  and fits a phone (screenshots in ``test-artifacts/newsroom-*.png``).
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from playwright.async_api import Browser, Dialog, Page

from tests.feed.test_xss import PAYLOADS
from tests.publisher.conftest import eventually, send_tip
from tests.publisher.moderation import comment, letter, public_events
from tests.publisher.newsroom.browsing import check_page, open_signed_in
from tests.publisher.newsroom.processes import CHIEF, PASSWORD, Processes, running
from tests.support.browser import new_page, watch_csp
from tests.support.procs import ServiceProcess
from xabar.contracts import CommentPublished

CONTROL = {chr(c) for c in range(32)} - {"\n"}
FOREIGN = ", ".join(
    f"main {t}" for t in ("iframe", "svg", "img", "style", "b", "i", "meta", "a[href^=javascript]")
)


async def published_article(url: str, title: str) -> str:
    """An article published through the API with the chief's login; its id."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        login = await client.post("/api/v1/auth/login", json={"email": CHIEF, "password": PASSWORD})
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        body = {"title": title, "lead": "Лид", "body_html": "<p>Текст статьи.</p>"}
        created = await client.post("/api/v1/articles", json=body, headers=auth)
        article_id: str = created.json()["article_id"]
        done = await client.post(f"/api/v1/articles/{article_id}/publish", headers=auth)
        assert done.status_code == 200, done.text
        return article_id


def words(text: str) -> str:
    return " ".join(text.split())


async def no_foreign_markup(page: Page) -> None:
    """Nothing in the page is markup a commenter typed: no handler attributes, no frames or
    SVG, and the only scripts are the newsroom's own files."""
    found: dict[str, Any] = await page.evaluate(
        """(foreign) => ({
            handlers: [...document.querySelectorAll('*')].filter(e =>
                [...e.attributes].some(a => a.name.startsWith('on'))).length,
            foreign: document.querySelectorAll(foreign).length,
            scripts: [...document.scripts].map(s => s.getAttribute('src') || 'inline'),
        })""",
        FOREIGN,
    )
    assert found["handlers"] == 0 and found["foreign"] == 0, found
    assert all(s.startswith("/static/") for s in found["scripts"]), found


async def reload_until(page: Page, url: str, selector: str, count: int) -> None:
    async def shown() -> bool:
        await page.goto(url)
        return await page.locator(selector).count() >= count

    await eventually(shown, 30, f"{count} of {selector} on {url}")


async def test_a_moderator_approves_comments_and_hostile_text_stays_text(
    publisher: ServiceProcess, browser: Browser, redis_url: str, redis: aioredis.Redis
) -> None:
    article_id = await published_article(publisher.url, "Новый мост через Сырдарью")
    good = comment(article_id, name="Дильноза", text="Спасибо!\nЖдём открытия моста.")
    hostile = [
        comment(article_id, name=payload, text=f"Текст {n}: {payload}")
        for n, payload in enumerate(PAYLOADS)
    ]
    for event in (good, *hostile):
        await send_tip(redis_url, event)

    page = await new_page(browser)
    refused = watch_csp(page)
    dialogs: list[str] = []

    async def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    await open_signed_in(page, f"{publisher.url}/comments")
    await reload_until(page, f"{publisher.url}/comments", "li.comment", 1 + len(PAYLOADS))
    assert await page.inner_text("h1") == f"Комментарии {1 + len(PAYLOADS)} ждут модерации"
    await check_page(page, "comments", refused)

    await no_foreign_markup(page)
    names = {words(t) for t in await page.locator(".comment__name").all_inner_texts()}
    texts = {words(t) for t in await page.locator(".comment__text").all_inner_texts()}
    for n, payload in enumerate(PAYLOADS):
        if CONTROL & set(payload):
            continue  # a browser shows control characters its own way
        assert words(payload) in names, payload
        assert words(f"Текст {n}: {payload}") in texts, payload
    assert "Новый мост через Сырдарью" in await page.inner_text("main")

    row = page.locator(f"#c-{good.data.comment_id}")
    await row.get_by_role("button", name="Одобрить", exact=True).click()
    await page.wait_for_load_state()
    assert "Комментарий одобрен: читатели его видят." in await page.inner_text(".flashes")
    assert await page.locator(f"#c-{good.data.comment_id}").count() == 0

    async def out() -> bool:
        return any(
            isinstance(e, CommentPublished) and e.data.comment_id == good.data.comment_id
            for e in await public_events(redis)
        )

    await eventually(out, what="comment.published of the approved comment")
    first, second = hostile[0].data.comment_id, hostile[1].data.comment_id
    await page.check(f"#pick-{first}")
    await page.check(f"#pick-{second}")
    await page.get_by_role("button", name="Одобрить отмеченные").click()
    await page.wait_for_load_state()
    assert "Одобрено комментариев: 2." in await page.inner_text(".flashes")

    await page.goto(f"{publisher.url}/comments?status=approved&article_id={article_id}")
    assert await page.locator("li.comment").count() == 3
    await page.locator("details.more summary").first.click()
    await check_page(page, "comments-approved", refused)
    await no_foreign_markup(page)
    assert dialogs == []


@pytest.fixture
def with_polls(processes: Processes, polls: ServiceProcess) -> Iterator[ServiceProcess]:
    """A publisher process whose newsroom calls a real polls process."""
    proc = processes.publisher(POLLS_URL=polls.url)
    with running(proc):
        yield proc


async def test_an_editor_creates_a_poll_and_places_it(
    with_polls: ServiceProcess, browser: Browser
) -> None:
    url = with_polls.url
    article_id = await published_article(url, "Выборы в Кыргызстане")
    page = await new_page(browser)
    refused = watch_csp(page)
    await open_signed_in(page, f"{url}/polls")
    assert "Опросов ещё нет." in await page.inner_text("main")
    await check_page(page, "polls-empty", refused)

    await page.get_by_role("link", name="Новый опрос").click()
    await page.fill("#question", "Пойдёте ли вы на выборы?")
    await page.fill("#options", "Только да")
    await page.get_by_role("button", name="Создать опрос").click()
    await page.wait_for_load_state()
    assert "Вариантов ответа нужно от 2 до 20" in await page.inner_text("[role=alert]")
    await check_page(page, "polls-new-error", refused)

    await page.fill("#options", "Да\nНет\nЕщё не решил(а)")
    await page.check("input[name=choice][value=multiple]")
    await page.select_option("#visibility", "after_close")
    await page.fill("#closes-at", "2199-12-31T20:00")
    await page.check("input[name=country][value=KG]")
    await check_page(page, "polls-new", refused)
    await page.get_by_role("button", name="Создать опрос").click()
    await page.wait_for_url(f"{url}/polls/*")
    assert "Опрос создан." in await page.inner_text(".flashes")
    assert await page.inner_text("h1") == "Пойдёте ли вы на выборы?"
    assert "Всего голосов: 0" in await page.inner_text("main")
    poll_id = page.url.rsplit("/", 1)[1]

    await page.uncheck("input[name=front_page]")
    await page.uncheck("input[name=country][value=KG]")
    await page.check("input[name=country][value=TJ]")
    await page.check(f"input[name=article_id][value='{article_id}']")
    await page.get_by_role("button", name="Сохранить размещение").click()
    await page.wait_for_load_state()
    assert "Размещение опроса сохранено." in await page.inner_text(".flashes")
    assert not await page.is_checked("input[name=front_page]")
    assert await page.is_checked(f"input[name=article_id][value='{article_id}']")
    await check_page(page, "poll", refused)
    async with httpx.AsyncClient() as client:
        polls_url = with_polls.env["XABAR_PUBLISHER_POLLS_URL"]
        stored = (await client.get(f"{polls_url}/api/v1/polls/{poll_id}")).json()
    assert (stored["front_page"], stored["countries"], stored["article_ids"]) == (
        False,
        ["TJ"],
        [article_id],
    )
    assert (stored["multiple"], stored["results_visibility"]) == (True, "after_close")

    await page.goto(f"{url}/polls")
    assert await page.locator(".poll-row").count() == 1
    assert "Таджикистан, в статьях: 1" in await page.inner_text("main")
    await check_page(page, "polls", refused)


async def test_an_editor_reads_a_letter_and_marks_it_handled(
    publisher: ServiceProcess, browser: Browser, redis_url: str
) -> None:
    kind = letter(
        name="Гульнара",
        subject="Опечатка в статье о ЕАЭС",
        text="Здравствуйте!\nВ статье перепутаны даты: саммит был в мае.",
    )
    hostile = [
        letter(name=payload, subject=f"Тема {n}: {payload}", text=f"Текст {payload}")
        for n, payload in enumerate(PAYLOADS[:6])
    ]
    for event in (*hostile, kind):
        await send_tip(redis_url, event)
    page = await new_page(browser)
    refused = watch_csp(page)
    await open_signed_in(page, f"{publisher.url}/letters")
    await reload_until(page, f"{publisher.url}/letters", "li.letter-row", 1 + len(hostile))
    await check_page(page, "letters", refused)
    await no_foreign_markup(page)

    await page.get_by_role("link", name="Опечатка в статье о ЕАЭС").click()
    await page.wait_for_url(f"{publisher.url}/letters/{kind.data.letter_id}")
    assert "саммит был в мае" in await page.inner_text(".letter__text")
    assert "не указано" in await page.inner_text(".facts")
    await check_page(page, "letter", refused)
    await page.get_by_role("button", name="Отметить обработанным").click()
    await page.wait_for_url(f"{publisher.url}/letters")
    assert "Письмо обработано." in await page.inner_text(".flashes")
    await page.get_by_role("link", name="Обработаны").click()
    assert await page.locator("li.letter-row").count() == 1
    await check_page(page, "letters-handled", refused)
