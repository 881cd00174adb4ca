"""Durability and concurrency against the real Redis and FerretDB: a kill -9 between accepting and
storing in MongoDB, or while moving, loses nothing and sends once; a thousand concurrent tips give
a thousand events; either store may be down for a while."""

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from tests.conftest import TokenKeys
from tests.ingest.conftest import (
    ADDRESS_SALT,
    INTAKE,
    NEWSROOM_PUBLIC_KEY,
    MakeSettings,
    Mongo,
    accepted_tips,
    drained,
    jpeg_with_gps,
    moved,
    multipart_fields,
    running,
    send_keyed,
    stream_events,
    tip,
)
from tests.support.infra import Infra
from tests.support.procs import ServiceProcess, killed_under_load, sending, service_process
from xabar.contracts import SUBMISSIONS_STREAM, Event, SubmissionReceivedV2, parse_event
from xabar.ingest.intake import StoredEvent
from xabar.runtime.localinfra import start_ferretdb, start_redis


def assert_one_event_id_each(events: list[SubmissionReceivedV2]) -> None:
    """However often a submission's event was sent, it was sent under one event id."""
    by_submission: dict[str, set[str]] = {}
    for event in events:
        by_submission.setdefault(event.aggregate_id, set()).add(str(event.event_id))
    assert all(len(event_ids) == 1 for event_ids in by_submission.values()), by_submission


def _process(env: dict[str, str], tmp: Path, relay: bool) -> ServiceProcess:
    return service_process(
        "xabar.ingest",
        {**env, "XABAR_INGEST_RELAY_ENABLED": "true" if relay else "false"},
        tmp,
        "XABAR_INGEST_PORT",
    )


@pytest.fixture
def env(infra: Infra, redis_url: str, mongo_db_name: str, token_keys: TokenKeys) -> dict[str, str]:
    """An ingest process's settings on the test's Redis and FerretDB."""
    keys = token_keys
    return {
        "XABAR_INGEST_REDIS_URL": redis_url,
        "XABAR_INGEST_MONGODB_URL": infra.mongo_url,
        "XABAR_INGEST_MONGODB_DB": mongo_db_name,
        "XABAR_INGEST_TOKEN_PUBLIC_KEY": keys.public,
        "XABAR_INGEST_ADDRESS_SALT": ADDRESS_SALT,
        "XABAR_INGEST_NEWSROOM_PUBLIC_KEY": NEWSROOM_PUBLIC_KEY,
        "XABAR_INGEST_CONSUMER_NAME": "ingest-0",
        "XABAR_INGEST_RELAY_SWEEP_S": "0.5",
        "XABAR_INGEST_CLAIM_IDLE_MS": "500",
        "XABAR_INGEST_SUBMIT_RATE_LIMIT": "100000",
    }


@pytest.fixture
def db(mongo: Mongo, mongo_db_name: str) -> Any:
    """This test's MongoDB database, the one ``env`` names."""
    return mongo[mongo_db_name]


async def test_accepted_while_nothing_moves_it_and_killed_with_sigkill_it_is_stored_and_sent_once(
    env: dict[str, str], redis: aioredis.Redis, db: Any, tmp_path: Path
) -> None:
    first = await asyncio.to_thread(_process(env, tmp_path, relay=False).start)
    try:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
            response = await client.post("/api/v1/submissions", json=tip())
            assert response.status_code == 202
            receipt = response.json()
            # the receipt works at once, from the intake
            status = await client.get(
                receipt["status_url"], headers={"X-Receipt-Code": receipt["receipt_code"]}
            )
            assert status.status_code == 200 and status.json()["status"] == "received"
    finally:
        first.kill9()
    submission_id = receipt["submission_id"]

    assert await db["submissions"].find_one({"_id": submission_id}) is None  # not moved
    ((_, fields),) = await redis.xrange(INTAKE)  # accepted: in the intake, with its event
    assert fields[b"id"].decode() == submission_id
    accepted_event = parse_event(fields[b"event"])
    assert await redis.xlen(SUBMISSIONS_STREAM) == 0

    second = await asyncio.to_thread(_process(env, tmp_path, relay=True).start)
    try:
        await moved(redis)
        await drained(db)
        doc = await db["submissions"].find_one({"_id": submission_id})
        assert doc is not None and doc["title"] == tip()["title"]
        events = [
            e
            for e in await stream_events(redis)
            if isinstance(e, SubmissionReceivedV2) and e.aggregate_id == submission_id
        ]
        assert [e.event_id for e in events] == [accepted_event.event_id]
        assert await redis.xlen(SUBMISSIONS_STREAM) == 1
        async with httpx.AsyncClient(base_url=second.url, timeout=30) as client:
            status = await client.get(
                receipt["status_url"], headers={"X-Receipt-Code": receipt["receipt_code"]}
            )
            assert status.status_code == 200 and status.json()["status"] == "received"
    finally:
        second.terminate()


