"""Issue 12 in the publisher: every bad parameter is a 4xx in our words, a contributor reads only
their own articles and published ones, a tip's contact never reaches an article or an event,
login guesses are bounded per account across addresses, and password hashing is bounded."""

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from pymongo.errors import ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.publisher.conftest import (
    Harness,
    SettingsFactory,
    create_article,
    env_of,
    eventually,
    publish,
    running,
    send_tip,
    stream_events,
    tip,
)
from tests.support.procs import service_process
from xabar.contracts import ARTICLES_STREAM, REVIEWS_STREAM, Contact, Submission
from xabar.publisher.images import UploadSlots
from xabar.publisher.routes.errors import exception_handlers
from xabar.runtime.auth import Role
from xabar.runtime.errors import BadRequest
from xabar.runtime.locks import LockBusy

C = Role.CONTRIBUTOR
PYTHON_TEXT = re.compile(
    r"Traceback|Error\b|invalid literal|out of range|year \d|\bint\(\)|Expecting|line \d+ column"
)


def assert_refused_in_our_words(resp: httpx.Response, status: int) -> None:
    assert resp.status_code == status, (resp.request.url, resp.text)
    error = resp.json()["error"]
    assert error["code"] and error["message"]
    assert not PYTHON_TEXT.search(resp.text), resp.text


async def test_unicode_digits_and_dates_out_of_range_are_4xx_in_our_words(
    harness: Harness,
) -> None:
    h = harness
    aid = (await create_article(h))["article_id"]
    for url in (
        "/api/v1/articles?page=²",
        "/api/v1/articles?per_page=²",
        "/api/v1/articles?page=٣",
        "/api/v1/articles?page=99999999999999999999999",
        f"/api/v1/articles/{aid}/diff?from=²",
        f"/api/v1/articles/{aid}/diff?to=-1",
        "/api/v1/inbox?to=9999-12-31",
        "/api/v1/inbox?from=0001-01-01T00:00:00%2B14:00",
        "/api/v1/inbox?from=yesterday",
        "/api/v1/audit?to=9999-12-31T23:59:59-14:00",
        "/api/v1/audit?per_page=1e3",
    ):
        assert_refused_in_our_words(await h.client.get(url, headers=h.auth()), 422)
    for url in (f"/api/v1/articles/{aid}/revisions/²", f"/api/v1/articles/{aid}/revisions/1²"):
        assert_refused_in_our_words(await h.client.get(url, headers=h.auth()), 404)
    schedule = await h.client.post(
        f"/api/v1/articles/{aid}/schedule",
        json={"publish_at": "9999-12-31T23:59:59-14:00"},
        headers=h.auth(),
    )
    assert_refused_in_our_words(schedule, 422)
    assert schedule.json()["error"]["fields"][0]["field"] == "publish_at"
    bad_match = await h.client.post(
        f"/api/v1/articles/{aid}/publish", headers={**h.auth(), "If-Match": '"²"'.encode()}
    )
    assert_refused_in_our_words(bad_match, 400)
    # nothing was changed by any of it
    article = (await h.client.get(f"/api/v1/articles/{aid}", headers=h.auth())).json()
    assert (article["version"], article["status"]) == (1, "draft")


