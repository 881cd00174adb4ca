"""A real browser (Debian's chromium through Playwright, JavaScript off as readers may have it)
on the readers' site: the comment form framed in an article page is filled and sent, a reply
link opens the form in that frame; the letters form is sent. Another site can neither frame the
form nor post ingest's forms (403, nothing stored). Screenshots go to test-artifacts/."""

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from playwright.async_api import Page
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tests.ingest.conftest import MakeSettings, eventually
from tests.support.browser import (
    ARTIFACTS,
    CHROMIUM,
    axe_violations,
    chromium,
    new_context,
    new_page,
    watch_csp,
)
from tests.support.fuzz import served
from xabar.ingest.app import create_app
from xabar.runtime.localinfra import free_port

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"
)
ARTICLE = "5c1b0e7f2d3a4b6c8e9f0a1b2c3d4e5f"
PARENT = "a" * 32


def _site(pages: dict[str, str]) -> Starlette:
    async def page(request: Request) -> Response:
        body = pages.get(request.path_params["name"])
        return HTMLResponse(body) if body is not None else Response(status_code=404)

    return Starlette(routes=[Route("/{name}", page)])


@contextmanager
def _sites(ingest: str) -> Iterator[tuple[str, str]]:
    """The readers' site (an article page framing the comment form) and another site."""
    form = f"{ingest}/comments/form?article_id={ARTICLE}"
    article = (
        '<!doctype html><html lang="ru"><meta charset="utf-8"><body><h1>Статья</h1>'
        f'<p>Комментарий читателя. <a href="{form}&amp;reply_to={PARENT}" '
        'target="comment-form">Ответить</a></p>'
        f'<iframe name="comment-form" title="Форма комментария" src="{form}" '
        'width="600" height="420"></iframe></body></html>'
    )
    evil_frame = f'<!doctype html><iframe name="comment-form" src="{form}"></iframe>'
    evil_post = (
        f'<!doctype html><form method="post" action="{ingest}/report">'
        '<input name="title" value="Подделка с чужого сайта"><input name="text" '
        'value="Текст подделки с чужого сайта"><input name="country" value="KZ">'
        '<input name="consent" value="on"><input name="form_token" value="1.2.3">'
        '<button id="go">Отправить</button></form>'
    )
    site = _site({"article": article})
    other = _site({"frame": evil_frame, "post": evil_post})
    with served(site) as site_url, served(other) as other_url:
        # the other site is another host name, not only another port
        yield site_url, other_url.replace("127.0.0.1", "localhost")


async def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


async def test_a_reader_comments_from_an_article_page_and_writes_to_the_editors(
    make_settings: MakeSettings,
    redis: aioredis.Redis,
    mongo: AsyncMongoClient[dict[str, object]],
) -> None:
    port = free_port()
    ingest = f"http://127.0.0.1:{port}"
    with _sites(ingest) as (site_url, _):
        settings = make_settings(public_url=ingest, site_url=site_url, form_min_fill_s=1.0)
        with served(create_app(settings), port=port):
            async with chromium() as browser:
                context = await new_context(browser, java_script_enabled=False)
                page = await context.new_page()
                refused = watch_csp(page)
                await page.goto(f"{site_url}/article")
                frame = page.frame(name="comment-form")
                assert frame is not None
                await frame.wait_for_selector("text=Ваш комментарий")
                await frame.fill("#name", "Алишер")
                await frame.fill("#text", "Спасибо за новость, <b>очень</b> полезно!")
                await _shot(page, "comment-form.png")
                await asyncio.sleep(1.2)  # a person takes longer than the minimum fill time
                await frame.click("button[type=submit]")
                await frame.wait_for_selector("text=Комментарий отправлен на модерацию")
                await _shot(page, "comment-sent.png")

                await page.click("text=Ответить")  # opens the form in the frame, as a reply
                await frame.wait_for_selector("text=Ответ на комментарий")
                await _shot(page, "comment-reply.png")

                letters = await context.new_page()
                await letters.goto(f"{ingest}/letters")
                await letters.fill("#name", "Гульнара")
                await letters.fill("#reply_to", "gulnara@example.org")
                await letters.fill("#subject", "Опечатка в статье")
                await letters.fill("#text", "В статье о ЕАЭС перепутаны даты.")
                await _shot(letters, "letters.png")
                await asyncio.sleep(1.2)
                await letters.click("button[type=submit]")
                await letters.wait_for_selector("text=Письмо получено")
                await _shot(letters, "letter-sent.png")
                for path, name in (("/report", "report.png"), ("/report/status", "status.png")):
                    await letters.goto(f"{ingest}{path}")
                    await _shot(letters, name)
                assert refused == []  # no script, no style the pages' own policy refuses

                # axe-core runs as a script: in a page of its own, every page of the forms
                checker = await new_page(browser)
                for path in (
                    f"/comments/form?article_id={ARTICLE}",
                    f"/comments/form?article_id={ARTICLE}&reply_to={PARENT}",
                    "/letters",
                    "/report",
                    "/report/status",
                ):
                    await checker.goto(f"{ingest}{path}")
                    assert await axe_violations(checker) == [], path

            db = mongo[settings.mongodb_db]

            async def both_stored() -> bool:
                return (
                    await db["comments"].count_documents({}) == 1
                    and await db["letters"].count_documents({}) == 1
                )

            await eventually(both_stored, what="the comment and the letter in MongoDB")
            comment = await db["comments"].find_one({})
            assert comment is not None and comment["article_id"] == ARTICLE
            assert comment["text"] == "Спасибо за новость, очень полезно!"


async def test_another_site_can_neither_frame_the_comment_form_nor_post_a_form(
    make_settings: MakeSettings, redis: aioredis.Redis
) -> None:
    port = free_port()
    ingest = f"http://127.0.0.1:{port}"
    with _sites(ingest) as (site_url, other_url):
        settings = make_settings(public_url=ingest, site_url=site_url)
        with served(create_app(settings), port=port):
            async with chromium() as browser:
                page = await new_page(browser)
                await page.goto(f"{other_url}/frame")
                await asyncio.sleep(1.0)
                frame = page.frame(name="comment-form")
                assert frame is not None
                shown = await frame.evaluate("document.body ? document.body.innerText : ''")
                assert "Ваш комментарий" not in shown  # refused by frame-ancestors
                await page.screenshot(path=str(ARTIFACTS / "comment-form-framed-elsewhere.png"))

                await page.goto(f"{other_url}/post")
                async with page.expect_navigation():
                    await page.click("#go")
                assert "только со страниц нашего сайта" in await page.content()
                await _shot(page, "report-from-another-site.png")
    assert await redis.xlen("xabar:ingest:intake") == 0
