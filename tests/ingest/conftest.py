"""Fixtures of the ingest tests: settings against the session's real Redis and FerretDB, the app
in-process behind httpx, and helpers to read the submissions stream and make photos."""

import asyncio
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from PIL import Image
from starlette.applications import Starlette

from tests.conftest import TokenKeys
from tests.support.infra import Infra
from xabar.contracts import SUBMISSIONS_STREAM, Event, parse_event
from xabar.ingest.app import create_app
from xabar.ingest.config import IngestSettings

ADDRESS_SALT = "test-address-salt-0123456789abcdef0123456789"

MakeSettings = Callable[..., IngestSettings]


@pytest.fixture
def make_settings(
    infra: Infra, redis_url: str, mongo_db_name: str, token_keys: TokenKeys
) -> MakeSettings:
    def make(**overrides: Any) -> IngestSettings:
        values: dict[str, Any] = {
            "redis_url": redis_url,
            "mongodb_url": infra.mongo_url,
            "mongodb_db": mongo_db_name,
            "token_public_key": token_keys.public,
            "address_salt": ADDRESS_SALT,
            "consumer_name": "ingest-test",
            "claim_idle_ms": 200,
            "relay_sweep_s": 0.5,
            "form_min_fill_s": 0.0,
            "log_json": False,
        }
        values.update(overrides)
        return IngestSettings(**values)

    return make


@pytest.fixture
def settings(make_settings: MakeSettings) -> IngestSettings:
    return make_settings()


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


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Wait until ``check()`` holds (a deadline against hanging, not a speed assertion)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        await asyncio.sleep(0.05)


INTAKE = "xabar:ingest:intake"


async def moved(redis: aioredis.Redis, timeout: float = 60.0) -> None:
    """Wait until the mover has taken every accepted submission out of the Redis intake: its
    document is in MongoDB and its event published (a 202 means accepted durably in the intake;
    the document reaches MongoDB right after)."""

    async def empty() -> bool:
        return int(await redis.xlen(INTAKE)) == 0

    await eventually(empty, timeout=timeout, what="the intake to be moved to MongoDB")


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
