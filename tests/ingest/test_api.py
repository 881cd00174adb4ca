"""The submissions API in-process, against the real Redis and FerretDB."""

import asyncio
import hashlib
import io
import json
from typing import Any

import httpx
import redis.asyncio as aioredis
from PIL import Image

from tests.conftest import TokenKeys
from tests.ingest.conftest import (
    INTAKE,
    MakeSettings,
    Mongo,
    drained,
    jpeg_with_gps,
    moved,
    multipart_fields,
    png,
    running,
    stored,
    stream_events,
    tip,
    unseal,
)
from tests.support.waiting import eventually
from xabar.contracts import SUBMISSIONS_STREAM, Contact, SubmissionReceivedV2
from xabar.ingest.config import IngestSettings
from xabar.runtime.auth import Principal, Role


def _token(keys: TokenKeys, role: Role = Role.CONTRIBUTOR) -> str:
    return keys.issue(Principal("ed-1", "Редактор", role))


async def _events_for(redis: aioredis.Redis, submission_id: str) -> list[SubmissionReceivedV2]:
    return [
        e
        for e in await stream_events(redis)
        if isinstance(e, SubmissionReceivedV2) and e.aggregate_id == submission_id
    ]


async def test_a_tip_with_a_photo_is_stored_published_and_the_photo_has_no_exif(
    client: httpx.AsyncClient,
    redis: aioredis.Redis,
    mongo: Mongo,
    settings: IngestSettings,
    token_keys: TokenKeys,
) -> None:
    body = tip()
    raw_photo = jpeg_with_gps((400, 300))
    response = await client.post(
        "/api/v1/submissions",
        data=multipart_fields(body),
        files=[("photos", ("holiday.gif", raw_photo, "text/plain"))],  # name and type lie
        headers={"X-Correlation-ID": "req-photo-1"},
    )
    assert response.status_code == 202, response.text
    receipt = response.json()
    assert set(receipt) == {"submission_id", "receipt_code", "status", "status_url"}
    assert receipt["status"] == "received"
    submission_id = receipt["submission_id"]

    # 202 means accepted durably (the Redis intake); the mover puts the document into MongoDB
    doc = await stored(mongo[settings.mongodb_db], submission_id)
    assert receipt["receipt_code"] not in json.dumps(doc, default=str)
    assert (
        doc["receipt_hash"]
        == hashlib.sha256(receipt["receipt_code"].replace("-", "").encode()).hexdigest()
    )

    async def published() -> bool:
        return len(await _events_for(redis, submission_id)) == 1

    await eventually(published, what="submission.received on the stream")
    (event,) = await _events_for(redis, submission_id)
    assert event.type == "submission.received" and event.schema_version == 2
    assert event.producer == "ingest" and event.version == 1
    assert event.correlation_id == "req-photo-1"
    data = event.data
    assert data.submission_id == submission_id
    assert (data.title, data.text, data.country, data.location) == (
        body["title"],
        body["text"],
        "TJ",
        body["location"],
    )
    assert data.anonymous is False
    # the contact is sealed to the newsroom's key: only its private key opens it
    assert data.contact_sealed is not None
    assert Contact.model_validate_json(unseal(data.contact_sealed)).model_dump() == {
        "name": "Фарход",
        "email": "farhod@example.org",
        "phone": "+992935551234",
    }
    assert doc["contact_sealed"] == data.contact_sealed and "contact" not in doc
    (ref,) = data.attachments
    assert ref.content_type == "image/jpeg" and (ref.width, ref.height) == (400, 300)

    # the editor's copy: same bytes as referenced, no EXIF, no GPS
    token = _token(token_keys)
    photo = await client.get(
        f"/api/v1/attachments/{ref.attachment_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert photo.status_code == 200
    assert photo.headers["content-type"] == "image/jpeg"
    assert len(photo.content) == ref.size
    assert hashlib.sha256(photo.content).hexdigest() == ref.sha256
    with Image.open(io.BytesIO(photo.content)) as img:
        assert dict(img.getexif()) == {}
        assert img.size == (400, 300)
    assert b"SpyCam" not in photo.content
    assert (await client.get(f"/api/v1/attachments/{ref.attachment_id}")).status_code == 401
    forged = TokenKeys.new().issue(Principal("x", "x", Role.CHIEF))
    refused = await client.get(
        f"/api/v1/attachments/{ref.attachment_id}", headers={"Authorization": f"Bearer {forged}"}
    )
    assert refused.status_code == 401
    missing = await client.get(
        "/api/v1/attachments/" + "0" * 32, headers={"Authorization": f"Bearer {token}"}
    )
    assert missing.status_code == 404


async def test_an_anonymous_tip_keeps_and_sends_no_contact(
    client: httpx.AsyncClient, redis: aioredis.Redis, mongo: Mongo, settings: IngestSettings
) -> None:
    response = await client.post("/api/v1/submissions", json=tip(anonymous=True))
    assert response.status_code == 202
    submission_id = response.json()["submission_id"]
    doc = await stored(mongo[settings.mongodb_db], submission_id)
    assert doc["contact_sealed"] is None
    assert "farhod" not in json.dumps(doc, default=str)

    async def published() -> bool:
        return len(await _events_for(redis, submission_id)) == 1

    await eventually(published)
    (event,) = await _events_for(redis, submission_id)
    assert event.data.anonymous is True and event.data.contact_sealed is None


async def test_xss_payloads_do_not_survive_storage_or_the_event(
    client: httpx.AsyncClient, redis: aioredis.Redis, mongo: Mongo, settings: IngestSettings
) -> None:
    body = tip(
        title='Пожар <script>alert("t")</script>на рынке',
        text="Горит склад <img src=x onerror=alert(1)> у рынка. "
        '<a href="javascript:alert(2)">видео</a> &lt;svg onload=alert(3)&gt; подробности',
        location="<iframe src=//evil.example></iframe>Ош",
        contact={"name": "<b onmouseover=alert(4)>Айбек</b>"},
        country="KG",
    )
    response = await client.post("/api/v1/submissions", json=body)
    assert response.status_code == 202, response.text
    submission_id = response.json()["submission_id"]
    doc = await stored(mongo[settings.mongodb_db], submission_id)
    assert doc["title"] == "Пожар на рынке"
    assert doc["text"] == "Горит склад  у рынка. видео  подробности"
    assert doc["location"] == "Ош"
    assert json.loads(unseal(doc["contact_sealed"]))["name"] == "Айбек"

    async def published() -> bool:
        return len(await _events_for(redis, submission_id)) == 1

    await eventually(published)
    (event,) = await _events_for(redis, submission_id)
    dumped = event.data.model_dump_json().lower()
    for needle in ("<script", "onerror", "onload", "onmouseover", "javascript:", "<iframe", "<img"):
        assert needle not in dumped


async def test_operator_objects_in_any_field_give_422_and_store_nothing(
    client: httpx.AsyncClient, redis: aioredis.Redis, mongo: Mongo, settings: IngestSettings
) -> None:
    cases: list[dict[str, Any]] = [
        tip(title={"$ne": ""}),
        tip(text={"$gt": ""}),
        tip(country={"$in": ["KZ"]}),
        tip(location={"$regex": ".*"}),
        tip(consent={"$ne": False}),
        tip(anonymous={"$exists": True}),
        tip(contact={"email": {"$ne": ""}}),
        tip(contact={"name": {"$where": "sleep(1000)"}}),
        tip(contact={"phone": ["+77011234567"]}),
        {**tip(), "$where": "1 == 1"},
    ]
    for body in cases:
        response = await client.post("/api/v1/submissions", json=body)
        assert response.status_code == 422, body
        error = response.json()["error"]
        assert error["code"] == "validation_failed" and error["fields"], body
    assert await redis.xlen(INTAKE) == 0
    assert await mongo[settings.mongodb_db]["submissions"].count_documents({}) == 0


async def test_bad_bodies_get_their_own_status_and_a_readable_error(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(
        max_json_bytes=8192, max_photos=2, max_photo_bytes=60_000, max_photo_pixels=1_000_000
    )
    async with running(settings) as (_, client):

        async def post(**kwargs: Any) -> httpx.Response:
            return await client.post("/api/v1/submissions", **kwargs)

        malformed = await post(
            content=b'{"title": "x",', headers={"content-type": "application/json"}
        )
        assert malformed.status_code == 400
        assert malformed.json()["error"]["code"] == "malformed_json"

        wrong_type = await post(content=b"title=x", headers={"content-type": "text/plain"})
        assert wrong_type.status_code == 415
        assert "application/json" in wrong_type.json()["error"]["message"]

        huge = await post(json=tip(text="а" * 10_000))
        assert huge.status_code == 413
        assert "8192" in huge.json()["error"]["message"]

        fields = multipart_fields(tip())
        three = [("photos", (f"{i}.png", png(), "image/png")) for i in range(3)]
        too_many = await post(data=fields, files=three)
        assert too_many.status_code == 413
        assert too_many.json()["error"]["code"] == "too_many_photos"
        assert "2 photos" in too_many.json()["error"]["message"]

        big = jpeg_with_gps((900, 900)) + b"\0" * 60_000
        too_big = await post(data=fields, files=[("photos", ("big.jpg", big, "image/jpeg"))])
        assert too_big.status_code == 413
        assert too_big.json()["error"]["code"] == "photo_too_large"
        assert "60000 bytes" in too_big.json()["error"]["message"]

        out = io.BytesIO()
        Image.new("1", (2000, 2000)).save(out, "PNG")
        bomb = await post(data=fields, files=[("photos", ("b.png", out.getvalue(), "image/png"))])
        assert bomb.status_code == 413
        assert "1000000 pixels" in bomb.json()["error"]["message"]

        not_image = await post(
            data=fields, files=[("photos", ("x.jpg", b"<script>alert(1)</script>", "image/jpeg"))]
        )
        assert not_image.status_code == 422
        assert not_image.json()["error"]["fields"][0]["field"] == "photos.0"

        not_object = await post(json=["title"])
        assert not_object.status_code == 422

        bad_key = await post(json=tip(), headers={"Idempotency-Key": "has spaces in it"})
        assert bad_key.status_code == 400
        assert bad_key.json()["error"]["code"] == "invalid_idempotency_key"


async def test_the_rate_limit_answers_429_and_a_spoofed_forwarded_for_does_not_escape_it(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(submit_rate_limit=3, submit_rate_window_s=600)
    async with running(settings, peer=("198.51.100.7", 5555)) as (_, client):
        for _ in range(3):
            assert (await client.post("/api/v1/submissions", json=tip())).status_code == 202
        limited = await client.post("/api/v1/submissions", json=tip())
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 600
        spoofed = await client.post(
            "/api/v1/submissions", json=tip(), headers={"X-Forwarded-For": "203.0.113.99"}
        )
        assert spoofed.status_code == 429  # the untrusted peer is still the client
    async with running(settings, peer=("198.51.100.8", 5555)) as (_, other):
        assert (await other.post("/api/v1/submissions", json=tip())).status_code == 202


async def test_forwarded_for_is_read_only_behind_a_trusted_proxy(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    settings = make_settings(submit_rate_limit=1, trusted_proxies="10.0.0.0/8, 192.168.1.1/32")
    async with running(settings, peer=("10.1.2.3", 80)) as (_, proxy):
        first = await proxy.post(
            "/api/v1/submissions", json=tip(), headers={"X-Forwarded-For": "203.0.113.1"}
        )
        assert first.status_code == 202
        again = await proxy.post(
            "/api/v1/submissions", json=tip(), headers={"X-Forwarded-For": "203.0.113.1"}
        )
        assert again.status_code == 429
        other = await proxy.post(
            "/api/v1/submissions", json=tip(), headers={"X-Forwarded-For": "203.0.113.2"}
        )
        assert other.status_code == 202
        await moved(redis)
    docs = await mongo[settings.mongodb_db]["submissions"].find({}).to_list(None)
    hashes = {d["client_hash"] for d in docs}
    assert len(hashes) == 2
    assert not any("203.0.113" in json.dumps(d, default=str) for d in docs)


async def test_a_repeated_idempotency_key_returns_the_first_response_and_creates_nothing(
    client: httpx.AsyncClient, redis: aioredis.Redis, mongo: Mongo, settings: IngestSettings
) -> None:
    headers = {"Idempotency-Key": "8b0f6c1e-2f5d-4bb5-9a53-3d6f1f0e7a11"}
    fields = multipart_fields(tip())
    photo = [("photos", ("p.png", png(), "image/png"))]
    first = await client.post("/api/v1/submissions", data=fields, files=photo, headers=headers)
    again = await client.post("/api/v1/submissions", data=fields, files=photo, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.content == again.content
    assert again.headers["Idempotent-Replayed"] == "true"

    other = await client.post("/api/v1/submissions", json=tip(title="Другое"), headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"

    db = mongo[settings.mongodb_db]
    await moved(redis)
    assert await db["submissions"].count_documents({}) == 1
    assert await db["attachments"].count_documents({}) == 1
    await drained(db)
    assert len(await _events_for(redis, first.json()["submission_id"])) == 1
    assert await redis.xlen(SUBMISSIONS_STREAM) == 1


async def test_concurrent_requests_with_one_key_create_one_submission(
    client: httpx.AsyncClient, redis: aioredis.Redis, mongo: Mongo, settings: IngestSettings
) -> None:
    headers = {"Idempotency-Key": "same-key-for-twenty"}
    fields = multipart_fields(tip())

    async def send() -> httpx.Response:
        photo = [("photos", ("p.jpg", jpeg_with_gps(), "image/jpeg"))]
        return await client.post("/api/v1/submissions", data=fields, files=photo, headers=headers)

    responses = await asyncio.gather(*(send() for _ in range(20)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.content for r in responses}) == 1
    db = mongo[settings.mongodb_db]
    await moved(redis)
    assert await db["submissions"].count_documents({}) == 1
    assert await db["attachments"].count_documents({}) == 1  # the losers' photos were removed
    doc = await db["submissions"].find_one({})
    assert doc is not None
    assert await db["attachment_chunks"].count_documents({}) == 1
    await drained(db)
    assert await redis.xlen(SUBMISSIONS_STREAM) == 1


async def test_a_truncated_or_mis_encoded_multipart_tip_is_400_and_stores_nothing(
    client: httpx.AsyncClient, redis: aioredis.Redis, mongo: Mongo, settings: IngestSettings
) -> None:
    boundary = "b0undary"
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in multipart_fields(tip()).items()
    ).encode()
    photo = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; filename="p.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode() + png()
    ctype = {"content-type": f"multipart/form-data; boundary={boundary}"}
    whole = head + photo + f"\r\n--{boundary}--\r\n".encode()
    truncated = await client.post("/api/v1/submissions", content=head + photo, headers=ctype)
    assert truncated.status_code == 400, truncated.text
    assert truncated.json()["error"]["code"] == "malformed_form"
    latin = whole.replace("Отключили".encode(), "Отключили".encode("cp1251"))
    mis_encoded = await client.post("/api/v1/submissions", content=latin, headers=ctype)
    assert mis_encoded.status_code == 400
    assert mis_encoded.json()["error"]["code"] == "not_utf8"
    utf16 = json.dumps(tip(), ensure_ascii=False).encode("utf-16")
    wide = await client.post(
        "/api/v1/submissions", content=utf16, headers={"content-type": "application/json"}
    )
    assert wide.status_code == 400
    deep = await client.post(
        "/api/v1/submissions",
        content=b'{"title":' + b"[" * 1000 + b"]" * 1000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert deep.status_code == 400 and deep.json()["error"]["code"] == "too_deep"
    for answer in (truncated, mis_encoded, wide, deep):
        assert "Traceback" not in answer.text and "Error(" not in answer.text
    assert await redis.xlen(INTAKE) == 0
    db = mongo[settings.mongodb_db]
    assert await db["submissions"].count_documents({}) == 0
    assert await db["attachments"].count_documents({}) == 0
    whole_one = await client.post("/api/v1/submissions", content=whole, headers=ctype)
    assert whole_one.status_code == 202  # the same body, complete, is taken
