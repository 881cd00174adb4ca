"""Readers' comments and letters, in-process against the real Redis and FerretDB: the forms, the
APIs, once per token or key, the events, the address hash of their own, the abuse controls."""

import asyncio
import html
import json
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nh3
import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import TOKEN_KEYS
from tests.ingest.conftest import (
    ADDRESS_SALT,
    FORM_TOKEN,
    NEWSROOM_PUBLIC_KEY,
    MakeSettings,
    Mongo,
    eventually,
    form_token,
    running,
    send_keyed,
    stream_events,
    unseal,
)
from tests.support.infra import Infra
from tests.support.procs import killed_under_load, service_process
from xabar.contracts import CommentSubmitted, LetterReceived
from xabar.ingest.addresses import comments_hasher, tips_hasher
from xabar.ingest.domain import plain_text
from xabar.ingest.intake import doc_from_json, doc_to_json

ARTICLE = "0f3c2a9d8b7e4c6a9d1e2f3a4b5c6d7e"
COMMENTS_INTAKE = "xabar:ingest:comments:intake"
LETTERS_INTAKE = "xabar:ingest:letters:intake"
PEER = "198.51.100.40"


def comment(**overrides: Any) -> dict[str, Any]:
    return {"article_id": ARTICLE, "name": "Алишер", "text": "Спасибо за новость!", **overrides}


def letter(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Гульнара",
        "reply_to": "gulnara@example.org",
        "subject": "Опечатка в статье",
        "text": "В статье о ЕАЭС перепутаны даты.",
        **overrides,
    }


def _through_nh3(value: str) -> str:
    """``plain_text`` without its shortcut for text with neither ``<`` nor ``&``: every input
    through nh3 until nothing changes."""
    drop = re.compile(
        "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufeff]"
    )
    text = drop.sub(
        "", unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    )
    for _ in range(8):
        cleaned = drop.sub("", html.unescape(nh3.clean(text, tags=set())))
        if cleaned == text:
            break
        text = cleaned
    return text.strip()


@settings(max_examples=400, deadline=None)
@given(st.text(st.characters(blacklist_characters="<&"), max_size=300))
def test_text_without_a_tag_or_an_entity_is_cleaned_as_nh3_would_clean_it(value: str) -> None:
    """The accept's shortcut (no ``<``, no ``&``: nothing for nh3 to remove) changes nothing."""
    assert plain_text(value) == _through_nh3(value)
    quoted = f"{value} > \"цитата\" 'x' >> {value}"
    assert plain_text(quoted) == _through_nh3(quoted)


def test_a_document_keeps_its_fields_and_times_through_the_intakes_json() -> None:
    now = datetime(2026, 12, 2, 3, 4, 5, 123000, tzinfo=UTC)
    doc = {
        "_id": "c1",
        "name": "Алишер «А»",
        "text": "a\nb",
        "parent_id": None,
        "submitted_at": now,
    }
    raw = doc_to_json(doc)
    assert "Алишер" in raw and ", " not in raw  # compact, not ASCII-escaped
    assert doc_from_json(raw) == doc


async def _events(redis: aioredis.Redis, kind: type) -> list[Any]:
    return [e for e in await stream_events(redis) if isinstance(e, kind)]


async def _emptied(redis: aioredis.Redis, stream: str, timeout: float = 60) -> None:
    async def empty() -> bool:
        return int(await redis.xlen(stream)) == 0

    await eventually(empty, timeout=timeout, what=f"{stream} to be moved to MongoDB")


