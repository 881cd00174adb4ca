"""Moderation of readers' comments, against the real Redis and FerretDB: ``comment.submitted`` on
the stream lands in the queue once, and only what a moderator lets out reaches ``xabar.comments``,
in order, with its versions."""

import asyncio
from typing import Any

import redis.asyncio as aioredis

from tests.publisher.conftest import (
    Harness,
    SettingsFactory,
    create_article,
    eventually,
    publish,
    running,
    send_tip,
    stream_events,
)
from tests.publisher.moderation import arrived, comment, drained, public_events, queued
from xabar.contracts import (
    ARTICLES_STREAM,
    AggregateEvent,
    ArticleUpdated,
    CommentPublished,
    CommentRemoved,
)
from xabar.publisher.handlers import GROUP_COMMENTS
from xabar.runtime.auth import Role


async def post(h: Harness, path: str, body: Any = None) -> dict[str, Any]:
    resp = await h.client.post(path, headers=h.auth(), json=body)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def of_comment(redis: aioredis.Redis, comment_id: str) -> list[AggregateEvent]:
    return [
        e
        for e in await public_events(redis)
        if isinstance(e, AggregateEvent) and e.aggregate_id == comment_id
    ]


async def events_of(redis: aioredis.Redis, comment_id: str, count: int) -> list[AggregateEvent]:
    found: list[AggregateEvent] = []

    async def arrived() -> bool:
        found[:] = await of_comment(redis, comment_id)
        return len(found) >= count

    await eventually(arrived, what=f"{count} events of {comment_id}")
    return found


async def test_a_comment_lands_in_the_pending_queue_once_and_nothing_is_public_yet(
    harness: Harness, redis_url: str, redis: aioredis.Redis
) -> None:
    h = harness
    event = comment(text="Первый! <b>жирный</b>")
    for _ in range(2):  # ingest's event, and the same again (a redelivery)
        await send_tip(redis_url, event)
    duplicate = comment(text="другой текст", comment_id=event.data.comment_id)
    await send_tip(redis_url, duplicate)  # another event for the same comment: a duplicate
    await drained(redis, GROUP_COMMENTS)
    item = await queued(h, event.data.comment_id)
    assert item["text"] == "Первый! <b>жирный</b>"  # kept as plain text, escaped where shown
    assert (item["status"], item["public"], item["version"]) == ("pending", False, 1)
    listing = (await h.client.get("/api/v1/comments", headers=h.auth())).json()
    assert listing["total"] == 1
    assert listing["counts"] == {"pending": 1, "approved": 0, "rejected": 0, "spam": 0}
    assert await h.parts.collections.comments.count_documents({}) == 1
    assert await public_events(redis) == []


async def test_approve_publishes_then_reject_removes_then_approve_again_in_order(
    harness: Harness, redis_url: str, redis: aioredis.Redis
) -> None:
    h = harness
    event = comment("art-7", text="Хорошая статья", name="Дильноза")
    cid = (await arrived(h, redis_url, event))["comment_id"]
    approved = await post(h, f"/api/v1/comments/{cid}/approve")
    assert (approved["status"], approved["public"], approved["version"]) == ("approved", True, 2)
    again = await post(h, f"/api/v1/comments/{cid}/approve")  # a second click changes nothing
    assert again["version"] == 2
    await post(h, f"/api/v1/comments/{cid}/reject")
    await post(h, f"/api/v1/comments/{cid}/approve")
    events = await events_of(redis, cid, 3)
    assert [type(e) for e in events] == [CommentPublished, CommentRemoved, CommentPublished]
    assert [e.version for e in events] == [2, 3, 4]
    first = events[0]
    assert isinstance(first, CommentPublished)
    assert (first.data.article_id, first.data.name, first.data.text) == (
        "art-7",
        "Дильноза",
        "Хорошая статья",
    )
    assert first.data.edited is False
    assert isinstance(events[2], CommentPublished)
    assert events[2].data.published_at == first.data.published_at
    await queued(h, cid, "approved")
    by_article = await h.client.get(
        "/api/v1/comments?status=approved&article_id=art-7", headers=h.auth()
    )
    assert [i["comment_id"] for i in by_article.json()["items"]] == [cid]
    other = await h.client.get(
        "/api/v1/comments?status=approved&article_id=art-8", headers=h.auth()
    )
    assert other.json()["items"] == []


