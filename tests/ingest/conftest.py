"""Fixtures of the ingest tests: settings against the session's real Redis and FerretDB, the app
in-process behind httpx, and helpers to read the submissions stream and make photos."""

import asyncio
import base64
import io
import re
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from nacl.public import PrivateKey, SealedBox
from PIL import Image
from pymongo import AsyncMongoClient
from starlette.applications import Starlette

from tests.support.settings import settings_factory
from tests.support.waiting import eventually
from xabar.contracts import SUBMISSIONS_STREAM, Event, parse_event
from xabar.ingest.app import create_app
from xabar.ingest.config import IngestSettings

ADDRESS_SALT = "test-address-salt-0123456789abcdef0123456789"
# the newsroom's key pair: ingest seals with the public key, only the tests (the publisher's
# part) open with the private one
NEWSROOM_KEY = PrivateKey.generate()
NEWSROOM_PUBLIC_KEY = base64.b64encode(bytes(NEWSROOM_KEY.public_key)).decode()


def unseal(sealed: str) -> bytes:
    """Open a box sealed to the newsroom's key (what the publisher does)."""
    return SealedBox(NEWSROOM_KEY).decrypt(base64.b64decode(sealed))


MakeSettings = Callable[..., IngestSettings]


@pytest.fixture
def make_settings(common_settings: dict[str, Any]) -> MakeSettings:
    return settings_factory(
        IngestSettings,
        {
            **common_settings,
            "address_salt": ADDRESS_SALT,
            "newsroom_public_key": NEWSROOM_PUBLIC_KEY,
            "consumer_name": "ingest-test",
            "claim_idle_ms": 200,
            "relay_sweep_s": 0.5,
            "form_min_fill_s": 0.0,
        },
    )


