"""Protecting sources, against the real Redis and FerretDB: the contact is sealed before it is
written anywhere and erased after its retention; a receipt code alone finds its tip; a form's
token is good only for the client it was served to; the status follows an unpublished article."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import redis.asyncio as aioredis

from tests.ingest.conftest import (
    FORM_TOKEN,
    INTAKE,
    MakeSettings,
    Mongo,
    eventually,
    moved,
    multipart_fields,
    review_event,
    running,
    stored,
    tip,
    unseal,
)
from xabar.contracts import SUBMISSIONS_STREAM, SubmissionReviewed

MARKER = "Маркер-Источника-7Q"


def _review(submission_id: str, version: int, status: str, **data: Any) -> SubmissionReviewed:
    event = review_event(submission_id, version, status, **data)
    assert isinstance(event, SubmissionReviewed)
    return event


async def _everything_in_redis(redis: aioredis.Redis) -> bytes:
    """Every string and stream entry in Redis, as raw bytes."""
    out = bytearray()
    async for key in redis.scan_iter(count=1000):
        kind = await redis.type(key)
        if kind == b"string":
            out += await redis.get(key) or b""
        elif kind == b"stream":
            for _, fields in await redis.xrange(key):
                for value in fields.values():
                    out += value
    return bytes(out)


async def test_the_contact_is_sealed_in_the_intake_the_stream_and_mongodb(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    settings = make_settings(relay_enabled=False)
    body = tip(contact={"name": MARKER, "email": "marker7q@example.org", "phone": "+77011234567"})
    async with running(settings) as (app, client):
        accepted = await client.post("/api/v1/submissions", json=body)
        assert accepted.status_code == 202
        submission_id = accepted.json()["submission_id"]
        in_intake = await _everything_in_redis(redis)
        assert await redis.xlen(INTAKE) == 1
        await app.state.mover.drain()
    doc = await stored(mongo[settings.mongodb_db], submission_id)
    in_stream = await _everything_in_redis(redis)
    assert await redis.xlen(SUBMISSIONS_STREAM) == 1
    for needle in (MARKER, "marker7q", "7011234567"):
        for where, raw in (("intake", in_intake), ("stream", in_stream)):
            assert needle.encode() not in raw, (needle, where)
        assert needle not in json.dumps(doc, default=str, ensure_ascii=False), needle
    opened = json.loads(unseal(doc["contact_sealed"]))
    assert opened == {"name": MARKER, "email": "marker7q@example.org", "phone": "+77011234567"}


async def test_a_receipt_code_alone_finds_its_tip_before_and_after_the_move(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    settings = make_settings(relay_enabled=False)
    async with running(settings) as (app, client):
        receipt = (await client.post("/api/v1/submissions", json=tip())).json()
        code, submission_id = receipt["receipt_code"], receipt["submission_id"]

        async def by_code(value: str) -> httpx.Response:
            return await client.get("/api/v1/receipt", headers={"X-Receipt-Code": value})

        before = await by_code(code)
        assert before.status_code == 200, before.text
        assert before.json()["submission_id"] == submission_id
        assert before.json()["status"] == "received"
        page = await client.post("/report/status", data={"code": code.lower()})
        assert page.status_code == 200 and "Получено" in page.text

        await app.state.mover.drain()
        assert not [k async for k in redis.scan_iter("{xabar:ingest:intake}:receipt:*")]
        held = await mongo[settings.mongodb_db]["receipts"].find({}).to_list(None)
        assert [r["submission_id"] for r in held] == [submission_id]
        assert code not in json.dumps(held)  # only the code's hash is kept
        after = await by_code(code.replace("-", " "))
        assert after.status_code == 200 and after.json() == before.json()

        unknown = await by_code("AAAAA-BBBBB-CCCCC-DDDDD")
        not_a_code = await by_code("$ne")
        no_code = await client.get("/api/v1/receipt")
        answers = {(r.status_code, r.content) for r in (unknown, not_a_code, no_code)}
        assert len(answers) == 1 and answers.pop()[0] == 404
        wrong_page = await client.post("/report/status", data={"code": "AAAAA-BBBBB-CCCCC-DDDDD"})
        assert wrong_page.status_code == 404 and "не найдено" in wrong_page.text


async def test_a_form_token_is_good_only_for_the_client_it_was_served_to(
    make_settings: MakeSettings, mongo: Mongo
) -> None:
    settings = make_settings()
    async with running(settings, peer=("198.51.100.1", 1000)) as (_, first):
        token = FORM_TOKEN.search((await first.get("/report")).text)
        assert token is not None
        fields = {**multipart_fields(tip()), "form_token": token.group(1), "website": ""}
        async with running(settings, peer=("198.51.100.2", 1000)) as (_, other):
            elsewhere = await other.post("/report", data=fields)
        assert elsewhere.status_code == 422 and "Форма устарела" in elsewhere.text
        assert await mongo[settings.mongodb_db]["submissions"].count_documents({}) == 0
        here = await first.post("/report", data=fields)
        assert here.status_code == 200 and "Сообщение получено" in here.text


async def test_after_an_article_is_taken_back_the_status_no_longer_says_published(
    make_settings: MakeSettings, redis: aioredis.Redis
) -> None:
    async with running(make_settings()) as (app, client):
        receipt = (await client.post("/api/v1/submissions", json=tip())).json()
        await moved(redis)
        service = app.state.service
        url = "/news/otklyuchili-svet"
        published = _review(receipt["submission_id"], 3, "published", article_url=url)
        assert await service.apply_review(published)
        page = await client.post("/report/status", data={"code": receipt["receipt_code"]})
        assert "Опубликовано" in page.text and f'href="{url}"' in page.text
        # what the publisher sends when the article is unpublished
        assert await service.apply_review(_review(receipt["submission_id"], 4, "accepted"))
        page = await client.post("/report/status", data={"code": receipt["receipt_code"]})
        assert page.status_code == 200
        assert "Опубликовано" not in page.text and url not in page.text
        assert "Принято редакцией" in page.text


async def test_a_closed_tips_contact_is_erased_after_its_retention_an_open_ones_is_kept(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    settings = make_settings(contact_retention_days=90)
    db = mongo[settings.mongodb_db]
    async with running(settings) as (app, client):
        ids = [
            (await client.post("/api/v1/submissions", json=tip())).json()["submission_id"]
            for _ in range(3)
        ]
        await moved(redis)
        service = app.state.service
        rejected, published, reopened = ids
        assert await service.apply_review(_review(rejected, 2, "rejected"))
        assert await service.apply_review(_review(published, 2, "published", article_url="/a"))
        assert await service.apply_review(_review(reopened, 2, "published", article_url="/b"))
        assert await service.apply_review(_review(reopened, 3, "accepted"))  # taken back

        now = datetime.now(UTC)
        assert await service.erase_contacts(now + timedelta(days=89)) == 0
        assert await service.erase_contacts(now + timedelta(days=91)) == 2
        for submission_id in (rejected, published):
            doc = await db["submissions"].find_one({"_id": submission_id})
            assert doc is not None and doc["contact_sealed"] is None
            assert doc["contact_erased_at"] is not None
        kept = await db["submissions"].find_one({"_id": reopened})
        assert kept is not None and kept["contact_sealed"] is not None
        assert await db["erasures"].count_documents({}) == 0
        assert await service.erase_contacts(now + timedelta(days=400)) == 0
        kept = await db["submissions"].find_one({"_id": reopened})
        assert kept is not None and kept["contact_sealed"] is not None


async def test_a_form_post_from_another_site_is_refused_and_stores_nothing(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    settings = make_settings(public_url="https://tips.example", site_url="https://news.example")
    async with running(settings) as (_, client):
        token = FORM_TOKEN.search((await client.get("/report")).text)
        assert token is not None
        fields = {**multipart_fields(tip()), "form_token": token.group(1), "website": ""}
        foreign = [
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example/page"},
            {"Sec-Fetch-Site": "cross-site"},
        ]
        for headers in foreign:
            page = await client.post("/report", data=fields, headers=headers)
            assert page.status_code == 403, headers
            assert "только со страниц нашего сайта" in page.text
            api = await client.post("/api/v1/submissions", json=tip(), headers=headers)
            assert api.status_code == 403 and api.json()["error"]["code"] == "foreign_origin"
            status = await client.post("/report/status", data={"code": "x"}, headers=headers)
            assert status.status_code == 403
        assert await redis.xlen(INTAKE) == 0
        for ours in ("https://tips.example", "https://news.example"):
            again = FORM_TOKEN.search((await client.get("/report")).text)
            assert again is not None
            sent = {**fields, "form_token": again.group(1)}
            page = await client.post("/report", data=sent, headers={"Origin": ours})
            assert page.status_code == 200 and "Сообщение получено" in page.text
        # a program (no Origin, Sec-Fetch-Site or Referer) is no browser's form
        assert (await client.post("/api/v1/submissions", json=tip())).status_code == 202
        await moved(redis)
    assert await mongo[settings.mongodb_db]["submissions"].count_documents({}) == 3


async def test_the_running_service_erases_due_contacts_by_itself(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    settings = make_settings(contact_retention_days=0, erase_interval_s=0.2)
    db = mongo[settings.mongodb_db]
    async with running(settings) as (app, client):
        submission_id = (await client.post("/api/v1/submissions", json=tip())).json()[
            "submission_id"
        ]
        await moved(redis)
        assert (await stored(db, submission_id))["contact_sealed"] is not None
        assert await app.state.service.apply_review(_review(submission_id, 2, "rejected"))

        async def erased() -> bool:
            doc = await db["submissions"].find_one({"_id": submission_id})
            return doc is not None and doc["contact_sealed"] is None

        await eventually(erased, timeout=30, what="the contact erased by the service")
