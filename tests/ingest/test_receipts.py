"""Receipt look-ups follow ``submission.reviewed`` events from the real stream."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from tests.ingest.conftest import moved, review_event, tip
from tests.support.waiting import eventually
from xabar.contracts import GROUP_INGEST, REVIEWS_STREAM
from xabar.runtime.bus import EventBus


@pytest.fixture
async def publisher(redis_url: str) -> AsyncIterator[EventBus]:
    """A bus standing in for the publisher service."""
    bus = EventBus(redis_url, consumer_name="publisher-test")
    await bus.broker.connect()
    yield bus
    await bus.stop()


async def _review(
    bus: EventBus, submission_id: str, version: int, status: str, **data: Any
) -> bytes:
    return await bus.publish(review_event(submission_id, version, status, **data))


def _id(entry_id: bytes) -> tuple[int, int]:
    ms, _, seq = entry_id.decode().partition("-")
    return int(ms), int(seq or 0)


async def _consumed(redis: aioredis.Redis, entry_id: bytes) -> None:
    """Wait until the ingest group has read ``entry_id`` and acked everything it read."""

    async def done() -> bool:
        for group in await redis.xinfo_groups(REVIEWS_STREAM):
            if group["name"] == GROUP_INGEST.encode():
                delivered = _id(group["last-delivered-id"])
                return delivered >= _id(entry_id) and group["pending"] == 0
        return False

    await eventually(done, what="the ingest group to consume the review")


async def test_status_follows_reviews_and_an_older_version_never_rolls_it_back(
    client: httpx.AsyncClient, redis: aioredis.Redis, publisher: EventBus
) -> None:
    receipt = (await client.post("/api/v1/submissions", json=tip())).json()
    submission_id, code = receipt["submission_id"], receipt["receipt_code"]
    url = receipt["status_url"]

    async def status() -> dict[str, Any]:
        response = await client.get(url, headers={"X-Receipt-Code": code})
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    assert (await status())["status"] == "received"
    await moved(redis)  # the publisher reviews a tip once its submission.received is out

    await _consumed(redis, await _review(publisher, submission_id, 2, "in_review"))
    assert (await status())["status"] == "in_review"

    entry = await _review(
        publisher, submission_id, 4, "rejected", public_reason="Не хватает подтверждений"
    )
    await _consumed(redis, entry)
    rejected = await status()
    assert rejected["status"] == "rejected"
    assert rejected["public_reason"] == "Не хватает подтверждений"

    late = await _review(publisher, submission_id, 3, "accepted")  # older, arrives late
    duplicate = await _review(publisher, submission_id, 4, "in_review")  # same version again
    await _consumed(redis, duplicate)
    assert _id(late) < _id(duplicate)
    assert (await status())["status"] == "rejected"

    await _consumed(
        redis,
        await _review(
            publisher,
            submission_id,
            6,
            "published",
            article_url="/news/otklyuchili-svet",
            article_id="art-1",
            public_reason="оставлено от прошлого",
        ),
    )
    published = await status()
    assert published["status"] == "published"
    assert published["article_url"] == "/news/otklyuchili-svet"
    assert published["public_reason"] is None  # a reason is shown only with a rejection

    page = await client.post("/report/status", data={"id": submission_id, "code": code})
    assert "Опубликовано" in page.text and 'href="/news/otklyuchili-svet"' in page.text


async def test_a_review_of_an_unknown_submission_is_acked_and_ignored(
    client: httpx.AsyncClient, redis: aioredis.Redis, publisher: EventBus
) -> None:
    await _consumed(redis, await _review(publisher, "f" * 32, 1, "accepted"))
    assert await redis.xlen(f"{REVIEWS_STREAM}.dlq") == 0


async def test_a_wrong_code_answers_exactly_like_an_unknown_id(client: httpx.AsyncClient) -> None:
    receipt = (await client.post("/api/v1/submissions", json=tip())).json()
    url = receipt["status_url"]
    right = await client.get(url, params={"code": receipt["receipt_code"].lower()})
    assert right.status_code == 200
    wrong = await client.get(url, headers={"X-Receipt-Code": "AAAAA-BBBBB-CCCCC-DDDDD"})
    no_code = await client.get(url)
    unknown = await client.get(
        "/api/v1/submissions/" + "0" * 32, headers={"X-Receipt-Code": receipt["receipt_code"]}
    )
    not_an_id = await client.get(
        "/api/v1/submissions/$ne", headers={"X-Receipt-Code": receipt["receipt_code"]}
    )
    answers = {(r.status_code, r.content) for r in (wrong, no_code, unknown, not_an_id)}
    assert len(answers) == 1
    assert answers.pop()[0] == 404


async def test_receipt_look_ups_are_rate_limited(make_settings: Any) -> None:
    from tests.ingest.conftest import running

    async with running(make_settings(lookup_rate_limit=2)) as (_, client):
        url = "/api/v1/submissions/" + "0" * 32
        assert (await client.get(url, params={"code": "x"})).status_code == 404
        assert (await client.get(url, params={"code": "x"})).status_code == 404
        limited = await client.get(url, params={"code": "x"})
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
