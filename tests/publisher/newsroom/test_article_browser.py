"""The article pages in a real browser (Debian's chromium through Playwright) against a real
publisher process and a real feed process on the same Redis: write a body with bold, a link and
a subheading, attach a photo from the library, preview, publish, and find the article on the
readers' front page and in RSS; schedule one a minute ahead and watch it appear; two browsers
edit one draft and neither text is lost; a contributor has no publish button and a forged post
of it is refused. Every page passes axe-core (no serious or critical violation) with no CSP
refusal, and is screenshotted at desktop and phone width in ``test-artifacts/``."""

import base64
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from PIL import Image
from playwright.async_api import Browser, BrowserContext, Page

from tests.publisher.newsroom.browsing import check_page, signed_in, type_formatted
from tests.publisher.newsroom.processes import Processes, running
from tests.support.browser import ARTIFACTS, screenshots, watch_csp
from tests.support.procs import ServiceProcess
from tests.support.waiting import eventually

EDITOR, SECOND, CONTRIBUTOR = "editor@xabar.test", "second@xabar.test", "author@xabar.test"
ZONE = ZoneInfo("Asia/Almaty")


@dataclass
class Stack:
    publisher: ServiceProcess
    feed: ServiceProcess
    photo: Path


@pytest.fixture
def stack(processes: Processes, tmp_path: Path) -> Iterator[Stack]:
    feed = processes.feed("feed-newsroom")
    publisher = processes.publisher(
        (EDITOR, "editor", "Айгуль Редактор"),
        (SECOND, "editor", "Бахтияр Второй"),
        (CONTRIBUTOR, "contributor", "Дина Автор"),
        settings={"scheduler_interval_s": 1.0},
        SITE_URL=feed.url,
        FEED_URL=feed.url,
    )
    photo = tmp_path / "bridge.jpg"
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (38.0, 33.0, 0.0)}
    image = Image.new("RGB", (1200, 800), (30, 110, 170))
    image.paste((230, 200, 40), (0, 500, 1200, 800))
    image.save(photo, "JPEG", exif=exif)
    with running(feed, publisher):
        yield Stack(publisher, feed, photo)


SignIn = Callable[[str], Awaitable[tuple[BrowserContext, Page, list[str]]]]


@pytest.fixture
async def sign_in(stack: Stack, browser: Browser) -> AsyncIterator[SignIn]:
    """Signs in to the stack's newsroom as an e-mail, in a context of its own (closed after the
    test): the context, its page and the page's CSP refusals."""
    contexts: list[BrowserContext] = []

    async def sign_in_as(email: str) -> tuple[BrowserContext, Page, list[str]]:
        context, page = await signed_in(browser, stack.publisher.url, email)
        contexts.append(context)
        return context, page, watch_csp(page)

    yield sign_in_as
    for context in contexts:
        await context.close()


async def write_body(page: Page) -> None:
    """A subheading, bold and a link, typed with the toolbar as a journalist does."""
    await page.locator(".ql-editor").click()
    await page.keyboard.type("Мост открыли утром.")
    await page.keyboard.press("Enter")
    await type_formatted(
        page,
        heading="Что известно",
        bold="Движение запущено",
        joiner=", сообщает ",
        linked=("министерство", "https://mintrans.example/news"),
    )


async def create_draft(page: Page, base: str, title: str, text: str) -> str:
    """A new draft through the editor page: its title and a first paragraph; its URL."""
    await page.goto(f"{base}/articles/new")
    await page.fill("#a-title", title)
    await page.locator(".ql-editor").click()
    await page.keyboard.type(text)
    await page.click("button:has-text('Создать черновик')")
    await page.wait_for_url(f"{base}/articles/*")
    return page.url


async def side_reloaded(page: Page) -> str:
    """The editor's side panel (the article's state, its actions) once the page is loaded again."""
    await page.reload()
    return await page.inner_text(".editor-side")


