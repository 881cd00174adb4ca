"""schemathesis against the polls service's own /openapi.json: no 5xx, every status, content type
and body as the document says; with an open, a scheduled and a closed poll to vote on, edit and
close."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import TokenKeys
from tests.polls.conftest import SettingsFactory
from tests.support import fuzz
from xabar.polls.app import create_app


async def _polls(url: str, auth: dict[str, str]) -> tuple[list[str], list[str]]:
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    async with httpx.AsyncClient(base_url=url, headers=auth, timeout=30) as client:
        made = []
        for fields in (
            {"multiple": True},
            {"opens_at": later, "closes_at": (datetime.now(UTC) + timedelta(days=60)).isoformat()},
            {},
        ):
            body = {
                "question": "Как вы относитесь к вступлению в ЕАЭС?",
                "options": ["За", "Против"],
            }
            created = await client.post("/api/v1/polls", json=body | fields)
            assert created.status_code == 201, created.text
            made.append(created.json()["poll_id"])
            options = [o["option_id"] for o in created.json()["options"]]
        closed = await client.post(f"/api/v1/polls/{made[2]}/close")
        assert closed.status_code == 200, closed.text
    return made, options  # the options of each poll are named alike


@pytest.mark.parametrize("who", ["anonymous", "editor"])
async def test_api_fuzz(make_settings: SettingsFactory, token_keys: TokenKeys, who: str) -> None:
    # room for every generated vote: the limits themselves are tested in test_voting
    settings = make_settings(vote_rate_limit=100_000, address_limit=100_000)
    headers = fuzz.bearer(token_keys.private)
    with fuzz.served(create_app(settings)) as url:
        polls, options = await _polls(url, headers)
        known = {"poll_id": polls}
        # votes for options that exist: counted (201) on the open poll, then refused (409)
        votes = [{"options": options[:1]}, {"options": options}]
        bodies = {"POST /api/v1/polls/{poll_id}/votes": votes}
        if who == "anonymous":
            await asyncio.to_thread(fuzz.run, url, known=known, bodies=bodies)
        else:
            await asyncio.to_thread(fuzz.run, url, headers, known=known, only=fuzz.secured)