async def test_a_contributor_reads_only_their_own_articles_and_published_ones(
    harness: Harness,
) -> None:
    h = harness
    mine = await create_article(h, C, title="Мой черновик")
    mine_id = mine["article_id"]
    others_draft = await create_article(h, title="Чужой черновик")
    embargoed = await create_article(h, title="Под эмбарго")
    at = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    resp = await h.client.post(
        f"/api/v1/articles/{embargoed['article_id']}/schedule",
        json={"publish_at": at},
        headers=h.auth(),
    )
    assert resp.status_code == 200, resp.text
    taken_down = await create_article(h, title="Снятая статья")
    await publish(h, taken_down["article_id"])
    down = await h.client.post(
        f"/api/v1/articles/{taken_down['article_id']}/unpublish", headers=h.auth()
    )
    assert down.status_code == 200
    public = await publish(h, (await create_article(h, title="Опубликованная"))["article_id"])
    me = h.auth(C)  # the same contributor ("contributor-1") who wrote ``mine``

    async def titles(query: str = "") -> tuple[list[str], int]:
        body = (await h.client.get(f"/api/v1/articles?{query}", headers=me)).json()
        return [i["title"] for i in body["items"]], body["total"]

    assert await titles() == (["Опубликованная", "Мой черновик"], 2)
    assert await titles("per_page=1&page=2") == (["Мой черновик"], 2)
    assert await titles("status=draft") == (["Мой черновик"], 1)
    assert await titles("status=scheduled") == ([], 0)
    assert await titles("status=unpublished") == ([], 0)
    assert await titles("status=published") == (["Опубликованная"], 1)
    assert await titles("q=черновик") == (["Мой черновик"], 1)
    assert await titles("owner_id=editor-1") == (["Опубликованная"], 1)
    assert await titles("owner_id=editor-1&status=draft") == ([], 0)
    editors_view = (await h.client.get("/api/v1/articles", headers=h.auth())).json()
    assert editors_view["total"] == 5

    for hidden in (others_draft, embargoed, taken_down):
        base = f"/api/v1/articles/{hidden['article_id']}"
        for url in (base, f"{base}/revisions", f"{base}/revisions/1", f"{base}/diff"):
            resp = await h.client.get(url, headers=me)
            assert resp.status_code == 403, (url, resp.text)
            assert resp.json()["error"]["code"] == "forbidden"
            assert "Под эмбарго" not in resp.text and "Чужой" not in resp.text
    published_url = f"/api/v1/articles/{public['article_id']}"
    assert (await h.client.get(published_url, headers=me)).status_code == 200
    history = await h.client.get(f"{published_url}/revisions", headers=me)
    assert history.status_code == 403  # its drafts were never public
    for url in (
        f"/api/v1/articles/{mine_id}",
        f"/api/v1/articles/{mine_id}/revisions",
        f"/api/v1/articles/{mine_id}/revisions/1",
        f"/api/v1/articles/{mine_id}/diff",
    ):
        assert (await h.client.get(url, headers=me)).status_code == 200, url
    other_contributor = h.auth(C, "contributor-2")
    assert (
        await h.client.get(f"/api/v1/articles/{mine_id}", headers=other_contributor)
    ).status_code == 403