async def test_write_attach_preview_publish_and_read_it_on_the_site(
    stack: Stack, sign_in: SignIn
) -> None:
    context, page, refused = await sign_in(EDITOR)
    base = stack.publisher.url
    await page.goto(f"{base}/articles/new")
    await check_page(page, "article-new", refused)
    await page.fill("#a-title", "Новый мост через Вахш открыли")
    await page.fill("#a-lead", "Движение по мосту запустили в понедельник")
    await write_body(page)
    await page.check("input[name=countries][value=TJ]")
    await page.fill("#a-tags", "транспорт, мосты")
    await page.click("button:has-text('Создать черновик')")
    await page.wait_for_url(f"{base}/articles/*")
    article_url = page.url
    assert "Черновик создан." in await page.inner_text("main")
    await check_page(page, "article-editor", refused)

    # a photo from the library: uploaded with the plain file field, then chosen
    await page.click("text=Выбрать из медиатеки")
    await page.set_input_files("#m-file", str(stack.photo))
    await page.fill("#m-alt", "Мост через Вахш")
    await page.fill("#m-credit", "Фото: Минтранс")
    await page.click("button:has-text('Загрузить')")
    assert "метаданные удалены" in await page.inner_text("main")
    await check_page(page, "media-library-pick", refused)
    await page.click("button:has-text('Выбрать')")
    await page.wait_for_url(article_url)
    assert "Фото статьи выбрано." in await page.inner_text("main")
    photo = await page.get_attribute(".photo__preview", "src")
    assert photo is not None and photo.endswith("/1200.jpg")

    # the preview: the readers' page in a sandboxed frame, in a tab of its own
    async with context.expect_page() as opened:
        await page.click("button:has-text('Предпросмотр')")
    preview = await opened.value
    preview_refused = watch_csp(preview)
    await preview.wait_for_load_state()
    frame = preview.frame_locator("iframe.preview-frame")
    assert await frame.locator("h1").inner_text() == "Новый мост через Вахш открыли"
    assert await frame.locator(".body strong").inner_text() == "Движение запущено"
    assert await frame.locator(".body h2").inner_text() == "Что известно"
    href = await frame.locator(".body a").get_attribute("href")
    assert href == "https://mintrans.example/news"
    await check_page(preview, "article-preview", preview_refused)
    # the sandboxed frame is drawn by a process of its own: once back at desktop width, let it
    # lay out again before the desktop picture is taken again
    await preview.wait_for_timeout(1000)
    await preview.screenshot(path=str(ARTIFACTS / "newsroom-article-preview-desktop.png"))
    await preview.close()

    await page.click("button[value=publish]")
    assert "Статья опубликована." in await page.inner_text("main")
    await check_page(page, "article-published", refused)

    async with httpx.AsyncClient(base_url=stack.feed.url, timeout=10) as feed:

        async def on_front() -> bool:
            return "Новый мост через Вахш открыли" in (await feed.get("/")).text

        await eventually(on_front, 30, "the article on the readers' front page", every=0.5)
        rss = (await feed.get("/rss.xml")).text
        assert "Новый мост через Вахш открыли" in rss
        front = await context.new_page()
        await front.goto(f"{stack.feed.url}/")
        await screenshots(front, "newsroom-published-on-the-site")
        await front.close()

    await page.goto(f"{base}/articles?q=вахш")
    assert "Новый мост через Вахш открыли" in await page.inner_text("main")
    await check_page(page, "article-list", refused)
    await page.goto(f"{article_url}/revisions")
    await check_page(page, "article-revisions", refused)
    await page.click("text=Что изменилось >> nth=0")
    await check_page(page, "article-diff", refused)
    await page.goto(f"{base}/media-library")
    await check_page(page, "media-library", refused)
    # drag and drop: a photo dropped on the upload form is sent by the form itself
    dropped = base64.b64encode(stack.photo.read_bytes()).decode()
    async with page.expect_navigation():
        await page.evaluate(
            """(data) => {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                const moved = new DataTransfer();
                moved.items.add(new File([bytes], "dropped.jpg", {type: "image/jpeg"}));
                const form = document.querySelector("form[data-dropzone]");
                form.dispatchEvent(new DragEvent("drop", {dataTransfer: moved, bubbles: true}));
            }""",
            dropped,
        )
    assert "Фото загружено (1200×800)" in await page.inner_text("main")
    assert await page.locator(".media-item").count() == 2
    photo_bytes = httpx.get(photo).content
    with Image.open(io.BytesIO(photo_bytes)) as img:
        assert not img.getexif().get_ifd(0x8825)  # no GPS on the site's copy


async def test_an_article_scheduled_a_minute_ahead_appears_on_its_own(
    stack: Stack, sign_in: SignIn
) -> None:
    _, page, refused = await sign_in(EDITOR)
    await create_draft(
        page, stack.publisher.url, "Заседание правительства перенесли", "Заседание пройдёт позже."
    )
    when = (datetime.now(ZONE) + timedelta(minutes=1)).replace(second=0, microsecond=0)
    if when <= datetime.now(ZONE) + timedelta(seconds=20):
        when += timedelta(minutes=1)  # a minute ahead at least: the picker has minutes only
    await page.fill("#w-when", when.strftime("%Y-%m-%dT%H:%M"))
    await page.click("button[value=schedule]")
    assert "Публикация запланирована" in await page.inner_text("main")
    await check_page(page, "article-scheduled", refused)
    async with httpx.AsyncClient(base_url=stack.feed.url, timeout=10) as feed:
        assert "Заседание правительства перенесли" not in (await feed.get("/")).text

        async def appeared() -> bool:
            return "Заседание правительства перенесли" in (await feed.get("/")).text

        await eventually(appeared, 150, "the scheduled article on the front page", every=0.5)
    assert datetime.now(ZONE) >= when  # not before its time
    assert "опубликована" in await side_reloaded(page)


