"""A reader's comment from end to end, in a real browser (Debian's chromium through Playwright)
against real feed, ingest and publisher processes on the real Redis and FerretDB:

- a reader comments on an article page of the readers' site (the form ingest serves, framed by
  the page) and gets "Комментарий отправлен на модерацию";
- a moderator approves it in the newsroom's «Комментарии»: it then shows on the article, is
  counted on the front page ("Комментарии [1]") and in RSS (``slash:comments``);
- another comment, rejected in the newsroom, is visible nowhere: not on the article, the front
  page, the lists, RSS, Atom, JSON Feed or the feed's API, and it is not counted.

Screenshots in ``test-artifacts/newsroom-comment-*.png``.
"""

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.async_api import Browser, Frame, Page

from tests.publisher.newsroom.browsing import check_page, open_signed_in
from tests.publisher.newsroom.processes import CHIEF, PASSWORD, Processes, running
from tests.support.browser import new_context, new_page, screenshots, watch_csp
from tests.support.procs import ServiceProcess
from tests.support.waiting import eventually

SLASH = "{http://purl.org/rss/1.0/modules/slash/}comments"
TITLE = "В Бишкеке открыли новый парк"
KEPT = "Наконец-то в нашем районе есть где гулять!"
REJECTED = "Этот комментарий редакция отклонила"


@dataclass
class Stack:
    feed: ServiceProcess
    ingest: ServiceProcess
    publisher: ServiceProcess


@pytest.fixture
def stack(processes: Processes) -> Iterator[Stack]:
    feed = processes.feed("feed-comments")
    ingest = processes.ingest("ingest-comments", FORM_MIN_FILL_S="1")
    feed.env["XABAR_FEED_INGEST_PUBLIC_URL"] = ingest.url
    ingest.env |= {"XABAR_INGEST_SITE_URL": feed.url, "XABAR_INGEST_PUBLIC_URL": ingest.url}
    publisher = processes.publisher(SITE_URL=feed.url, FEED_URL=feed.url, INGEST_URL=ingest.url)
    with running(feed, ingest, publisher):
        yield Stack(feed, ingest, publisher)


async def published(stack: Stack) -> str:
    """An article published through the publisher's API; its slug, once the site shows it."""
    async with httpx.AsyncClient(base_url=stack.publisher.url, timeout=30) as client:
        login = await client.post("/api/v1/auth/login", json={"email": CHIEF, "password": PASSWORD})
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        body = {
            "title": TITLE,
            "lead": "Парк на месте пустыря",
            "body_html": "<p>Текст.</p>",
            "countries": ["KG"],
        }
        created = await client.post("/api/v1/articles", json=body, headers=auth)
        assert created.status_code == 201, created.text
        done = await client.post(
            f"/api/v1/articles/{created.json()['article_id']}/publish", headers=auth
        )
        assert done.status_code == 200, done.text
        slug = str(done.json()["slug"])
    async with httpx.AsyncClient(base_url=stack.feed.url, timeout=10) as feed:

        async def on_site() -> bool:
            return (await feed.get(f"/news/{slug}")).status_code == 200

        await eventually(on_site, 30, "the article on the site", every=0.5)
    return slug


async def comment_form(page: Page) -> Frame:
    frame = page.frame(name="comment-form")
    assert frame is not None, "the article page frames no comment form"
    await frame.wait_for_selector("#text")
    return frame


async def post_comment(page: Page, url: str, name: str, text: str, shot: str = "") -> None:
    await page.goto(url)
    frame = await comment_form(page)
    await frame.fill("#name", name)
    await frame.fill("#text", text)
    await asyncio.sleep(1.2)  # a person takes longer than the minimum fill time
    await frame.click("button[type=submit]")
    await frame.wait_for_selector("text=Комментарий отправлен на модерацию")
    if shot:
        await screenshots(page, shot)


async def moderate(page: Page, base: str, text: str, button: str) -> None:
    """Find the pending comment ``text`` in «Комментарии» (it arrives through the stream) and
    press its ``button``."""
    row = page.locator("li.comment", has_text=text)

    async def listed() -> bool:
        await page.goto(f"{base}/comments?status=pending")
        return await row.count() == 1

    await eventually(listed, 30, f"«{text}» waiting for moderation", every=0.5)
    await row.locator(f"button:has-text('{button}')").click()
    await page.wait_for_load_state()


async def test_a_comment_approved_in_the_newsroom_shows_and_counts_and_a_rejected_one_nowhere(
    stack: Stack, browser: Browser
) -> None:
    slug = await published(stack)
    article_url = f"{stack.feed.url}/news/{slug}"
    reader = await new_context(browser)
    page = await reader.new_page()
    await post_comment(page, article_url, "Айбек", KEPT, "newsroom-comment-sent")
    await post_comment(page, article_url, "Незнакомец", REJECTED)

    desk = await new_page(browser)
    refused = watch_csp(desk)
    base = stack.publisher.url
    await open_signed_in(desk, f"{base}/comments")
    await moderate(desk, base, KEPT, "Одобрить")
    assert "Комментарий одобрен" in await desk.inner_text("main")
    await moderate(desk, base, REJECTED, "Отклонить")
    await check_page(desk, "comment-moderated", refused)

    async with httpx.AsyncClient(base_url=stack.feed.url, timeout=10) as feed:

        async def shown() -> bool:
            html = (await feed.get(f"/news/{slug}")).text
            return KEPT in html and "Комментарии [1]" in html

        await eventually(shown, 30, "the approved comment on the article", every=0.5)
        await page.goto(article_url)
        assert KEPT in await page.inner_text("#comments")
        assert await page.inner_text("#comments-title") == "Комментарии [1]"
        await screenshots(page, "newsroom-comment-on-the-article")
        front = (await feed.get("/")).text
        assert f'href="/news/{slug}#comments">Комментарии [1]</a>' in front
        rss = ET.fromstring((await feed.get("/rss.xml")).content)
        (item,) = [i for i in rss.iter("item") if i.findtext("link", "").endswith(slug)]
        assert item.findtext(SLASH) == "1"

        # the rejected one: nowhere, and not counted
        await asyncio.sleep(1)  # time for a wrongly emitted event to have arrived
        for path in (
            f"/news/{slug}",
            "/",
            "/news",
            "/kyrgyzstan",
            "/rss.xml",
            "/atom.xml",
            "/feed.json",
            "/api/v1/articles",
        ):
            resp = await feed.get(path)
            assert resp.status_code == 200, path
            assert REJECTED not in resp.text and "Незнакомец" not in resp.text, path
        await page.goto(article_url)
        assert REJECTED not in await page.inner_text("body")
    await reader.close()
    await desk.close()
