"""The «Комментарии» page over HTTP (the publisher in-process, real Redis and FerretDB): the
queue by status and article, every action as a plain form post answered 303 back to the list,
editors only. The browser's view is in ``test_readers_browser.py``."""

import re

import redis.asyncio as aioredis

from tests.publisher.conftest import create_article, eventually, publish, send_tip
from tests.publisher.moderation import comment, public_events, queued
from tests.publisher.newsroom.conftest import ORIGIN, Newsroom, csrf_of
from xabar.contracts import CommentPublished
from xabar.runtime.auth import Role


async def logged_in(newsroom: Newsroom, role: Role = Role.EDITOR) -> None:
    resp = await newsroom.login(await newsroom.editor(role))
    assert resp.status_code == 303, resp.text


async def form_post(newsroom: Newsroom, page: str, action: str, **fields: str) -> str:
    """Post a form of ``page`` as a browser would; the page it lands on (after the 303)."""
    html = (await newsroom.client.get(page)).text
    resp = await newsroom.client.post(
        action,
        data={"csrf": csrf_of(html), "back": page, **fields},
        headers={"Origin": ORIGIN},
    )
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"] == page
    return (await newsroom.client.get(page)).text


async def test_an_editor_moderates_from_the_page(
    newsroom: Newsroom, redis_url: str, redis: aioredis.Redis
) -> None:
    h = newsroom.h
    await logged_in(newsroom)
    article = await create_article(h, title="Новый мост через Сырдарью")
    await publish(h, article["article_id"])
    aid = article["article_id"]
    first = comment(aid, text="Наконец-то!\nВторая строка <i>курсив</i>", name="Айгерим <b>")
    second = comment(aid, text="Когда откроют?")
    third = comment("other-article", text="Не про мост")
    for event in (first, second, third):
        await send_tip(redis_url, event)
        await queued(h, event.data.comment_id)

    page = (await newsroom.client.get("/comments")).text
    assert "Айгерим &lt;b&gt;" in page and "<b>" not in page.split("<main", 1)[1]
    assert "Вторая строка &lt;i&gt;курсив&lt;/i&gt;" in page
    assert "Новый мост через Сырдарью" in page
    assert page.count('class="comment"') == 3

    by_article = f"/comments?status=pending&article_id={aid}"
    listed = (await newsroom.client.get(by_article)).text
    assert listed.count('class="comment"') == 2 and "Не про мост" not in listed

    after = await form_post(newsroom, by_article, f"/comments/{first.data.comment_id}/approve")
    assert "Комментарий одобрен" in after
    assert after.count('class="comment"') == 1

    async def published() -> bool:
        return any(isinstance(e, CommentPublished) for e in await public_events(redis))

    await eventually(published, what="comment.published")

    edited = await form_post(
        newsroom, by_article, f"/comments/{second.data.comment_id}/edit", passage="откроют"
    )
    assert "Отрывок убран" in edited and "Когда [отредактировано]?" in edited
    missing = await form_post(
        newsroom, by_article, f"/comments/{second.data.comment_id}/edit", passage="нет его"
    )
    assert "Отрывок не убран: такого отрывка в тексте комментария нет" in missing

    blocked = await form_post(
        newsroom, by_article, f"/comments/{second.data.comment_id}/block", hours="24"
    )
    assert "Автор заблокирован до" in blocked and "Заблокированные адреса" in blocked
    lift = re.search(r'action="(/comments/blocks/[^"]+/lift)"', blocked)
    assert lift
    lifted = await form_post(newsroom, by_article, lift.group(1))
    assert "Блокировка снята" in lifted and "Заблокированные адреса" not in lifted

    bulk = await newsroom.client.post(
        "/comments/approve",
        data={
            "csrf": csrf_of(lifted),
            "back": "/comments",
            "comment_id": [second.data.comment_id, third.data.comment_id],
        },
        headers={"Origin": ORIGIN},
    )
    assert bulk.status_code == 303
    emptied = (await newsroom.client.get("/comments")).text
    assert "Одобрено комментариев: 2." in emptied and "Здесь пусто." in emptied
    approved = (await newsroom.client.get("/comments?status=approved")).text
    assert approved.count('class="comment"') == 3

    closed = await form_post(newsroom, by_article, f"/comments/article/{aid}/close")
    assert "Комментарии к статье закрыты" in closed and "Открыть комментарии" in closed
    assert (await h.client.get(f"/api/v1/articles/{aid}", headers=h.auth())).json()["version"] == 3


async def test_the_page_is_for_editors_and_refuses_foreign_forms(newsroom: Newsroom) -> None:
    anonymous = await newsroom.client.get("/comments")
    assert anonymous.status_code == 303 and "/login?next=" in anonymous.headers["location"]
    await logged_in(newsroom, Role.CONTRIBUTOR)
    refused = await newsroom.client.get("/comments")
    assert refused.status_code == 403
    assert "для роли «редактор» и выше" in refused.text
    html = (await newsroom.client.get("/")).text
    assert "Комментарии" not in html.split('aria-label="Разделы редакции"', 1)[1]
    forged = await newsroom.client.post(
        "/comments/x/approve", data={"csrf": csrf_of(html)}, headers={"Origin": "http://evil.test"}
    )
    assert forged.status_code == 403


async def test_bad_parameters_are_pages_in_russian(newsroom: Newsroom) -> None:
    await logged_in(newsroom)
    bad = await newsroom.client.get("/comments?status=deleted")
    assert bad.status_code == 422 and "Неверный параметр адреса «status»" in bad.text
    page = (await newsroom.client.get("/comments")).text
    gone = await newsroom.client.post(
        "/comments/no-such/approve", data={"csrf": csrf_of(page)}, headers={"Origin": ORIGIN}
    )
    assert gone.status_code == 404 and "такого комментария нет" in gone.text