async def test_two_browsers_edit_one_draft_and_neither_text_is_lost(
    stack: Stack, sign_in: SignIn
) -> None:
    _, ann_page, refused = await sign_in(EDITOR)
    _, bob_page, _ = await sign_in(SECOND)
    url = await create_draft(ann_page, stack.publisher.url, "Общий материал", "Общий первый абзац.")
    await bob_page.goto(url)
    for page, text in ((ann_page, "Абзац Айгуль."), (bob_page, "Абзац Бахтияра.")):
        await page.locator(".ql-editor").click()
        await page.keyboard.press("Control+End")
        await page.keyboard.press("Enter")
        await page.keyboard.type(text)
    await ann_page.fill("#a-title", "Общий материал: версия Айгуль")
    await bob_page.fill("#a-title", "Общий материал: версия Бахтияра")
    await bob_page.click("button:has-text('Сохранить')")
    assert "Сохранено." in await bob_page.inner_text("main")
    await ann_page.click("button:has-text('Сохранить')")
    main = await ann_page.inner_text("main")
    assert "Ваш вариант" in main and "Их вариант" in main
    assert "Абзац Айгуль." in main and "Абзац Бахтияра." in main
    await check_page(ann_page, "article-conflict", refused)
    await ann_page.click("button:has-text('Сохранить объединённое')")
    assert "Сохранено." in await ann_page.inner_text("main")
    await bob_page.goto(url)
    body = await bob_page.locator(".ql-editor").inner_text()
    assert "Абзац Айгуль." in body and "Абзац Бахтияра." in body
    assert "Общий первый абзац." in body


async def test_a_contributor_has_no_publish_button_and_a_forged_one_is_refused(
    stack: Stack, sign_in: SignIn
) -> None:
    _, page, refused = await sign_in(CONTRIBUTOR)
    await create_draft(page, stack.publisher.url, "Заметка автора", "Текст автора.")
    assert await page.locator("button[value=publish]").count() == 0
    assert await page.locator("button[value=submit]").count() == 1
    await check_page(page, "article-contributor", refused)
    # the draft saves itself while the author types (no button)
    await page.locator(".ql-editor").click()
    await page.keyboard.press("Control+End")
    await page.keyboard.type(" Дописано без кнопки.")
    saved = page.locator("#autosave-status", has_text="Черновик сохранён")
    await saved.wait_for(timeout=45_000)
    await page.reload()
    assert "Дописано без кнопки." in await page.locator(".ql-editor").inner_text()
    status = await page.evaluate(
        """async (url) => {
            const form = new FormData();
            form.set("csrf", window.newsroom.csrf());
            form.set("version", document.querySelector("input[name=version]").value);
            const resp = await fetch(url + "/workflow/publish", {method: "POST", body: form});
            return resp.status;
        }""",
        page.url,
    )
    assert status == 403
    assert "черновик" in await side_reloaded(page)


async def test_a_countrys_profile_edited_in_the_newsroom_shows_on_the_site(
    stack: Stack, sign_in: SignIn
) -> None:
    context, page, refused = await sign_in(EDITOR)
    base = stack.publisher.url
    await page.click("nav >> text=О странах")
    await page.wait_for_url(f"{base}/countries")
    assert "не заполнен" in await page.inner_text("main")
    await check_page(page, "countries", refused)
    await page.click("text=Таджикистан")
    await page.wait_for_url(f"{base}/countries/TJ")
    await check_page(page, "country-edit", refused)
    await page.fill(
        "#p-lead", "Республика Таджикистан — горная страна на юго-востоке Центральной Азии."
    )
    editor = page.locator(".ql-editor")
    await editor.click()
    await page.click("button[aria-label='Жирный']")
    await page.keyboard.type("Памир")
    await page.click("button[aria-label='Жирный']")
    await page.keyboard.type(" занимает почти половину страны.")
    await page.fill("#f-label-1", "Столица")
    await page.fill("#f-value-1", "Душанбе")
    await page.fill("#f-label-2", "Валюта")
    await page.fill("#f-value-2", "сомони")
    await page.click("button:has-text('Опубликовать')")
    await page.wait_for_url(f"{base}/countries/TJ")
    assert "опубликован (версия 1)" in await page.inner_text("main")
    await check_page(page, "country-published", refused)

    about = await context.new_page()
    site = f"{stack.feed.url}/tajikistan/about"

    async def shown() -> bool:
        await about.goto(site)
        return "горная страна на юго-востоке" in await about.inner_text("main")

    await eventually(shown, 30, "the profile on the site's «О стране» page", every=0.5)
    text = await about.inner_text("main")
    assert "Душанбе" in text and "сомони" in text
    assert await about.locator("main strong, main b", has_text="Памир").count() >= 1
    await screenshots(about, "newsroom-country-on-the-site")

    # a second edit is version 2, and the site follows it
    await page.fill("#p-lead", "Таджикистан: вторая редакция справки.")
    await page.click("button:has-text('Опубликовать')")
    assert "опубликован (версия 2)" in await page.inner_text("main")

    async def followed() -> bool:
        await about.goto(site)
        return "вторая редакция справки" in await about.inner_text("main")

    await eventually(followed, 30, "the second version on the site", every=0.5)
    await page.goto(f"{base}/countries")
    assert "версия 2" in await page.inner_text("main")