@asynccontextmanager
async def running(
    settings: IngestSettings, peer: tuple[str, int] = ("127.0.0.1", 40000)
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """The ingest app with its lifespan running (bus, relay), and a client whose requests come
    from ``peer``."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=peer)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://ingest.test", timeout=60
        ) as client:
            yield app, client


@pytest.fixture
async def app_client(
    settings: IngestSettings,
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    async with running(settings) as pair:
        yield pair


@pytest.fixture
async def client(app_client: tuple[Starlette, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_client[1]


async def stream_events(redis: aioredis.Redis, stream: str = SUBMISSIONS_STREAM) -> list[Event]:
    """Every event on ``stream``, in order, read straight from Redis."""
    from faststream.redis.parser import BinaryMessageFormatV1

    out = []
    for _, fields in await redis.xrange(stream):
        body, _headers = BinaryMessageFormatV1.parse(fields[b"__data__"])
        out.append(parse_event(body))
    return out


INTAKE = "xabar:ingest:intake"


async def moved(redis: aioredis.Redis, timeout: float = 60.0) -> None:
    """Wait until the mover has taken every accepted submission out of the Redis intake: its
    document is in MongoDB and its event published (a 202 means accepted durably in the intake;
    the document reaches MongoDB right after)."""

    async def empty() -> bool:
        return int(await redis.xlen(INTAKE)) == 0

    await eventually(empty, timeout=timeout, what="the intake to be moved to MongoDB")


async def drained(db: Any, timeout: float = 120) -> None:
    """Wait until the relay has published every stored event: no pending marker is left (a
    small collection to poll), and then no document has anything left in its outbox."""

    async def no_markers() -> bool:
        return await db["outbox_pending"].count_documents({}) == 0

    await eventually(no_markers, timeout=timeout, what="the outbox to drain")
    assert await db["submissions"].count_documents({"outbox.0": {"$exists": True}}) == 0


async def stored(db: Any, submission_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """The MongoDB document of an accepted submission, once the mover has put it there."""
    found: dict[str, Any] = {}

    async def there() -> bool:
        doc = await db["submissions"].find_one({"_id": submission_id})
        if doc is not None:
            found.update(doc)
        return doc is not None

    await eventually(there, timeout=timeout, what=f"submission {submission_id} in MongoDB")
    return found


def tip(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Отключили свет в Худжанде",
        "text": "Третий день без света на улице Ленина, жители жалуются.",
        "country": "TJ",
        "location": "Худжанд, ул. Ленина",
        "contact": {"name": "Фарход", "email": "farhod@example.org", "phone": "+992 93 555 1234"},
        "consent": True,
        "anonymous": False,
    }
    body.update(overrides)
    return body


async def accepted_tips(client: httpx.AsyncClient, titles: Iterable[str]) -> list[str]:
    """A ``tip()`` of each title sent, one after the other, each accepted (202): their
    submission ids, in order."""
    ids = []
    for title in titles:
        response = await client.post("/api/v1/submissions", json=tip(title=title))
        assert response.status_code == 202, response.text
        ids.append(response.json()["submission_id"])
    return ids


def jpeg_with_gps(size: tuple[int, int] = (320, 240), orientation: int | None = None) -> bytes:
    """A JPEG carrying EXIF with a camera model, GPS coordinates and optionally an orientation."""
    img = Image.new("RGB", size, (180, 40, 40))
    for x in range(size[0] // 2):
        img.putpixel((x, 0), (0, 0, 255))  # a marker on the top-left edge
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Maker"  # Make
    exif[0x0110] = "Model X"  # Model
    if orientation is not None:
        exif[0x0112] = orientation
    exif[0x8825] = {1: "N", 2: (40.0, 17.0, 0.0), 3: "E", 4: (69.0, 37.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    return out.getvalue()


def png(size: tuple[int, int] = (64, 64)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 128, 0, 200)).save(out, "PNG")
    return out.getvalue()


def multipart_fields(body: dict[str, Any]) -> dict[str, str]:
    """A ``tip()`` body as the form's flat string fields."""
    fields = {k: v for k, v in body.items() if isinstance(v, str)}
    for key in ("consent", "anonymous"):
        if body.get(key):
            fields[key] = "on"
    for key, value in (body.get("contact") or {}).items():
        fields[f"contact_{key}"] = value
    return fields


def keyed_requests(prefix: str, count: int = 1000, retries: int = 200) -> list[tuple[str, int]]:
    """``count`` requests under keys of their own plus ``retries`` of them again, shuffled:
    ``(Idempotency-Key, number)``."""
    import random

    keys = [f"{prefix}-{n:04d}" for n in range(count)]
    requests = [(key, n) for n, key in enumerate(keys)]
    requests += [(key, keys.index(key)) for key in random.Random(7).sample(keys, retries)]
    random.Random(11).shuffle(requests)
    return requests


async def send_keyed(
    client: httpx.AsyncClient,
    path: str,
    body: Callable[[int], dict[str, Any]],
    prefix: str,
) -> list[tuple[str, httpx.Response]]:
    """Every one of ``keyed_requests(prefix)`` posted to ``path`` at once, ``body(n)`` under its
    Idempotency-Key: each one's key and response."""

    async def send(key: str, n: int) -> tuple[str, httpx.Response]:
        return key, await client.post(path, json=body(n), headers={"Idempotency-Key": key})

    return await asyncio.gather(*(send(key, n) for key, n in keyed_requests(prefix)))


def review_event(submission_id: str, version: int, status: str, **data: Any) -> Event:
    """A ``submission.reviewed`` as the publisher sends it, reviewed now."""
    from datetime import UTC, datetime

    from tests.support.events import sample

    return sample(
        "submission.reviewed",
        aggregate_id=submission_id,
        version=version,
        data={
            "submission_id": submission_id,
            "status": status,
            "public_reason": None,
            "article_url": None,
            "article_id": None,
            "reviewed_at": datetime.now(UTC).isoformat(),
            **data,
        },
    )


Mongo = AsyncMongoClient[dict[str, Any]]
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
RECEIPT_CODE = re.compile(r'<span class="code">([^<]+)</span>')  # the id, then the code


async def form_token(client: httpx.AsyncClient, path: str = "/report") -> str:
    """The signed anti-abuse token of the form on ``path``, as a browser gets it."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    match = FORM_TOKEN.search(page.text)
    assert match, page.text
    return match.group(1)


async def report_form(
    client: httpx.AsyncClient, body: dict[str, Any], **extra: str
) -> dict[str, str]:
    """The report form filled in with a ``tip()`` body as a browser sends it: its fields, the
    form's token, then ``extra`` (e.g. the honeypot ``website``)."""
    return {**multipart_fields(body), "form_token": await form_token(client), **extra}