async def test_accepting_a_tip_copies_nothing_of_the_reporters_contact(
    harness: Harness, redis_url: str, redis: aioredis.Redis
) -> None:
    h = harness
    marker, phone = "Маркерович", "+7 701 555 0199"
    event = tip("sub-contact")
    data: Submission = event.data.model_copy(
        update={
            "contact": Contact(name=marker, email="markerovich@example.org", phone=phone),
            "text": "Свет отключили вчера вечером.",
        }
    )
    event = event.model_copy(update={"data": data})
    await send_tip(redis_url, event)

    async def arrived() -> bool:
        resp = await h.client.get("/api/v1/inbox/sub-contact", headers=h.auth())
        return resp.status_code == 200

    await eventually(arrived, what="the tip in the inbox")
    inbox_view = (await h.client.get("/api/v1/inbox/sub-contact", headers=h.auth())).text
    assert marker in inbox_view  # editors see the contact...
    accepted = await h.client.post("/api/v1/inbox/sub-contact/accept", headers=h.auth())
    assert accepted.status_code == 201, accepted.text
    article = accepted.json()["article"]
    published = await publish(h, article["article_id"])  # published unchanged

    async def both_reviews() -> bool:
        return len(await stream_events(redis, REVIEWS_STREAM)) >= 2

    await eventually(both_reviews, what="the tip's reviews")
    events = [
        *await stream_events(redis, ARTICLES_STREAM),
        *await stream_events(redis, REVIEWS_STREAM),
    ]
    surfaces = [json.dumps(article, ensure_ascii=False), json.dumps(published, ensure_ascii=False)]
    surfaces += [e.model_dump_json() for e in events]
    for text in surfaces:  # ...nothing else does, the credit included
        for secret in (marker, "markerovich", phone):
            assert secret not in text, text[:500]
    assert published["source"] == "Народный репортер"


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def test_login_guesses_per_account_are_bounded_across_addresses_and_the_owner_keeps_in(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(
        trusted_proxies="127.0.0.0/8",
        login_account_rate_limit=5,
        login_rate_window_s=6,
    )
    async with running(settings) as h:
        login = "/api/v1/auth/login"
        right = {"email": "chief@xabar.local", "password": "правильный пароль"}
        wrong = {**right, "password": "угадываю"}
        await h.parts.editors.create(
            email=right["email"], name="Шеф", role=Role.CHIEF, password=right["password"]
        )
        owner = await h.client.post(login, json=right, headers=_from("10.0.0.1"))
        assert owner.status_code == 200  # the owner's usual address is known from now on
        answers = [
            (await h.client.post(login, json=wrong, headers=_from(f"198.51.100.{n}"))).status_code
            for n in range(1, 9)
        ]
        # the owner's first login, from a new place, was one of the five: four guesses are left,
        # whatever the addresses they come from
        assert answers == [401] * 4 + [429] * 4
        refused = await h.client.post(login, json=right, headers=_from("203.0.113.9"))
        assert refused.status_code == 429  # even right, from a new place, while it lasts
        assert 1 <= int(refused.headers["retry-after"]) <= 6
        owner = await h.client.post(login, json=right, headers=_from("10.0.0.1"))
        assert owner.status_code == 200  # the owner is never locked out where they log in
        await asyncio.sleep(int(refused.headers["retry-after"]) + 0.2)  # a new place: again
        fresh = await h.client.post(login, json=right, headers=_from("203.0.113.9"))
        assert fresh.status_code == 200, fresh.text


async def test_password_hashing_runs_at_most_its_concurrency_at_once(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(
        password_hash_concurrency=2, password_memory_kib=65_536, password_time_cost=3
    )
    async with running(settings) as h:
        passwords = h.parts.editors.passwords
        assert passwords.peak == 0
        wrong = [{"email": f"nobody{n}@xabar.local", "password": "не тот пароль"} for n in range(8)]
        answers = await asyncio.gather(
            *(h.client.post("/api/v1/auth/login", json=body) for body in wrong)
        )
        assert [a.status_code for a in answers] == [401] * 8
        assert passwords.peak == 2  # eight at once, two hashing at a time
        assert passwords.running == 0


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.slow
async def test_twenty_concurrent_failed_logins_keep_the_peak_memory_bounded(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    """The figure of issue 12 (111 -> 495 MB with eight), on a real process: the publisher's
    peak RSS stays at or under 200 MB under 20 concurrent failed logins."""
    settings = make_settings(scheduler_enabled=False)
    env = {**env_of(settings), "XABAR_PUBLISHER_LOGIN_RATE_LIMIT": "100"}
    proc = service_process("xabar.publisher", env, tmp_path, "XABAR_PUBLISHER_PORT")
    await asyncio.to_thread(proc.start)
    try:
        assert proc.proc is not None
        before = _peak_rss_mb(proc.proc.pid)
        async with httpx.AsyncClient(base_url=proc.url, timeout=60) as client:
            bodies: list[dict[str, Any]] = [
                {"email": f"guess{n}@xabar.local", "password": "не тот пароль"} for n in range(20)
            ]
            for _ in range(2):
                answers = await asyncio.gather(
                    *(client.post("/api/v1/auth/login", json=b) for b in bodies)
                )
                assert {a.status_code for a in answers} == {401}
        after = _peak_rss_mb(proc.proc.pid)
        assert after <= 200, (before, after)
    finally:
        await asyncio.to_thread(proc.terminate)


async def test_storage_errors_are_503_with_retry_after_and_never_the_drivers_text() -> None:
    """The publisher's error map on a bare app: pure logic, no servers."""
    faults: dict[str, Exception] = {
        "mongo": ServerSelectionTimeoutError("127.0.0.1:27017: [Errno 111] Connection refused"),
        "redis": RedisConnectionError(
            "Error 111 connecting to 127.0.0.1:6379. Connection refused."
        ),
        "lock": LockBusy("articles:0123 is being changed by someone else; try again"),
    }

    async def fail(request: Request) -> Response:
        raise faults[request.path_params["what"]]

    app = Starlette(routes=[Route("/{what}", fail)], exception_handlers=exception_handlers())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        for what in faults:
            resp = await client.get(f"/{what}")
            assert resp.status_code == 503, resp.text
            assert int(resp.headers["retry-after"]) >= 1
            assert resp.json()["error"]["code"] in ("storage_unavailable", "busy")
            for leak in ("127.0.0.1", "Errno", "articles:", "Connection refused"):
                assert leak not in resp.text


async def test_uploads_are_read_a_few_at_a_time_and_a_wait_past_its_bound_is_503() -> None:
    slots = UploadSlots(2, wait_s=0.2)
    inside = most = 0

    async def one() -> None:
        nonlocal inside, most
        async with slots.hold():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.02)
            inside -= 1

    await asyncio.gather(*(one() for _ in range(10)))
    assert most == 2
    async with slots.hold(), slots.hold():
        with pytest.raises(BadRequest) as refused:
            async with slots.hold():
                pass
    assert refused.value.status == 503 and refused.value.code == "overloaded"
    assert refused.value.headers == {"Retry-After": "5"}
    async with slots.hold(), slots.hold():  # the slots were given back
        pass
