"""Editors' media (checked, stored in GridFS, served publicly) and the OpenAPI document."""

import io
import os

import redis.asyncio as aioredis
from PIL import Image

from tests.publisher.conftest import (
    SettingsFactory,
    create_article,
    jpeg,
    publish,
    running_in_task,
    stream_events,
)
from xabar.contracts import ArticleState


async def test_media_upload_is_checked_stored_in_gridfs_and_served_publicly(
    make_settings: SettingsFactory,
) -> None:
    from gridfs import AsyncGridFSBucket

    async with running_in_task(make_settings(max_media_bytes=50_000)) as h:
        image = jpeg(300, 200)
        resp = await h.client.post(
            "/api/v1/media", files={"file": ("photo.jpg", image, "image/jpeg")}, headers=h.auth()
        )
        assert resp.status_code == 201, resp.text
        out = resp.json()
        assert (out["width"], out["height"], out["content_type"]) == (300, 200, "image/jpeg")
        assert out["url"] == f"{h.settings.public_url}/media/{out['media_id']}"
        served = await h.client.get(f"/media/{out['media_id']}")  # no token: public
        assert served.content != image  # re-encoded from its pixels
        with Image.open(io.BytesIO(served.content)) as img:
            assert (img.format, img.size) == ("JPEG", (300, 200))
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        sizes = [(v["media_type"], v["width"], v["height"]) for v in out["variants"]]
        assert sizes == [("image/webp", 300, 200), ("image/jpeg", 300, 200)]
        for v in out["variants"]:
            got = await h.client.get(v["url"].removeprefix(h.settings.public_url))
            assert got.status_code == 200 and got.headers["content-type"] == v["media_type"]
            assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
            with Image.open(io.BytesIO(got.content)) as img:
                assert img.size == (v["width"], v["height"])
        again = await h.client.get(
            f"/media/{out['media_id']}", headers={"If-None-Match": served.headers["etag"]}
        )
        assert again.status_code == 304
        # a GridFS bucket any driver reads
        bucket = AsyncGridFSBucket(h.parts.collections.db, bucket_name="media")
        stream = await bucket.open_download_stream(out["media_id"])
        assert await stream.read() == served.content
        # raw bytes, a bad image, a wrong type, too large
        raw = await h.client.post(
            "/api/v1/media", content=jpeg(), headers={**h.auth(), "Content-Type": "image/jpeg"}
        )
        assert raw.status_code == 201
        junk = await h.client.post(
            "/api/v1/media",
            content=b"not an image",
            headers={**h.auth(), "Content-Type": "image/png"},
        )
        assert junk.status_code == 422 and junk.json()["error"]["code"] == "bad_media"
        text = await h.client.post(
            "/api/v1/media", content=b"hello", headers={**h.auth(), "Content-Type": "text/plain"}
        )
        assert text.status_code == 415
        big = await h.client.post(
            "/api/v1/media",
            content=os.urandom(60_000),
            headers={**h.auth(), "Content-Type": "image/jpeg"},
        )
        assert big.status_code == 413
        # an uploaded image used by an article
        article = await h.client.post(
            "/api/v1/articles",
            json={
                "title": "С фото",
                "body_html": "<p>x</p>",
                "image": {"media_id": out["media_id"], "credit": "Фото: редакция"},
            },
            headers=h.auth(),
        )
        shown = article.json()["image"]
        assert shown["url"] == out["url"] + "/300.jpg"  # the largest JPEG size
        assert (shown["width"], shown["variants"]) == (300, out["variants"])
        assert (await h.client.get("/media/" + "f" * 32)).status_code == 404
        for bad in ("/300.gif", "/x.jpg", "/300.jpg/x", "/123456.jpg"):
            assert (await h.client.get(f"/media/{out['media_id']}{bad}")).status_code == 404


async def test_openapi_declares_every_route(make_settings: SettingsFactory) -> None:
    from tests.publisher.test_auth import MINIMUM, PUBLIC, enumerate_routes

    async with running_in_task(make_settings()) as h:
        doc = (await h.client.get("/openapi.json")).json()
        declared = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
        routes = set(enumerate_routes(h.app.routes))
        standard = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/openapi.json")}
        assert routes - standard == declared
        for method, path in declared:
            secured = "security" in doc["paths"][path][method.lower()]
            assert secured == ((method, path) in MINIMUM), (method, path)
            assert secured != ((method, path) in PUBLIC)
        assert doc["info"]["title"] == "Xabar publisher"


async def test_an_article_event_carries_its_photo_sizes_and_inline_photos_point_at_them(
    make_settings: SettingsFactory, redis_url: str
) -> None:
    async with running_in_task(make_settings()) as h:
        up = await h.client.post(
            "/api/v1/media",
            files={"file": ("big.jpg", jpeg(2000, 1500), "image/jpeg")},
            headers=h.auth(),
        )
        assert up.status_code == 201, up.text
        media = up.json()
        assert [v["width"] for v in media["variants"]] == [480, 480, 960, 960, 1600, 1600]
        base = f"{h.settings.public_url}/media/{media['media_id']}"
        article = await create_article(
            h,
            body_html=f'<p>Текст</p><img src="{media["url"]}" alt="Мост">',
            image={"media_id": media["media_id"], "credit": "Фото: редакция"},
        )
        assert article["body_html"] == (
            f'<p>Текст</p><img src="{base}/960.jpg" alt="Мост" width="960" height="720" '
            f'srcset="{base}/480.jpg 480w, {base}/960.jpg 960w, {base}/1600.jpg 1600w" '
            'sizes="(max-width: 860px) 100vw, 780px">'
        )
        await publish(h, article["article_id"])
        redis = aioredis.from_url(redis_url)
        try:
            events = [e for e in await stream_events(redis) if e.type == "article.published"]
        finally:
            await redis.aclose()
        state = events[-1].data
        assert isinstance(state, ArticleState) and state.image is not None
        assert (state.image.url, state.image.width, state.image.height) == (
            f"{base}/1600.jpg",
            1600,
            1200,
        )
        assert [(v.url, v.media_type) for v in state.image.variants] == [
            (f"{base}/{w}.{ext}", t)
            for w in (480, 960, 1600)
            for ext, t in (("webp", "image/webp"), ("jpg", "image/jpeg"))
        ]
        assert "srcset=" in state.body_html
