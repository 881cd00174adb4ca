"""Editors' media (checked, stored in GridFS, served publicly) and the OpenAPI document."""

import os

from tests.publisher.conftest import SettingsFactory, jpeg, running_in_task


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
        assert served.content == image
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        again = await h.client.get(
            f"/media/{out['media_id']}", headers={"If-None-Match": served.headers["etag"]}
        )
        assert again.status_code == 304
        # a GridFS bucket any driver reads
        bucket = AsyncGridFSBucket(h.parts.collections.db, bucket_name="media")
        stream = await bucket.open_download_stream(out["media_id"])
        assert await stream.read() == image
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
        assert article.json()["image"]["url"] == out["url"]
        assert article.json()["image"]["width"] == 300
        assert (await h.client.get("/media/" + "f" * 32)).status_code == 404


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
