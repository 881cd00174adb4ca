"""«Сегодня» over HTTP (the publisher in-process, real Redis and FerretDB): the news of the day
site-wide and per country, and the alerts: dead letters on any stream, a consumer group that
lags, and a polls service that does not answer (its anomalies unchecked). Editors see them; a
contributor sees neither."""

import redis.asyncio as aioredis

from tests.publisher.conftest import create_article, publish
from tests.publisher.newsroom.conftest import ORIGIN, Newsroom, csrf_of
from xabar.contracts import ARTICLES_STREAM, dlq_stream
from xabar.runtime.auth import Role


async def test_today_shows_the_news_of_the_day_site_wide_and_per_country(
    newsroom: Newsroom,
) -> None:
    h = newsroom.h
    site = await create_article(h, title="Главное за день на всём сайте", countries=["KZ"])
    local = await create_article(h, title="Главное в Таджикистане", countries=["TJ"])
    for art, country in ((site, None), (local, "TJ")):
        await publish(h, art["article_id"])
        resp = await h.client.post(
            f"/api/v1/articles/{art['article_id']}/feature",
            json={"country": country},
            headers=h.auth(),
        )
        assert resp.status_code == 200, resp.text
    await newsroom.login(await newsroom.editor(Role.EDITOR))
    page = (await newsroom.client.get("/")).text
    card = page.split('id="h-featured"', 1)[1].split("</section>", 1)[0]
    assert "Главное за день на всём сайте" in card and "на всём сайте" in card
    assert "Главное в Таджикистане" in card and "Таджикистан" in card
    assert card.index("на всём сайте") < card.index("Таджикистан")  # site-wide first


async def test_today_alerts_editors_to_dead_letters_lag_and_an_unanswering_polls_service(
    newsroom: Newsroom, redis: aioredis.Redis
) -> None:
    await redis.xadd(dlq_stream(ARTICLES_STREAM), {"error": "ValidationError", "id": "1-0"})
    lagging = ARTICLES_STREAM  # nothing reads it in this test: a group made here lags
    await redis.xgroup_create(lagging, "slow-consumer", id="0", mkstream=True)
    async with redis.pipeline(transaction=False) as pipe:
        for n in range(1001):
            pipe.xadd(lagging, {"n": str(n)})
        await pipe.execute()
    await newsroom.login(await newsroom.editor(Role.EDITOR))
    page = (await newsroom.client.get("/")).text
    alerts = page.split('id="h-alerts"', 1)[1].split("</section>", 1)[0]
    assert f"В потоке {ARTICLES_STREAM} неразобранных событий (dead letters): 1." in alerts
    assert f"xabar-ops dlq list {ARTICLES_STREAM}" in alerts
    assert f"Потребитель «slow-consumer» отстаёт в потоке {lagging}: не прочитано 1001" in alerts
    assert "Сервис опросов не ответил: аномалии голосования не проверены." in alerts

    await newsroom.client.post("/logout", data={"csrf": csrf_of(page)}, headers={"Origin": ORIGIN})
    await newsroom.login(await newsroom.editor(Role.CONTRIBUTOR))
    theirs = (await newsroom.client.get("/")).text
    assert 'id="h-alerts"' not in theirs and "dead letters" not in theirs
    assert 'id="h-featured"' not in theirs