async def test_kill9_while_tips_are_accepted_and_moved_loses_none_and_stores_each_once(
    env: dict[str, str], redis: aioredis.Redis, db: Any, tmp_path: Path
) -> None:
    proc = _process(env, tmp_path, relay=True)
    await asyncio.to_thread(proc.start)
    accepted: dict[str, str] = {}  # submission id -> title, for every 202
    stop = asyncio.Event()
    try:

        def reporter(n: int) -> Coroutine[Any, Any, int]:
            async def report(client: httpx.AsyncClient, i: int) -> bool:
                title = f"Сообщение {n}-{i}"
                r = await client.post("/api/v1/submissions", json=tip(title=title))
                if r.status_code == 202:
                    accepted[r.json()["submission_id"]] = title
                return r.status_code == 202

            return sending(proc.url, stop, report)

        # killed mid-stream: some accepted, some moving, some published
        load = (reporter(n) for n in range(12))
        failed = await killed_under_load(
            proc, load, accepted, stop, each_side=300, poll_s=0.02, timeout=180
        )
        assert sum(failed) > 0  # the kill was felt by the load

        await moved(redis, timeout=120)
        await drained(db)
        docs = await db["submissions"].find({}, {"title": 1}).to_list(None)
        titles = {str(d["_id"]): d["title"] for d in docs}
        assert len(titles) == len(docs)
        assert set(accepted) <= set(titles)  # nothing answered 202 is lost
        assert all(titles[s] == t for s, t in accepted.items())
        events = [e for e in await stream_events(redis) if isinstance(e, SubmissionReceivedV2)]
        assert {e.aggregate_id for e in events} == set(titles)  # every stored one is sent
        assert_one_event_id_each(events)  # resent with one id
        print(f"accepted {len(accepted)}, stored {len(titles)}, events {len(events)}")
    finally:
        stop.set()
        proc.terminate()