async def test_a_rejected_or_spam_comment_never_appears_in_any_event(
    harness: Harness, redis_url: str, redis: aioredis.Redis
) -> None:
    h = harness
    bad, spam, good = (
        comment(text="Секретный оскорбительный текст"),
        comment(text="Купите дешёвые часы"),
        comment(text="Нормальный отзыв"),
    )
    for event in (bad, spam, good):
        await arrived(h, redis_url, event)
    rejected = await post(h, f"/api/v1/comments/{bad.data.comment_id}/reject")
    assert (rejected["status"], rejected["public"]) == ("rejected", False)
    marked = await post(h, f"/api/v1/comments/{spam.data.comment_id}/spam")
    assert marked["status"] == "spam"
    await post(h, f"/api/v1/comments/{good.data.comment_id}/approve")
    await events_of(redis, good.data.comment_id, 1)
    await asyncio.sleep(1.0)  # the relay's sweeps have run meanwhile
    everything = await public_events(redis) + await stream_events(redis, ARTICLES_STREAM)
    ids = {getattr(e, "aggregate_id", None) for e in everything}
    assert ids == {good.data.comment_id}
    raw = b"".join(f[b"__data__"] for _, f in await redis.xrange("xabar.comments"))
    assert "Секретный".encode() not in raw and "часы".encode() not in raw
    await queued(h, bad.data.comment_id, "rejected")
    await queued(h, spam.data.comment_id, "spam")


async def test_edit_out_shows_the_mark_and_republishes_a_published_comment(
    harness: Harness, redis_url: str, redis: aioredis.Redis
) -> None:
    h = harness
    event = comment(text="Автор статьи — дурак, но факты верные. Звоните 8-900-000-00-00.")
    cid = (await arrived(h, redis_url, event))["comment_id"]
    edited = await post(h, f"/api/v1/comments/{cid}/edit", {"passage": "Звоните 8-900-000-00-00."})
    assert edited["text"] == "Автор статьи — дурак, но факты верные. [отредактировано]"
    assert edited["edited"] is True and edited["public"] is False
    assert await public_events(redis) == []  # not out yet: nothing to republish
    await post(h, f"/api/v1/comments/{cid}/approve")
    await post(h, f"/api/v1/comments/{cid}/edit", {"passage": "дурак"})
    events = await events_of(redis, cid, 2)
    last = events[-1]
    assert isinstance(last, CommentPublished)
    assert last.data.text == "Автор статьи — [отредактировано], но факты верные. [отредактировано]"
    assert last.data.edited is True
    assert [e.version for e in events] == [3, 4]
    one = (await h.client.get(f"/api/v1/comments/{cid}", headers=h.auth())).json()
    assert one["original_text"] == event.data.text  # the moderator sees what was written
    missing = await h.client.post(
        f"/api/v1/comments/{cid}/edit", json={"passage": "нет такого"}, headers=h.auth()
    )
    assert missing.status_code == 422
    assert missing.json()["error"]["message"] == "такого отрывка в тексте комментария нет"


async def test_closing_comments_re_emits_the_article_and_refuses_later_comments(
    harness: Harness, redis_url: str, redis: aioredis.Redis
) -> None:
    h = harness
    article = await create_article(h)
    published = await publish(h, article["article_id"])
    aid = article["article_id"]
    closed = await post(h, f"/api/v1/articles/{aid}/comments/close")
    assert closed == {"article_id": aid, "comments_open": False}

    async def updated() -> list[ArticleUpdated]:
        return [e for e in await stream_events(redis) if isinstance(e, ArticleUpdated)]

    async def has_update() -> bool:
        return len(await updated()) == 1

    await eventually(has_update, what="article.updated")
    state = (await updated())[0]
    assert state.data.comments_open is False
    assert state.version == published["version"] + 1
    read = (await h.client.get(f"/api/v1/articles/{aid}", headers=h.auth())).json()
    assert read["version"] == published["version"] + 1

    refused = await arrived(h, redis_url, comment(aid, text="Поздно"), "rejected")
    assert refused["reason"] == "closed"
    assert await public_events(redis) == []

    await post(h, f"/api/v1/articles/{aid}/comments/open")
    await arrived(h, redis_url, comment(aid, text="Снова можно"), "pending")
    missing = await h.client.post("/api/v1/articles/nope/comments/close", headers=h.auth())
    assert missing.status_code == 404


