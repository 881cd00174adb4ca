"""Small HTTP clients of the services' public APIs, for demo loading, bench and drills."""

import asyncio
import json
import uuid
from typing import Any

import httpx
from xabar.devstack.stack import Stack

CHIEF_EMAIL = "chief@xabar.local"


async def chief_token(stack: Stack) -> str:
    async with httpx.AsyncClient(base_url=stack.services["publisher"].url, timeout=10) as client:
        resp = await client.post(
            "/api/v1/auth/login",
            json={"email": CHIEF_EMAIL, "password": stack.secrets["chief_password"]},
        )
        resp.raise_for_status()
        token: str = resp.json()["access_token"]
        return token


def ensure_chief(stack: Stack) -> None:
    """The chief editor of this local deployment (the command leaves an existing one alone)."""
    stack.cli(
        "publisher",
        "create-editor",
        "--email",
        CHIEF_EMAIL,
        "--name",
        "Главный редактор",
        "--role",
        "chief",
        env={"XABAR_PUBLISHER_NEW_EDITOR_PASSWORD": stack.secrets["chief_password"]},
    )


def import_poll(stack: Stack, key: str, question: str, votes: dict[str, int]) -> None:
    """A poll with ``votes`` (option text -> count) through the polls service's own import."""
    path = stack.state / f"poll-{key}.json"
    options = [{"text": text, "votes": n} for text, n in votes.items()]
    doc = {"import_key": key, "question": question, "options": options}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    stack.cli("polls", "import-poll", str(path))


def submission_body(n: int) -> dict[str, Any]:
    return {
        "title": f"Сообщение читателя номер {n}",
        "text": "На улице Ленина третий день нет света, жители жалуются.",
        "country": "TJ",
        "anonymous": True,
        "consent": True,
    }


async def submit_until_accepted(
    client: httpx.AsyncClient, n: int, deadline_s: float = 120.0
) -> tuple[str, int]:
    """Send one tip like a careful client: one Idempotency-Key, retried until a 202.
    Returns (submission id, attempts)."""
    key = str(uuid.uuid4())
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    attempts = 0
    while True:
        attempts += 1
        try:
            resp = await client.post(
                "/api/v1/submissions", json=submission_body(n), headers={"Idempotency-Key": key}
            )
            if resp.status_code == 202:
                return str(resp.json()["submission_id"]), attempts
        except httpx.HTTPError:
            pass
        if loop.time() > end:
            raise TimeoutError(f"submission {n} not accepted within {deadline_s}s")
        await asyncio.sleep(0.2)


async def feed_total(stack: Stack) -> int:
    async with httpx.AsyncClient(base_url=stack.services["feed"].url, timeout=10) as client:
        resp = await client.get("/api/v1/articles", params={"page": 1})
        if resp.status_code != 200:
            return 0
        return int(resp.json().get("total", 0))


def publisher_api(stack: Stack, token: str, timeout: float = 30) -> httpx.AsyncClient:
    """A client of the publisher's API with ``token`` (``chief_token``) as its bearer."""
    return httpx.AsyncClient(
        base_url=stack.services["publisher"].url,
        timeout=timeout,
        headers={"Authorization": f"Bearer {token}"},
    )