async def test_a_crash_while_moving_a_batch_stores_it_once_and_resends_with_the_same_ids(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    """The mover dies after MongoDB took the batch and ten of its events went out: the next
    mover (same consumer name) stores nothing twice and sends every event, under its one id."""
    settings = make_settings(relay_enabled=False, submit_rate_limit=100_000)
    async with running(settings) as (app, client):
        ids = await accepted_tips(client, (f"Номер {n}" for n in range(40)))
        mover = app.state.mover
        published: list[Event] = []
        real_publish = mover.publish

        async def crash_after_ten(events: list[StoredEvent]) -> None:
            await real_publish(events[:10])
            published.extend(e.event() for e in events[:10])
            raise RuntimeError("killed mid-batch")

        mover.publish = crash_after_ten
        await mover.ensure_group()
        with pytest.raises(RuntimeError):
            await mover.step()
        db = mongo[settings.mongodb_db]
        assert await db["submissions"].count_documents({}) == 40  # stored before publishing
        assert await redis.xlen(INTAKE) == 40  # nothing acknowledged

        mover.publish = real_publish
        assert await mover.drain() == 40
        assert await redis.xlen(INTAKE) == 0
        assert await db["submissions"].count_documents({}) == 40
        events = [e for e in await stream_events(redis) if isinstance(e, SubmissionReceivedV2)]
        assert len(events) == 50  # ten sent twice, each time under its one event id
        assert {e.aggregate_id for e in events} == set(ids)
        assert_one_event_id_each(events)
        assert {e.event_id for e in published} <= {e.event_id for e in events}


async def test_a_thousand_concurrent_tips_give_a_thousand_events_and_retries_add_nothing(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    # load, not timeouts, is under test here: MongoDB gets all the time it needs
    settings = make_settings(submit_rate_limit=100_000, storage_timeout_s=300)

    async with running(settings) as (_, client):

        def body(n: int) -> dict[str, Any]:
            return tip(
                title=f"Сообщение номер {n}",
                country=("KZ", "KG", "UZ")[n % 3],
                text=f"Текст сообщения номер {n}: что случилось и где.",
            )

        results = await send_keyed(client, "/api/v1/submissions", body, "tip")
        assert {r.status_code for _, r in results} == {202}
        by_key: dict[str, set[bytes]] = {}
        for key, response in results:
            by_key.setdefault(key, set()).add(response.content)
        db = mongo[settings.mongodb_db]
        await moved(redis, timeout=120)
        await drained(db)

    ids = {r.json()["submission_id"] for _, r in results}
    assert len(results) == 1200 and len(ids) == 1000
    assert len(by_key) == 1000
    assert all(len(bodies) == 1 for bodies in by_key.values())  # a retry got the first answer
    assert await db["submissions"].count_documents({}) == 1000
    events = [e for e in await stream_events(redis) if isinstance(e, SubmissionReceivedV2)]
    assert len(events) == 1000
    assert len({e.event_id for e in events}) == 1000
    assert {e.aggregate_id for e in events} == ids


async def test_a_tip_sent_while_redis_is_down_is_accepted_and_published_once_it_is_back(
    make_settings: MakeSettings, mongo: Mongo, tmp_path: Path
) -> None:
    """Redis (a private redis-server, killed) is not needed to accept: the rate limiter lets the
    request through, the submission is stored with its event, and the relay sends it later."""
    server = start_redis(tmp_path / "redis")
    own_redis = aioredis.from_url(server.url)
    try:
        settings = make_settings(redis_url=server.url, relay_sweep_s=0.2)
        async with running(settings) as (_, client):
            server.kill()
            response = await client.post("/api/v1/submissions", json=tip())
            assert response.status_code == 202
            submission_id = response.json()["submission_id"]
            db = mongo[settings.mongodb_db]
            doc = await db["submissions"].find_one({"_id": submission_id})
            assert doc is not None and doc["outbox"]

            await asyncio.to_thread(server.restart)
            await drained(db)
            events = await stream_events(own_redis)
            assert [e.aggregate_id for e in events] == [submission_id]
    finally:
        await own_redis.aclose()
        server.stop()


async def test_mongodb_down_a_keyed_tip_is_accepted_one_with_a_photo_refused_each_stored_once(
    make_settings: MakeSettings, redis: aioredis.Redis, tmp_path: Path
) -> None:
    """Without MongoDB a tip without photos is accepted into the intake (its key's record is in
    Redis: a retry is a replay); a tip with a photo needs MongoDB (for its photo): 503, and its
    retry once MongoDB is back is stored once."""
    server = start_ferretdb(tmp_path / "ferretdb")
    try:
        settings = make_settings(mongodb_url=server.url, storage_timeout_s=1.0)
        headers = {"Idempotency-Key": "retry-me-later"}
        photo_headers = {"Idempotency-Key": "photo-retry-me-later"}
        photos = {"photos": ("photo.jpg", jpeg_with_gps(), "image/jpeg")}
        async with running(settings) as (_, client):

            async def keyed_tip() -> httpx.Response:
                return await client.post("/api/v1/submissions", json=tip(), headers=headers)

            async def keyed_tip_with_photo() -> httpx.Response:
                return await client.post(
                    "/api/v1/submissions",
                    data=multipart_fields(tip()),
                    files=photos,
                    headers=photo_headers,
                )

            assert (await client.get("/readyz")).status_code == 200
            await asyncio.to_thread(server.stop)
            accepted = await keyed_tip()
            assert accepted.status_code == 202, accepted.text
            again = await keyed_tip()
            assert again.content == accepted.content
            refused = await keyed_tip_with_photo()
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "storage_unavailable"
            assert refused.headers["Retry-After"]
            assert (await client.get("/readyz")).status_code == 503

            await asyncio.to_thread(server.restart)
            with_photo = await keyed_tip_with_photo()
            assert with_photo.status_code == 202
            again = await keyed_tip()
            assert again.content == accepted.content
            await moved(redis)
            own = AsyncMongoClient[dict[str, Any]](server.url)
            try:
                db = own[settings.mongodb_db]
                assert await db["submissions"].count_documents({}) == 2
                await drained(db)
            finally:
                await own.close()
        assert await redis.xlen(SUBMISSIONS_STREAM) == 2
    finally:
        server.stop()
