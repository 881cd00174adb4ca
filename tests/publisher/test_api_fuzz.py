"""schemathesis against the publisher's own /openapi.json: no 5xx, every status, content type and
body as the document says; with a draft, a published article, a tip and an image that exist, so
that the workflow, revision, inbox and media routes reach them."""

import asyncio

import httpx
import pytest

from tests.conftest import TokenKeys
from tests.publisher.conftest import SettingsFactory, jpeg, send_tip, tip
from tests.support import fuzz
from tests.support.waiting import eventually
from xabar.publisher.app import create_app
from xabar.runtime.auth import Role


async def _items(url: str, redis_url: str, auth: dict[str, str]) -> dict[str, list[str]]:
    async with httpx.AsyncClient(base_url=url, headers=auth, timeout=30) as client:
        articles = []
        for _ in range(2):
            body = {"title": "Новость", "lead": "Лид", "body_html": "<p>Текст</p>"}
            created = await client.post("/api/v1/articles", json=body)
            assert created.status_code == 201, created.text
            articles.append(created.json()["article_id"])
        published = await client.post(f"/api/v1/articles/{articles[1]}/publish")
        assert published.status_code == 200, published.text
        image = await client.post("/api/v1/media", files={"file": ("p.jpg", jpeg(), "image/jpeg")})
        assert image.status_code == 201, image.text
        event = tip()
        await send_tip(redis_url, event)

        async def arrived() -> bool:
            return (await client.get(f"/api/v1/inbox/{event.aggregate_id}")).status_code == 200

        await eventually(arrived, what="the tip in the inbox")
    return {
        "article_id": articles,
        "version": ["1", "2"],
        "If-Match": ['"1"', '"2"'],
        "submission_id": [event.aggregate_id],
        "media_id": [image.json()["media_id"]],
    }


def _chief_only(operation: fuzz.Operation) -> bool:
    return "(role: chief+)" in str(operation.definition.raw.get("summary", ""))


@pytest.mark.parametrize("who", ["anonymous", "editor", "chief"])
async def test_api_fuzz(
    make_settings: SettingsFactory, redis_url: str, token_keys: TokenKeys, who: str
) -> None:
    editor = fuzz.bearer(token_keys.private, Role.EDITOR)
    with fuzz.served(create_app(make_settings())) as url:
        known = await _items(url, redis_url, editor)
        if who == "anonymous":
            await asyncio.to_thread(fuzz.run, url, known=known)
        elif who == "editor":
            await asyncio.to_thread(fuzz.run, url, editor, known=known, only=fuzz.secured)
        else:  # what only a chief may do: the editors' accounts
            chief = fuzz.bearer(token_keys.private, Role.CHIEF)
            await asyncio.to_thread(fuzz.run, url, chief, known=known, only=_chief_only)
