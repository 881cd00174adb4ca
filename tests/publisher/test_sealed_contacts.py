"""A reporter's contact arrives sealed to the newsroom's key (``submission.received`` v2): the
inbox opens it for editors and keeps only the box; an unpublished tip's article tells the
reporter "accepted" again, with no dead link. Real Redis and FerretDB."""

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from nacl.public import SealedBox
from pymongo import AsyncMongoClient

from tests.publisher.conftest import (
    NEWSROOM_KEY,
    SettingsFactory,
    create_article,
    eventually,
    from_ingest,
    running,
    send_tip,
    stream_events,
)
from xabar.contracts import (
    REVIEWS_STREAM,
    Contact,
    SealedSubmission,
    SubmissionReceivedV2,
    SubmissionReviewed,
    SubmissionStatus,
)

MARKER = "Фарход-Печать-9Z"


def sealed_tip(contact: Contact | None) -> SubmissionReceivedV2:
    sid = f"sub-{uuid.uuid4().hex[:10]}"
    box = None
    if contact is not None:
        plain = contact.model_dump_json(exclude_none=True).encode()
        box = base64.b64encode(SealedBox(NEWSROOM_KEY.public_key).encrypt(plain)).decode()
    return from_ingest(
        SubmissionReceivedV2,
        sid,
        SealedSubmission(
            submission_id=sid,
            title="Отключили свет в Худжанде",
            text="Третий день без света на улице Ленина.",
            country="TJ",
            location="Худжанд",
            anonymous=contact is None,
            contact_sealed=box,
            received_at=datetime.now(UTC) - timedelta(minutes=5),
        ),
    )


async def test_a_sealed_contact_is_opened_for_editors_and_stored_only_sealed(
    make_settings: SettingsFactory,
    redis_url: str,
    mongo: AsyncMongoClient[dict[str, object]],
) -> None:
    settings = make_settings()
    contact = Contact(name=MARKER, email="pechat9z@example.org", phone="+992935551234")
    signed, anonymous = sealed_tip(contact), sealed_tip(None)
    async with running(settings) as h:
        for event in (signed, anonymous):
            await send_tip(redis_url, event)

        async def both_in() -> bool:
            listing = await h.client.get("/api/v1/inbox", headers=h.auth())
            return listing.status_code == 200 and listing.json()["total"] == 2

        await eventually(both_in, what="both tips in the inbox")
        shown = await h.client.get(f"/api/v1/inbox/{signed.data.submission_id}", headers=h.auth())
        assert shown.status_code == 200
        assert shown.json()["contact"] == {
            "name": MARKER,
            "email": "pechat9z@example.org",
            "phone": "+992935551234",
        }
        none = await h.client.get(f"/api/v1/inbox/{anonymous.data.submission_id}", headers=h.auth())
        assert none.json()["contact"] is None and none.json()["anonymous"] is True
        listing = await h.client.get("/api/v1/inbox", headers=h.auth())
        assert MARKER not in listing.text
    stored = await mongo[settings.mongodb_db]["inbox"].find({}).to_list(None)
    assert len(stored) == 2
    dumped = json.dumps(stored, default=str, ensure_ascii=False)
    assert MARKER not in dumped and "pechat9z" not in dumped


async def test_unpublishing_a_tips_article_tells_the_reporter_accepted_with_no_link(
    make_settings: SettingsFactory, redis_url: str, redis: aioredis.Redis
) -> None:
    event = sealed_tip(Contact(name="Айбек"))
    sid = event.data.submission_id
    async with running(make_settings()) as h:
        await send_tip(redis_url, event)

        async def in_inbox() -> bool:
            got = await h.client.get(f"/api/v1/inbox/{sid}", headers=h.auth())
            return got.status_code == 200

        await eventually(in_inbox, what="the tip in the inbox")
        accepted = await h.client.post(f"/api/v1/inbox/{sid}/accept", headers=h.auth())
        assert accepted.status_code == 201, accepted.text
        article_id = accepted.json()["article"]["article_id"]
        assert (await create_article(h))["article_id"] != article_id  # another article: untouched

        async def act(action: str) -> None:
            resp = await h.client.post(f"/api/v1/articles/{article_id}/{action}", headers=h.auth())
            assert resp.status_code == 200, resp.text

        await act("publish")
        await act("unpublish")
        await act("publish")

        async def all_reviews() -> bool:
            return len(await stream_events(redis, REVIEWS_STREAM)) >= 4

        await eventually(all_reviews, what="four submission.reviewed events")
        reviews = [
            (r.version, r.data.status, r.data.article_url is not None)
            for r in await stream_events(redis, REVIEWS_STREAM)
            if isinstance(r, SubmissionReviewed)
        ]
        assert reviews == [
            (2, SubmissionStatus.ACCEPTED, False),
            (3, SubmissionStatus.PUBLISHED, True),
            (4, SubmissionStatus.ACCEPTED, False),  # taken back: no dead link
            (5, SubmissionStatus.PUBLISHED, True),  # published again: the reporter is told
        ]
        tip_now = (await h.client.get(f"/api/v1/inbox/{sid}", headers=h.auth())).json()
        assert (tip_now["status"], tip_now["version"]) == ("published", 5)
