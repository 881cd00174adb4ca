"""Acceptance: a tip on the stream becomes a published article, as an editor would do it.

Real Redis and FerretDB; only ingest's photo endpoint is faked (a tiny Starlette app on a local
port that checks the bearer token the publisher mints for itself)."""

import io
from typing import Any

import redis.asyncio as aioredis
from PIL import Image

from tests.conftest import TokenKeys
from tests.publisher.conftest import (
    FakeIngest,
    SettingsFactory,
    attachment_ref,
    jpeg,
    running,
    send_tip,
    stream_events,
    tip,
)
from tests.support.waiting import eventually
from xabar.contracts import (
    REVIEWS_STREAM,
    ArticlePublished,
    SubmissionReviewed,
    SubmissionStatus,
)
from xabar.runtime.auth import Role, TokenVerifier


async def test_tip_accepted_edited_twice_and_published_reaches_the_stream_with_its_version(
    make_settings: SettingsFactory,
    fake_ingest: FakeIngest,
    redis_url: str,
    redis: aioredis.Redis,
    token_keys: TokenKeys,
) -> None:
    first, second = jpeg(color=(10, 200, 10)), jpeg(color=(10, 10, 200))
    fake_ingest.photos = {"att-1": first, "att-2": second}
    event = tip(attachments=(attachment_ref("att-1", first), attachment_ref("att-2", second)))
    sid = event.data.submission_id
    async with running(make_settings(ingest_url=fake_ingest.url)) as h:
        await send_tip(redis_url, event)
        await send_tip(redis_url, event)  # delivered twice: lands once

        async def in_inbox() -> bool:
            resp = await h.client.get("/api/v1/inbox", headers=h.auth())
            return resp.status_code == 200 and resp.json()["total"] >= 1

        await eventually(in_inbox, what="tip in the inbox")
        listing = (await h.client.get("/api/v1/inbox?status=received", headers=h.auth())).json()
        assert [i["submission_id"] for i in listing["items"]] == [sid]
        assert listing["items"][0]["attachments"] == 2

        resp = await h.client.post(f"/api/v1/inbox/{sid}/accept", headers=h.auth())
        assert resp.status_code == 201, resp.text
        accepted = resp.json()
        article = accepted["article"]
        assert accepted["submission"]["status"] == "accepted"
        assert article["status"] == "draft"
        assert article["title"] == "Отключили свет в Худжанде"
        assert article["countries"] == ["TJ"]
        assert article["body_html"].startswith(
            "<p>Третий день без света на улице Ленина.</p><p>Жители жалуются &lt;b&gt;всерьёз"
        )
        assert article["slug"] == "otkliuchili-svet-v-khudzhande"
        # the photos: copied with a token ingest accepts, served publicly from our own media
        codec = TokenVerifier(token_keys.public, None)
        assert sorted(a for a, _ in fake_ingest.requests) == ["att-1", "att-2"]
        for _, header in fake_ingest.requests:
            assert codec.verify(header.removeprefix("Bearer ")).role == Role.EDITOR
        image_url = article["image"]["url"]
        assert image_url.startswith("http://publisher.test/media/")
        assert article["image"]["credit"] == "Фото: народный репортер"
        media = await h.client.get(image_url.removeprefix("http://publisher.test"))
        assert media.status_code == 200
        with Image.open(io.BytesIO(media.content)) as got, Image.open(io.BytesIO(first)) as sent:
            assert (got.format, got.size) == ("JPEG", sent.size)  # re-encoded, same pixels
        assert media.headers["content-type"] == "image/jpeg"
        assert "immutable" in media.headers["cache-control"]
        assert '<figure><img src="http://publisher.test/media/' in article["body_html"]

        article_id, etag = article["article_id"], resp.headers["etag"]
        edits: list[dict[str, Any]] = [
            {"title": "В Худжанде третий день нет света", "lead": "Жители улицы Ленина без света"},
            {"body_markdown": "Свет **не дали** и сегодня.\n\nЭнергетики молчат.", "tags": ["ЖКХ"]},
        ]
        for edit in edits:
            resp = await h.client.patch(
                f"/api/v1/articles/{article_id}",
                json=edit,
                headers={**h.auth(), "If-Match": etag},
            )
            assert resp.status_code == 200, resp.text
            etag = resp.headers["etag"]
        resp = await h.client.post(
            f"/api/v1/articles/{article_id}/publish", headers={**h.auth(), "If-Match": etag}
        )
        assert resp.status_code == 200, resp.text
        published = resp.json()
        assert published["version"] == 4  # create, two edits, publish
        assert published["url"] == "http://site.test/news/v-khudzhande-tretii-den-net-sveta"

        async def on_stream() -> bool:
            return any(isinstance(e, ArticlePublished) for e in await stream_events(redis))

        await eventually(on_stream, what="article.published on the stream")
        [event_out] = [e for e in await stream_events(redis) if isinstance(e, ArticlePublished)]
        assert event_out.aggregate_id == article_id
        assert event_out.version == 4
        state = event_out.data
        assert state.title == "В Худжанде третий день нет света"
        assert state.lead == "Жители улицы Ленина без света"
        assert state.body_html == (
            "<p>Свет <strong>не дали</strong> и сегодня.</p>\n<p>Энергетики молчат.</p>"
        )
        assert state.tags == ("ЖКХ",)
        assert state.countries == ("TJ",)
        assert state.slug == published["slug"]
        assert state.image is not None and state.image.url == image_url
        assert state.image.credit == "Фото: народный репортер"

        async def reviews_sent() -> bool:
            return len(await stream_events(redis, REVIEWS_STREAM)) >= 2

        await eventually(reviews_sent, what="submission.reviewed events")
        reviews = await stream_events(redis, REVIEWS_STREAM)
        assert all(isinstance(r, SubmissionReviewed) for r in reviews)
        got = [(r.version, r.data.status, r.data.article_url) for r in reviews]  # type: ignore[attr-defined]
        assert got == [
            (2, SubmissionStatus.ACCEPTED, None),
            (3, SubmissionStatus.PUBLISHED, published["url"]),
        ]
        tip_now = (await h.client.get(f"/api/v1/inbox/{sid}", headers=h.auth())).json()
        assert tip_now["status"] == "published"
        assert tip_now["version"] == 3
