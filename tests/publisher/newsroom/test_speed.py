"""Every newsroom page this shell serves answers with 100,000 articles stored (in MongoDB and in
the article list's index), against the real Redis and FerretDB, over a real loopback HTTP
connection to the app under uvicorn.

How fast they answer is a benchmark, not a test: ``python -m xabar.devstack bench-newsroom``
measures the same pages' p50 and p99 (target 50 ms) at 100,000 articles."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.publisher.conftest import SettingsFactory, running_in_task, tip
from tests.publisher.newsroom.conftest import PASSWORD, Newsroom, csrf_of
from tests.support.serving import over_http
from xabar.runtime.auth import Role
from xabar.runtime.localinfra import free_port

ARTICLES = 100_000
STATUSES = ("published",) * 8 + ("draft", "in_review", "scheduled")


def articles(n: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        status = STATUSES[i % len(STATUSES)]
        changed = now - timedelta(minutes=i)
        out.append(
            {
                "_id": f"a{i:07d}",
                "article_id": f"a{i:07d}",
                "status": status,
                "version": 1,
                "slug": f"novost-{i}",
                "title": f"Новость номер {i}",
                "lead": "Лид",
                "body_html": "<p>Текст</p>",
                "countries": [("KZ", "KG", "UZ", "TJ", "TM", "CN")[i % 6]],
                "featured": [],
                "publish_at": (now + timedelta(hours=i % 48)) if status == "scheduled" else None,
                "published_at": changed if status == "published" else None,
                "updated_at": changed,
                "owner_id": "editor-1",
                "revisions": [],
            }
        )
    return out


@pytest.fixture
async def loaded(make_settings: SettingsFactory) -> AsyncIterator[tuple[str, Newsroom]]:
    port = free_port()
    settings = make_settings(public_url=f"http://127.0.0.1:{port}")
    async with running_in_task(settings) as h:
        newsroom = Newsroom(h)
        rows = articles(ARTICLES)
        coll = h.parts.collections.articles
        for start in range(0, ARTICLES, 2000):
            await coll.insert_many(rows[start : start + 2000], ordered=False)
        await h.parts.repos.index.put_many(rows)
        for n in range(40):
            await h.parts.inbox.receive(tip(f"sub-speed-{n:03d}-{uuid.uuid4().hex[:6]}"))
        async with over_http(h.app, port) as url:
            yield url, newsroom


async def answered(client: httpx.AsyncClient, path: str) -> str:
    """The page at ``path``, asserted to be a whole HTML page answered 200."""
    resp = await client.get(path)
    assert resp.status_code == 200, (path, resp.status_code)
    if not path.startswith("/inbox/updates"):
        assert resp.headers["content-type"].startswith("text/html"), path
        assert "</html>" in resp.text, path
    return resp.text


@pytest.mark.slow
async def test_every_page_answers_with_100000_articles(
    loaded: tuple[str, Newsroom],
) -> None:
    url, newsroom = loaded
    chief = await newsroom.editor(Role.CHIEF)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        page = await client.get("/login")
        logged_in = await client.post(
            "/login",
            data={"csrf": csrf_of(page.text), "email": chief, "password": PASSWORD},
            headers={"Origin": url},
        )
        assert logged_in.status_code == 303, logged_in.text
        inbox = await client.get("/inbox")
        assert inbox.status_code == 200, inbox.text
        listed = inbox.text
        tip_path = listed.split('href="/inbox/sub-speed-', 1)[1].split('"', 1)[0]
        editor_id = str((await newsroom.h.parts.repos.editors.by_email(chief) or {})["_id"])
        paths = [
            "/",
            "/inbox",
            "/inbox?status=received&country=TJ",
            f"/inbox/sub-speed-{tip_path}",
            "/inbox/updates?after=0",
            "/people",
            f"/people/{editor_id}",
            "/account",
            "/audit",
        ]
        pages = {path: await answered(client, path) for path in paths}
    assert "Новость номер 0" in pages["/"], "the dashboard lists the latest publications"
    async with httpx.AsyncClient(base_url=url, timeout=10) as anonymous:
        login = await answered(anonymous, "/login")
    assert 'name="password"' in login
