"""The inbox of tips: filters and paging, review, reject with a public reason, photo copy faults."""

from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from tests.publisher.conftest import (
    FakeIngest,
    Harness,
    SettingsFactory,
    attachment_ref,
    jpeg,
    running_in_task,
    send_tip,
    stream_events,
    tip,
)
from tests.support.waiting import eventually
from xabar.contracts import REVIEWS_STREAM, SubmissionReviewed, SubmissionStatus
from xabar.runtime.localinfra import free_port


async def _wait_for_tips(h: Harness, count: int) -> None:
    async def there() -> bool:
        resp = await h.client.get("/api/v1/inbox", headers=h.auth())
        return bool(resp.json()["total"] >= count)

    await eventually(there, what=f"{count} tips in the inbox")


async def test_inbox_filters_and_pages_review_and_reject_with_a_public_reason(
    harness: Harness, redis_url: str, redis: aioredis.Redis
) -> None:
    h = harness
    day = datetime(2026, 2, 17, 9, 0, tzinfo=UTC)
    tips = [
        tip("sub-a", country="KZ", received_at=day - timedelta(days=2)),
        tip("sub-b", country="TJ", received_at=day - timedelta(days=1)),
        tip("sub-c", country="KZ", received_at=day),
        tip("sub-d", country="other", received_at=day + timedelta(hours=1)),
    ]
    for event in tips:
        await send_tip(redis_url, event)
    await _wait_for_tips(h, 4)

    async def ids(query: str) -> tuple[list[str], int]:
        body = (await h.client.get(f"/api/v1/inbox?{query}", headers=h.auth())).json()
        return [i["submission_id"] for i in body["items"]], body["total"]

    assert await ids("") == (["sub-d", "sub-c", "sub-b", "sub-a"], 4)
    assert await ids("country=KZ") == (["sub-c", "sub-a"], 2)
    assert await ids("from=2026-02-16&to=2026-02-17") == (["sub-d", "sub-c", "sub-b"], 3)
    assert await ids("to=2026-02-16") == (["sub-b", "sub-a"], 2)
    assert await ids("per_page=2&page=2") == (["sub-b", "sub-a"], 4)
    bad = await h.client.get("/api/v1/inbox?country=XX", headers=h.auth())
    assert bad.status_code == 422

    review = await h.client.post("/api/v1/inbox/sub-b/review", headers=h.auth())
    assert review.status_code == 200 and review.json()["status"] == "in_review"
    reject = await h.client.post(
        "/api/v1/inbox/sub-b/reject",
        json={"public_reason": "Не удалось подтвердить сведения"},
        headers=h.auth(),
    )
    assert reject.status_code == 200, reject.text
    assert reject.json()["public_reason"] == "Не удалось подтвердить сведения"
    again = await h.client.post("/api/v1/inbox/sub-b/accept", headers=h.auth())  # rejected is final
    assert again.status_code == 409
    assert await ids("status=rejected") == (["sub-b"], 1)
    empty_reason = await h.client.post(
        "/api/v1/inbox/sub-a/reject", json={"public_reason": ""}, headers=h.auth()
    )
    assert empty_reason.status_code == 422
    assert (await h.client.post("/api/v1/inbox/nope/review", headers=h.auth())).status_code == 404

    async def two_reviews() -> bool:
        return len(await stream_events(redis, REVIEWS_STREAM)) >= 2

    await eventually(two_reviews, what="two submission.reviewed")
    reviews = await stream_events(redis, REVIEWS_STREAM)
    assert all(isinstance(r, SubmissionReviewed) for r in reviews)
    assert [
        (r.aggregate_id, r.version, r.data.status, r.data.public_reason)  # type: ignore[attr-defined]
        for r in reviews
    ] == [
        ("sub-b", 2, SubmissionStatus.IN_REVIEW, None),
        ("sub-b", 3, SubmissionStatus.REJECTED, "Не удалось подтвердить сведения"),
    ]


async def test_accept_copes_with_a_gone_photo_and_an_unreachable_ingest(
    make_settings: SettingsFactory, fake_ingest: FakeIngest, redis_url: str
) -> None:
    photo = jpeg()
    fake_ingest.photos = {"att-here": photo}
    gone = tip(
        "sub-gone",
        attachments=(attachment_ref("att-here", photo), attachment_ref("att-gone", photo)),
    )
    down = tip("sub-down", attachments=(attachment_ref("att-x", photo),))
    async with running_in_task(make_settings(ingest_url=fake_ingest.url)) as h:
        await send_tip(redis_url, gone)
        await _wait_for_tips(h, 1)
        resp = await h.client.post("/api/v1/inbox/sub-gone/accept", headers=h.auth())
        assert resp.status_code == 201, resp.text
        article = resp.json()["article"]
        media_id = article["image"]["media_id"]
        assert article["image"]["url"].endswith(f"/media/{media_id}/64.jpg")  # its JPEG size
        assert "<figure>" not in article["body_html"]  # the gone photo is skipped
        twice = await h.client.post("/api/v1/inbox/sub-gone/accept", headers=h.auth())
        assert twice.status_code == 409
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with running_in_task(make_settings(ingest_url=nowhere, ingest_timeout_s=2)) as h:
        await send_tip(redis_url, down)
        await _wait_for_tips(h, 2)
        resp = await h.client.post("/api/v1/inbox/sub-down/accept", headers=h.auth())
        assert resp.status_code == 502
        assert resp.json()["error"]["code"] == "upstream_unavailable"
        still = (await h.client.get("/api/v1/inbox/sub-down", headers=h.auth())).json()
        assert (still["status"], still["article_id"]) == ("received", None)