async def test_a_blocked_address_has_its_next_comments_rejected_on_arrival(
    harness: Harness, redis_url: str
) -> None:
    h = harness
    troll = comment(text="Первый выпад", client_hash="troll-hash-0001")
    await arrived(h, redis_url, troll)
    resp = await h.client.post(
        f"/api/v1/comments/{troll.data.comment_id}/block", json={"hours": 24}, headers=h.auth()
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["client_hash"] == "troll-hash-0001"
    nope = await h.client.post(
        f"/api/v1/comments/{troll.data.comment_id}/block", json={"hours": 0}, headers=h.auth()
    )
    assert nope.status_code == 422

    second = comment(text="Второй выпад", client_hash="troll-hash-0001")
    other = comment(text="Я не тролль", client_hash="calm-hash-0002")
    await send_tip(redis_url, second)
    await send_tip(redis_url, other)
    assert (await queued(h, second.data.comment_id, "rejected"))["reason"] == "blocked"
    await queued(h, other.data.comment_id, "pending")
    blocks = (await h.client.get("/api/v1/comment-blocks", headers=h.auth())).json()["items"]
    assert [b["client_hash"] for b in blocks] == ["troll-hash-0001"]
    assert blocks[0]["name"] == "Алишер"

    lifted = await h.client.delete("/api/v1/comment-blocks/troll-hash-0001", headers=h.auth())
    assert lifted.status_code == 204
    third = comment(text="Исправился", client_hash="troll-hash-0001")
    await arrived(h, redis_url, third, "pending")
    again = await h.client.delete("/api/v1/comment-blocks/troll-hash-0001", headers=h.auth())
    assert again.status_code == 404


async def test_bulk_approve_says_per_comment_what_happened(
    harness: Harness, redis_url: str, redis: aioredis.Redis
) -> None:
    h = harness
    events = [comment(text=f"Отзыв {n}") for n in range(3)]
    for event in events:
        await arrived(h, redis_url, event)
    ids = [e.data.comment_id for e in events]
    done = await post(h, "/api/v1/comments/bulk-approve", {"comment_ids": [*ids, "nope"]})
    assert done["items"] == [
        *({"comment_id": i, "status": "approved", "error": None} for i in ids),
        {"comment_id": "nope", "status": None, "error": "такого комментария нет"},
    ]
    for cid in ids:
        await events_of(redis, cid, 1)
    empty = await h.client.post(
        "/api/v1/comments/bulk-approve", json={"comment_ids": []}, headers=h.auth()
    )
    assert empty.status_code == 422


async def test_concurrent_approvals_of_one_comment_publish_it_once(
    harness: Harness, redis_url: str, redis: aioredis.Redis
) -> None:
    h = harness
    cid = (await arrived(h, redis_url, comment(text="Спорный")))["comment_id"]
    answers = await asyncio.gather(
        *(h.client.post(f"/api/v1/comments/{cid}/approve", headers=h.auth()) for _ in range(8))
    )
    assert {a.status_code for a in answers} == {200}
    await events_of(redis, cid, 1)
    await asyncio.sleep(1.0)
    assert len(await of_comment(redis, cid)) == 1
    assert (await h.client.get(f"/api/v1/comments/{cid}", headers=h.auth())).json()["version"] == 2


async def test_moderation_after_publication_publishes_at_once_and_removes_on_reject(
    make_settings: SettingsFactory, redis_url: str, redis: aioredis.Redis
) -> None:
    async with running(make_settings(comments_moderation="after")) as h:
        event = comment(text="Сразу видно")
        cid = event.data.comment_id
        await send_tip(redis_url, event)
        await send_tip(redis_url, event)
        item = await queued(h, cid)  # still for a moderator to look at
        assert (item["status"], item["public"], item["version"]) == ("pending", True, 2)
        first = await events_of(redis, cid, 1)
        assert isinstance(first[0], CommentPublished) and first[0].version == 2
        await post(h, f"/api/v1/comments/{cid}/approve")  # already out: nothing to send
        await post(h, f"/api/v1/comments/{cid}/reject")
        events = await events_of(redis, cid, 2)
        assert [type(e) for e in events] == [CommentPublished, CommentRemoved]
        assert [e.version for e in events] == [2, 4]


async def test_bad_requests_get_a_clear_4xx(harness: Harness) -> None:
    h = harness
    bad_status = await h.client.get("/api/v1/comments?status=deleted", headers=h.auth())
    assert bad_status.status_code == 422
    assert bad_status.json()["error"]["code"] == "invalid_parameter"
    for path in ("/api/v1/comments/nope", "/api/v1/comments/nope/approve"):
        method = "GET" if path.endswith("nope") else "POST"
        resp = await h.client.request(method, path, headers=h.auth())
        assert resp.status_code == 404, resp.text
        assert resp.json()["error"]["message"] == "такого комментария нет"
    huge = await h.client.post(
        "/api/v1/comments/bulk-approve",
        json={"comment_ids": [f"c{n}" for n in range(201)]},
        headers=h.auth(),
    )
    assert huge.status_code == 422
    contributor = await h.client.get("/api/v1/comments", headers=h.auth(Role.CONTRIBUTOR))
    assert contributor.status_code == 403
