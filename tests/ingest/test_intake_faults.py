"""The intake against faults: MongoDB down while keyed tips come, poison entries in the intake,
a review of a submission the mover has not caught up with, the receipt's times across the move.
All against the real Redis and FerretDB."""

import redis.asyncio as aioredis

from tests.ingest.conftest import (
    INTAKE,
    RECEIPT_CODE,
    MakeSettings,
    Mongo,
    accepted_tips,
    jpeg_with_gps,
    moved,
    report_form,
    running,
    stored,
    tip,
)
from tests.support.events import sample
from xabar.contracts import SUBMISSIONS_STREAM, SubmissionReviewed, dlq_stream
from xabar.ingest.intake import doc_from_json
from xabar.runtime.bus import list_dead_letters, replay_dead_letters

DEAD_MONGO = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300"


async def test_while_mongodb_is_down_keyed_tips_without_photos_are_accepted_and_replayed(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    dead = make_settings(mongodb_url=DEAD_MONGO, storage_timeout_s=1.0)
    async with running(dead) as (_, client):
        headers = {"Idempotency-Key": "mongo-is-down-1"}
        first = await client.post("/api/v1/submissions", json=tip(), headers=headers)
        assert first.status_code == 202, first.text
        again = await client.post("/api/v1/submissions", json=tip(), headers=headers)
        assert again.status_code == 202
        assert again.content == first.content
        assert again.headers["Idempotent-Replayed"] == "true"
        other = await client.post(
            "/api/v1/submissions", json=tip(title="Другой текст"), headers=headers
        )
        assert other.status_code == 422

        fields = await report_form(client, tip(title="Форма без фото"), website="")
        posted = await client.post("/report", data=fields)
        assert posted.status_code == 200, posted.text
        form_id, form_code = RECEIPT_CODE.findall(posted.text)
        reposted = await client.post("/report", data=fields)  # a double click
        assert reposted.status_code == 200
        assert RECEIPT_CODE.findall(reposted.text) == [form_id, form_code]

        # a photo is stored in MongoDB (in chunks) before the tip: refused, honestly
        photos = [("photos", ("photo.jpg", jpeg_with_gps(), "image/jpeg"))]
        with_photo = await client.post(
            "/report",
            data=await report_form(client, tip(title="С фото"), website=""),
            files=photos,
        )
        assert with_photo.status_code == 503
        assert await redis.xlen(INTAKE) == 2

    live = make_settings()
    async with running(live):
        await moved(redis)
        db = mongo[live.mongodb_db]
        assert await db["submissions"].count_documents({}) == 2
        assert (await stored(db, form_id))["title"] == "Форма без фото"
    assert await redis.xlen(SUBMISSIONS_STREAM) == 2


async def test_poison_entries_in_the_intake_go_to_its_dlq_and_the_tips_after_them_move(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    settings = make_settings(max_deliveries=3)
    await redis.xadd(INTAKE, {"id": "x", "doc": "{not json", "event": "{}"})
    await redis.xadd(
        INTAKE, {"id": "y", "doc": '{"_id": "y", "receipt_hash": "h"}', "event": '{"nope": 1}'}
    )
    async with running(settings) as (_, client):
        ids = await accepted_tips(client, (f"Тип {n}" for n in range(3)))
        await moved(redis)
        db = mongo[settings.mongodb_db]
        for submission_id in ids:
            await stored(db, submission_id)
        assert await db["submissions"].count_documents({}) == 3
        assert await redis.xlen(SUBMISSIONS_STREAM) == 3

        letters = await list_dead_letters(redis, INTAKE)
        assert [letter.payload[b"id"] for letter in letters] == [b"x", b"y"]
        assert all(letter.deliveries >= 3 and letter.error for letter in letters)
        assert "JSONDecodeError" in letters[0].error
        assert await redis.xpending(INTAKE, "mover") == {
            "pending": 0,
            "min": None,
            "max": None,
            "consumers": [],
        }

        # the ops CLI's replay puts them back; still poison, they return to the DLQ
        assert await replay_dead_letters(redis, INTAKE) == 2
        assert await redis.xlen(dlq_stream(INTAKE)) == 0
        accepted = await client.post("/api/v1/submissions", json=tip(title="После"))
        await stored(db, accepted.json()["submission_id"])
        await moved(redis)
        assert await redis.xlen(dlq_stream(INTAKE)) == 2


async def test_an_entry_whose_id_mongodb_holds_with_another_receipt_is_dead_lettered(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    """A key used again after its record left Redis, while MongoDB could not be asked: the
    second tip is not passed off as the first (its event would announce another text)."""
    settings = make_settings(max_deliveries=2, relay_enabled=False)
    headers = {"Idempotency-Key": "used-long-ago"}
    async with running(settings) as (app, client):
        first = await client.post("/api/v1/submissions", json=tip(), headers=headers)
        submission_id = first.json()["submission_id"]
        mover = app.state.mover
        await mover.drain()
        await redis.delete(f"{{xabar:ingest:intake}}:idem:{submission_id}")  # its retention is over
        service = app.state.service
        service._fallback.failed_at = 1e18  # MongoDB "just failed": the key is taken as new
        second = await client.post(
            "/api/v1/submissions", json=tip(title="Совсем другое"), headers=headers
        )
        assert second.status_code == 202
        await mover.drain()
        db = mongo[settings.mongodb_db]
        assert (await db["submissions"].find_one({"_id": submission_id}))["title"] == tip()["title"]
        letters = await list_dead_letters(redis, INTAKE)
        assert len(letters) == 1 and "another submission" in letters[0].error
        assert await redis.xlen(SUBMISSIONS_STREAM) == 1


async def test_a_review_of_a_submission_in_mongodb_applies_while_its_intake_note_remains(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    settings = make_settings(relay_enabled=False)
    async with running(settings) as (app, client):
        accepted = await client.post("/api/v1/submissions", json=tip())
        submission_id = accepted.json()["submission_id"]
        fields = (await redis.xrange(INTAKE))[0][1]
        db = mongo[settings.mongodb_db]
        # stored directly too (its script's reply was lost): the note is still in Redis
        await db["submissions"].insert_one(doc_from_json(fields[b"doc"]))
        event = sample(
            "submission.reviewed",
            aggregate_id=submission_id,
            version=2,
            data={
                "submission_id": submission_id,
                "status": "rejected",
                "public_reason": "Не подтвердилось",
                "article_url": None,
                "article_id": None,
            },
        )
        assert isinstance(event, SubmissionReviewed)
        assert await app.state.service.apply_review(event) is True
        held = await db["submissions"].find_one({"_id": submission_id})
        assert held is not None and held["status"] == "rejected"
        code = accepted.json()["receipt_code"]
        url, headers = f"/api/v1/submissions/{submission_id}", {"X-Receipt-Code": code}
        # the note is still in the intake, but the stored document (reviewed) decides
        assert await redis.exists(f"{{xabar:ingest:intake}}:pending:{submission_id}")
        assert (await client.get(url, headers=headers)).json()["status"] == "rejected"
        # the mover takes it as a redelivery (same receipt): nothing lost, the event goes out
        assert await app.state.mover.drain() == 1
        assert await redis.xlen(SUBMISSIONS_STREAM) == 1
        assert (await client.get(url, headers=headers)).json()["status"] == "rejected"


async def test_a_receipt_shows_the_same_times_before_and_after_the_move(
    make_settings: MakeSettings, redis: aioredis.Redis
) -> None:
    settings = make_settings(relay_enabled=False)
    async with running(settings) as (app, client):
        accepted = (await client.post("/api/v1/submissions", json=tip())).json()
        url = f"/api/v1/submissions/{accepted['submission_id']}"
        headers = {"X-Receipt-Code": accepted["receipt_code"]}
        before = (await client.get(url, headers=headers)).json()
        assert await redis.exists(f"{{xabar:ingest:intake}}:pending:{accepted['submission_id']}")
        assert await app.state.mover.drain() == 1
        assert not await redis.exists(
            f"{{xabar:ingest:intake}}:pending:{accepted['submission_id']}"
        )
        after = (await client.get(url, headers=headers)).json()
        assert after["received_at"] == before["received_at"]
        assert after["updated_at"] == before["updated_at"]