async def test_the_comment_form_is_russian_fresh_and_framable_only_by_the_site(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(site_url="https://news.example")
    async with running(settings) as (_, client):
        page = await client.get("/comments/form", params={"article_id": ARTICLE})
        assert page.status_code == 200
        assert 'lang="ru"' in page.text and "Ваш комментарий" in page.text
        assert 'name="website"' in page.text and "<script" not in page.text
        assert "электронной почты мы не спрашиваем" in page.text
        csp = page.headers["content-security-policy"]
        assert "frame-ancestors https://news.example" in csp and "script-src" not in csp
        assert page.headers["cache-control"] == "no-store"
        again = await client.get("/comments/form", params={"article_id": ARTICLE})
        assert FORM_TOKEN.search(again.text) != FORM_TOKEN.search(
            page.text
        )  # every view a fresh token
        reply = await client.get(
            "/comments/form", params={"article_id": ARTICLE, "reply_to": "a" * 32}
        )
        assert "Ответ на комментарий" in reply.text and 'value="' + "a" * 32 in reply.text
        for bad in ({}, {"article_id": "<script>"}, {"article_id": ARTICLE, "reply_to": "$ne"}):
            refused = await client.get("/comments/form", params=bad)
            assert refused.status_code == 400 and "<script>" not in refused.text
            assert (
                "frame-ancestors https://news.example" in refused.headers["content-security-policy"]
            )
        report = await client.get("/report")  # the other pages are never framed
        assert "frame-ancestors 'none'" in report.headers["content-security-policy"]


async def test_a_comment_form_post_is_accepted_once_with_the_comments_own_address_hash(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    settings = make_settings()
    db = mongo[settings.mongodb_db]
    async with running(settings, peer=(PEER, 4000)) as (_, client):
        path = f"/comments/form?article_id={ARTICLE}&reply_to={'b' * 32}"
        fields = {
            "article_id": ARTICLE,
            "reply_to": "b" * 32,
            "name": "<b>Алишер</b>",
            "text": "Спасибо <script>alert(1)</script>за новость!\nВторая строка.",
            "form_token": await form_token(client, path),
            "website": "",
        }
        first = await client.post("/comments", data=fields)
        assert first.status_code == 200, first.text
        assert "Комментарий отправлен на модерацию" in first.text
        assert "frame-ancestors" in first.headers["content-security-policy"]
        twice = await client.post("/comments", data=fields)  # a double click, a reload
        assert twice.status_code == 200 and "на модерацию" in twice.text
        await _emptied(redis, COMMENTS_INTAKE)

        async def published() -> bool:
            return len(await _events(redis, CommentSubmitted)) == 1

        await eventually(published, what="comment.submitted on the stream")
    (doc,) = await db["comments"].find({}).to_list(None)
    (event,) = await _events(redis, CommentSubmitted)
    data = event.data
    assert (data.comment_id, data.article_id, data.parent_id) == (doc["_id"], ARTICLE, "b" * 32)
    assert (data.name, data.text) == ("Алишер", "Спасибо за новость!\nВторая строка.")
    secret = settings.address_salt.get_secret_value().encode()
    assert data.client_hash == doc["client_hash"] == comments_hasher(secret)(PEER)
    assert data.client_hash != tips_hasher(secret)(PEER)  # not the tips' key
    assert PEER not in json.dumps(doc, default=str) and "@" not in json.dumps(doc, default=str)


async def test_the_comment_forms_abuse_controls_refuse_in_russian_and_store_nothing(
    make_settings: MakeSettings, redis: aioredis.Redis
) -> None:
    settings = make_settings(form_min_fill_s=30.0, comment_rate_limit=2)
    async with running(settings) as (_, client):
        path = f"/comments/form?article_id={ARTICLE}"
        base = {"article_id": ARTICLE, "name": "Бот", "text": "Купите таблетки"}
        fast = await client.post(
            "/comments", data={**base, "form_token": await form_token(client, path)}
        )
        assert fast.status_code == 422 and "слишком быстро" in fast.text
        assert "Купите таблетки" in fast.text  # what was typed is kept
        honeypot = {**base, "form_token": await form_token(client, path), "website": "http://x"}
        assert (await client.post("/comments", data=honeypot)).status_code == 422
        foreign = await client.post(
            "/comments",
            data={**base, "form_token": await form_token(client, path)},
            headers={"Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403 and "только со страниц нашего сайта" in foreign.text
        assert await redis.xlen(COMMENTS_INTAKE) == 0
    async with running(make_settings(comment_rate_limit=2)) as (_, client):
        for n in range(2):
            ok = await client.post("/api/v1/comments", json=comment(text=f"Мнение {n}"))
            assert ok.status_code == 202
        limited = await client.post("/api/v1/comments", json=comment())
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        form = await client.post(
            "/comments",
            data={
                **base,
                "form_token": await form_token(client, f"/comments/form?article_id={ARTICLE}"),
            },
        )
        assert form.status_code == 429 and "Слишком много комментариев" in form.text
        assert await redis.xlen(COMMENTS_INTAKE) == 2


async def test_the_comments_api_takes_a_key_once_and_names_bad_fields(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    settings = make_settings()
    async with running(settings) as (_, client):
        key = {"Idempotency-Key": "comment-key-1"}
        first = await client.post("/api/v1/comments", json=comment(), headers=key)
        again = await client.post("/api/v1/comments", json=comment(), headers=key)
        assert first.status_code == again.status_code == 202
        assert first.json() == again.json() and first.json()["status"] == "pending"
        assert again.headers["Idempotent-Replayed"] == "true"
        other = await client.post("/api/v1/comments", json=comment(text="Другое"), headers=key)
        assert (
            other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
        )
        for body, field in (
            (comment(name=""), "name"),
            (comment(text="x"), "text"),
            (comment(article_id={"$ne": ""}), "article_id"),
            (comment(reply_to="not-an-id"), "reply_to"),
            ({**comment(), "email": "x@example.org"}, "email"),  # no e-mail is taken
        ):
            bad = await client.post("/api/v1/comments", json=body)
            assert bad.status_code == 422, body
            assert field in {f["field"] for f in bad.json()["error"]["fields"]}
        await _emptied(redis, COMMENTS_INTAKE)
    assert await mongo[settings.mongodb_db]["comments"].count_documents({}) == 1


async def test_a_letter_is_accepted_once_its_way_to_answer_sealed(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    settings = make_settings()
    async with running(settings) as (_, client):
        page = await client.get("/letters")
        assert page.status_code == 200 and "Напишите нам" in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        fields = {**letter(), "form_token": await form_token(client, "/letters"), "website": ""}
        sent = await client.post("/letters", data=fields)
        assert sent.status_code == 200 and "Письмо получено" in sent.text
        assert (await client.post("/letters", data=fields)).status_code == 200  # once
        api = await client.post(
            "/api/v1/letters", json=letter(reply_to=None), headers={"Idempotency-Key": "l-1"}
        )
        assert api.status_code == 202 and api.json()["status"] == "received"
        bad = await client.post("/letters", data={**fields, "subject": "", "form_token": "x"})
        assert bad.status_code == 422
        await _emptied(redis, LETTERS_INTAKE)

        async def published() -> bool:
            return len(await _events(redis, LetterReceived)) == 2

        await eventually(published, what="letter.received on the stream")
    docs = await mongo[settings.mongodb_db]["letters"].find({}).to_list(None)
    assert len(docs) == 2
    assert "gulnara@example.org" not in json.dumps(docs, default=str)
    events = {e.data.letter_id: e.data for e in await _events(redis, LetterReceived)}
    sealed = [d for d in events.values() if d.reply_to_sealed]
    assert len(sealed) == 1 and unseal(sealed[0].reply_to_sealed) == b"gulnara@example.org"
    assert {d.subject for d in events.values()} == {"Опечатка в статье"}


async def test_a_thousand_concurrent_comments_on_one_article_are_accepted_once_each(
    make_settings: MakeSettings, redis: aioredis.Redis, mongo: Mongo
) -> None:
    settings = make_settings(comment_rate_limit=100_000, storage_timeout_s=300)
    async with running(settings) as (_, client):

        def body(n: int) -> dict[str, Any]:
            return comment(name=f"Читатель {n}", text=f"Мнение читателя номер {n}.")

        results = await send_keyed(client, "/api/v1/comments", body, "comment")
        assert {r.status_code for _, r in results} == {202}
        await _emptied(redis, COMMENTS_INTAKE, timeout=180)

        async def all_published() -> bool:
            return len(await _events(redis, CommentSubmitted)) >= 1000

        await eventually(all_published, timeout=120, what="1000 comment.submitted")
    by_key: dict[str, set[str]] = {}
    for key, response in results:
        by_key.setdefault(key, set()).add(response.json()["comment_id"])
    assert len(by_key) == 1000 and all(len(ids) == 1 for ids in by_key.values())
    ids = {i for found in by_key.values() for i in found}
    assert await mongo[settings.mongodb_db]["comments"].count_documents({}) == 1000
    events = await _events(redis, CommentSubmitted)
    assert len(events) == 1000 and {e.aggregate_id for e in events} == ids
    assert {e.data.article_id for e in events} == {ARTICLE}


async def test_kill9_of_ingest_while_comments_are_posted_loses_none_and_retries_apply_once(
    infra: Infra,
    redis_url: str,
    redis: aioredis.Redis,
    mongo: Mongo,
    mongo_db_name: str,
    tmp_path: Path,
) -> None:
    env = {
        "XABAR_INGEST_REDIS_URL": redis_url,
        "XABAR_INGEST_MONGODB_URL": infra.mongo_url,
        "XABAR_INGEST_MONGODB_DB": mongo_db_name,
        "XABAR_INGEST_TOKEN_PUBLIC_KEY": TOKEN_KEYS.public,
        "XABAR_INGEST_ADDRESS_SALT": ADDRESS_SALT,
        "XABAR_INGEST_NEWSROOM_PUBLIC_KEY": NEWSROOM_PUBLIC_KEY,
        "XABAR_INGEST_CONSUMER_NAME": "ingest-0",
        "XABAR_INGEST_CLAIM_IDLE_MS": "500",
        "XABAR_INGEST_COMMENT_RATE_LIMIT": "100000",
    }
    proc = service_process("xabar.ingest", env, tmp_path, "XABAR_INGEST_PORT")
    await asyncio.to_thread(proc.start)
    accepted: dict[str, str] = {}  # Idempotency-Key -> comment id, for every 202
    retried = 0
    stop = asyncio.Event()
    numbers = iter(range(1_000_000))
    try:

        async def reader(n: int) -> None:
            nonlocal retried
            async with httpx.AsyncClient(timeout=5) as client:
                while not stop.is_set():
                    i = next(numbers)
                    key, attempts = f"kill9-comment-{i}", 0
                    while True:  # a careful client: the same key until a 2xx
                        attempts += 1
                        try:
                            r = await client.post(
                                f"{proc.url}/api/v1/comments",
                                json=comment(name=f"Читатель {n}", text=f"Комментарий {i}."),
                                headers={"Idempotency-Key": key},
                            )
                            if r.status_code == 202:
                                accepted[key] = r.json()["comment_id"]
                                break
                        except httpx.HTTPError:
                            pass
                        await asyncio.sleep(0.05)
                    retried += attempts > 1

        load = (reader(n) for n in range(12))
        await killed_under_load(proc, load, accepted, stop, each_side=200, poll_s=0.02, timeout=180)
        assert retried > 0  # the kill was felt: some comments were sent again

        await _emptied(redis, COMMENTS_INTAKE, timeout=120)

        async def all_published() -> bool:
            found = {e.aggregate_id for e in await _events(redis, CommentSubmitted)}
            return set(accepted.values()) <= found

        await eventually(all_published, timeout=120, what="every comment's event")
        docs = await mongo[mongo_db_name]["comments"].find({}, {"text": 1}).to_list(None)
        stored = {str(d["_id"]) for d in docs}
        assert len(stored) == len(docs) == len(accepted)  # nothing lost, nothing twice
        assert set(accepted.values()) == stored
        by_comment: dict[str, set[str]] = {}
        for e in await _events(redis, CommentSubmitted):
            by_comment.setdefault(e.aggregate_id, set()).add(str(e.event_id))
        assert set(by_comment) == stored
        assert all(len(ids) == 1 for ids in by_comment.values())  # sent again, one event id
        print(f"accepted {len(accepted)}, retried across the kill {retried}")
    finally:
        stop.set()
        proc.terminate()
