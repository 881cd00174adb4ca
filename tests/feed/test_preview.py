"""The newsroom's preview: a posted article rendered exactly as its published page is, for an
editor's token only, and stored nowhere (a real Redis behind the feed)."""

from datetime import UTC, datetime

import httpx
import redis.asyncio as aioredis

from tests.conftest import TOKEN_KEYS, TokenKeys
from tests.feed.conftest import MakeSettings, eventually, publish_all, running
from tests.feed.factory import article_state, image, published
from xabar.runtime.auth import Principal, Role
from xabar.runtime.bus import EventBus


def bearer(keys: TokenKeys = TOKEN_KEYS, role: Role = Role.CONTRIBUTOR) -> dict[str, str]:
    token = keys.issue(Principal("ed-1", "Редактор", role))
    return {"Authorization": f"Bearer {token}"}


async def test_a_preview_is_the_article_page_byte_for_byte_and_is_not_stored(
    make_settings: MakeSettings, publisher: EventBus, redis: aioredis.Redis
) -> None:
    state = article_state(
        1,
        title="Предпросмотр: <b>не</b> тег",
        body_html="<p>Текст <strong>жирный</strong></p><h2>Подзаголовок</h2>",
        image=image(credit="Фото: редакция"),
    )
    frozen = datetime.now(UTC)  # one clock: the page and the preview say the same times
    async with running(make_settings(token_public_key=TOKEN_KEYS.public), clock=lambda: frozen) as (
        _,
        client,
    ):
        body = state.model_dump_json()
        shown = await client.post(
            "/api/v1/preview",
            content=body,
            headers={**bearer(), "Content-Type": "application/json"},
        )
        assert shown.status_code == 200, shown.text
        assert shown.headers["content-type"].startswith("text/html")
        assert shown.headers["cache-control"] == "no-store"
        assert "content-security-policy" in shown.headers
        html = shown.text
        assert "Предпросмотр: &lt;b&gt;не&lt;/b&gt; тег" in html
        assert "<strong>жирный</strong>" in html and "Фото: редакция" in html
        # nothing stored: the article is not on the site
        assert (await client.get(f"/news/{state.slug}")).status_code == 404
        assert state.slug not in (await client.get("/")).text

        await publish_all(publisher, [published(state)])

        async def on_site() -> bool:
            return (await client.get(f"/news/{state.slug}")).status_code == 200

        await eventually(on_site, what="the published article on the site")
        page = (await client.get(f"/news/{state.slug}")).text
        again = await client.post(
            "/api/v1/preview",
            content=body,
            headers={**bearer(role=Role.CHIEF), "Content-Type": "application/json"},
        )
        assert again.text == page  # the very page readers get


async def test_a_preview_needs_an_editors_token_and_a_whole_article(
    make_settings: MakeSettings,
) -> None:
    body = article_state(2).model_dump_json()
    js = {"Content-Type": "application/json"}
    async with running(make_settings(token_public_key=TOKEN_KEYS.public)) as (_, client):
        for headers in ({}, {"Authorization": "Bearer nope"}, bearer(TokenKeys.new())):
            resp = await client.post("/api/v1/preview", content=body, headers={**js, **headers})
            assert resp.status_code == 401, resp.text
            assert resp.json()["error"]["code"] == "unauthorized"
            assert resp.headers["www-authenticate"] == "Bearer"
        auth = {**js, **bearer()}
        bad = await client.post("/api/v1/preview", content=b'{"title": "x"}', headers=auth)
        assert bad.status_code == 422
        huge = await client.post(
            "/api/v1/preview", content=b'{"t": "' + b"x" * 3_000_000 + b'"}', headers=auth
        )
        assert huge.status_code == 413
        wrong = await client.get("/api/v1/preview")
        assert wrong.status_code == 405
        assert isinstance(client, httpx.AsyncClient)


async def test_a_preview_without_the_publishers_key_is_refused_in_words(
    make_settings: MakeSettings,
) -> None:
    async with running(make_settings()) as (_, client):
        resp = await client.post(
            "/api/v1/preview",
            content=article_state(3).model_dump_json(),
            headers={**bearer(), "Content-Type": "application/json"},
        )
        assert resp.status_code == 503
        assert resp.json()["error"]["code"] == "preview_unavailable"
