"""Durability and concurrency against the real Redis and FerretDB: a kill -9 between storing and
publishing loses nothing and sends once; a thousand concurrent tips give a thousand events."""

import asyncio
import random
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from tests.ingest.conftest import (
    ADDRESS_SALT,
    MakeSettings,
    eventually,
    running,
    stream_events,
    tip,
)
from tests.support.infra import Infra
from tests.support.procs import ServiceProcess, service_process
from xabar.contracts import SUBMISSIONS_STREAM, SubmissionReceived
from xabar.runtime.localinfra import start_ferretdb, start_redis

Mongo = AsyncMongoClient[dict[str, Any]]


async def _drained(db: Any, timeout: float = 120) -> None:
    """Wait until the relay has published every stored event: no pending marker is left (a
    small collection to poll), and then no document has anything left in its outbox."""

    async def no_markers() -> bool:
        return await db["outbox_pending"].count_documents({}) == 0

    await eventually(no_markers, timeout=timeout, what="the outbox to drain")
    assert await db["submissions"].count_documents({"outbox.0": {"$exists": True}}) == 0


def _process(env: dict[str, str], tmp: Path, relay: bool) -> ServiceProcess:
    return service_process(
        "xabar.ingest",
        {**env, "XABAR_INGEST_RELAY_ENABLED": "true" if relay else "false"},
        tmp,
        "XABAR_INGEST_PORT",
    )


async def test_killed_with_sigkill_between_storing_and_publishing_the_event_goes_out_once(
    infra: Infra,
    redis_url: str,
    redis: aioredis.Redis,
    mongo: Mongo,
    mongo_db_name: str,
    jwt_secret: str,
    tmp_path: Path,
) -> None:
    env = {
        "XABAR_INGEST_REDIS_URL": redis_url,
        "XABAR_INGEST_MONGODB_URL": infra.mongo_url,
        "XABAR_INGEST_MONGODB_DB": mongo_db_name,
        "XABAR_INGEST_JWT_SECRET": jwt_secret,
        "XABAR_INGEST_ADDRESS_SALT": ADDRESS_SALT,
        "XABAR_INGEST_CONSUMER_NAME": "ingest-0",
        "XABAR_INGEST_RELAY_SWEEP_S": "0.5",
    }
    first = await asyncio.to_thread(_process(env, tmp_path, relay=False).start)
    try:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
            response = await client.post("/api/v1/submissions", json=tip())
        assert response.status_code == 202
        submission_id = response.json()["submission_id"]
    finally:
        first.kill9()

    db = mongo[mongo_db_name]
    doc = await db["submissions"].find_one({"_id": submission_id})
    assert doc is not None and len(doc["outbox"]) == 1  # stored, with its event, unsent
    assert await redis.xlen(SUBMISSIONS_STREAM) == 0

    second = await asyncio.to_thread(_process(env, tmp_path, relay=True).start)
    try:
        await _drained(db)
        events = [
            e
            for e in await stream_events(redis)
            if isinstance(e, SubmissionReceived) and e.aggregate_id == submission_id
        ]
        assert len(events) == 1
        assert str(events[0].event_id) == doc["outbox"][0]["event_id"]
        assert await redis.xlen(SUBMISSIONS_STREAM) == 1
    finally:
        second.terminate()


async def test_a_thousand_concurrent_tips_give_a_thousand_events_and_retries_add_nothing(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    # load, not timeouts, is under test here: MongoDB gets all the time it needs
    settings = make_settings(submit_rate_limit=100_000, storage_timeout_s=300)
    keys = [f"tip-{n:04d}" for n in range(1000)]
    retried = random.Random(7).sample(keys, 200)
    requests = [(key, n) for n, key in enumerate(keys)]
    requests += [(key, keys.index(key)) for key in retried]
    random.Random(11).shuffle(requests)

    async with running(settings) as (_, client):

        async def send(key: str, n: int) -> tuple[str, httpx.Response]:
            body = tip(title=f"Сообщение номер {n}", country=("KZ", "KG", "UZ")[n % 3])
            body["text"] = f"Текст сообщения номер {n}: что случилось и где."
            return key, await client.post(
                "/api/v1/submissions", json=body, headers={"Idempotency-Key": key}
            )

        results = await asyncio.gather(*(send(key, n) for key, n in requests))
        assert {r.status_code for _, r in results} == {202}
        by_key: dict[str, set[bytes]] = {}
        for key, response in results:
            by_key.setdefault(key, set()).add(response.content)
        db = mongo[settings.mongodb_db]
        await _drained(db)

    ids = {r.json()["submission_id"] for _, r in results}
    assert len(results) == 1200 and len(ids) == 1000
    assert len(by_key) == 1000
    assert all(len(bodies) == 1 for bodies in by_key.values())  # a retry got the first answer
    assert await db["submissions"].count_documents({}) == 1000
    events = [e for e in await stream_events(redis) if isinstance(e, SubmissionReceived)]
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
            await _drained(db)
            events = await stream_events(own_redis)
            assert [e.aggregate_id for e in events] == [submission_id]
    finally:
        await own_redis.aclose()
        server.stop()


async def test_while_mongodb_is_down_a_tip_is_refused_with_503_and_a_retry_later_is_stored_once(
    make_settings: MakeSettings, redis: aioredis.Redis, tmp_path: Path
) -> None:
    server = start_ferretdb(tmp_path / "ferretdb")
    try:
        settings = make_settings(mongodb_url=server.url, storage_timeout_s=1.0)
        headers = {"Idempotency-Key": "retry-me-later"}
        async with running(settings) as (_, client):
            assert (await client.get("/readyz")).status_code == 200
            await asyncio.to_thread(server.stop)
            refused = await client.post("/api/v1/submissions", json=tip(), headers=headers)
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "storage_unavailable"
            assert refused.headers["Retry-After"]
            assert (await client.get("/readyz")).status_code == 503

            await asyncio.to_thread(server.restart)
            accepted = await client.post("/api/v1/submissions", json=tip(), headers=headers)
            assert accepted.status_code == 202
            again = await client.post("/api/v1/submissions", json=tip(), headers=headers)
            assert again.content == accepted.content
            own = AsyncMongoClient[dict[str, Any]](server.url)
            try:
                db = own[settings.mongodb_db]
                assert await db["submissions"].count_documents({}) == 1
                await _drained(db)
            finally:
                await own.close()
        assert await redis.xlen(SUBMISSIONS_STREAM) == 1
    finally:
        server.stop()
