"""Images: checked with Pillow, stored in the publisher's own GridFS bucket ``media``, served
publicly at ``/media/{media_id}``; tips' photos are copied from ingest.

The bucket has GridFS's layout (``media.files``: ``_id``, ``length``, ``chunkSize``,
``uploadDate``, ``filename``, ``metadata``; ``media.chunks``: ``files_id``, ``n``, ``data``), so
any GridFS tool reads it. One difference makes it fast on FerretDB: a chunk's ``_id`` is
``"<media_id>:<n>"`` and reads fetch chunks by ``_id``. (The drivers' GridFS reads chunks with
``find({"files_id": ...}).sort("n")``, a scan of every chunk of every image on FerretDB's SQLite
backend: 0.24 s per read with only 10 MB stored, growing with the bucket.) Chunks are written
first and the file document last, so a medium exists only once all its bytes do; a reader checks
the SHA-256 of what it reassembled.
"""

import asyncio
import hashlib
import io
import logging
import uuid
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from bson import Binary
from PIL import Image, UnidentifiedImageError

from xabar.publisher.errors import BadMedia, MediaTooLarge, NotFound, UpstreamUnavailable
from xabar.publisher.repositories.collections import Collections, upsert
from xabar.runtime.auth import Principal, Role, TokenIssuer

log = logging.getLogger("xabar.publisher.media")

CHUNK_BYTES = 255 * 1024  # GridFS's default chunk size
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MEDIA_NAMESPACE = uuid.UUID("6f1b1a52-3c1e-4d0a-9d1c-7a1e0c3b5a11")
SERVICE_PRINCIPAL = Principal("xabar-publisher", "Xabar publisher", Role.EDITOR)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    content_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class StoredMedia:
    media_id: str
    content_type: str
    size: int
    width: int
    height: int
    sha256: str
    uploaded_at: datetime


def media_id_for(key: str) -> str:
    """A stable media id for something copied or imported (a retry stores nothing twice)."""
    return uuid.uuid5(MEDIA_NAMESPACE, key).hex


def inspect_image(data: bytes, *, max_bytes: int, max_pixels: int) -> ImageInfo:
    """The format and size of an image, read from its own bytes (the declared type is ignored).
    CPU-bound for large images: call it in a worker thread."""
    if len(data) > max_bytes:
        raise MediaTooLarge(f"изображение — {len(data)} байт, а можно не больше {max_bytes}")
    if not data:
        raise BadMedia("изображение пустое")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as img:
                fmt = img.format or ""
                width, height = img.size
                if width * height > max_pixels:
                    raise MediaTooLarge(
                        f"в изображении {width}×{height} точек, а можно не больше {max_pixels}"
                    )
                img.verify()
    except MediaTooLarge:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaTooLarge(f"в изображении больше {max_pixels} точек") from exc
    except UnidentifiedImageError as exc:
        raise BadMedia("это не изображение JPEG, PNG или WebP") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise BadMedia("изображение повреждено") from exc
    return ImageInfo(FORMATS[fmt], width, height)


class MediaStore:
    """GridFS-shaped storage with a small in-process cache of recently served images (a medium
    never changes once stored, and on FerretDB each chunk read scans the chunks table)."""

    def __init__(
        self,
        collections: Collections,
        *,
        max_bytes: int,
        max_pixels: int,
        cache_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.files = collections.media_files
        self.chunks = collections.media_chunks
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[str, tuple[StoredMedia, bytes]] = OrderedDict()
        self._cached = 0

    async def put(
        self, data: bytes, *, media_id: str | None = None, filename: str = "", **meta: Any
    ) -> StoredMedia:
        """Check and store an image; with a given ``media_id`` that exists already, the stored
        one is returned unchanged."""
        if media_id is not None:
            existing = await self.get_meta(media_id)
            if existing is not None:
                return existing
        info = await asyncio.to_thread(
            inspect_image, data, max_bytes=self.max_bytes, max_pixels=self.max_pixels
        )
        media_id = media_id or uuid.uuid4().hex
        digest = hashlib.sha256(data).hexdigest()
        now = datetime.now(UTC)
        pieces = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]
        for n, piece in enumerate(pieces):
            chunk = {"_id": f"{media_id}:{n}", "files_id": media_id, "n": n, "data": Binary(piece)}
            await upsert(
                lambda chunk=chunk: self.chunks.replace_one(  # type: ignore[misc]
                    {"_id": chunk["_id"]}, chunk, upsert=True
                )
            )
        file_doc = {
            "_id": media_id,
            "length": len(data),
            "chunkSize": CHUNK_BYTES,
            "uploadDate": now,
            "filename": filename or media_id,
            "metadata": {
                "content_type": info.content_type,
                "width": info.width,
                "height": info.height,
                "sha256": digest,
                **meta,
            },
        }
        await upsert(lambda: self.files.replace_one({"_id": media_id}, file_doc, upsert=True))
        return StoredMedia(
            media_id, info.content_type, len(data), info.width, info.height, digest, now
        )

    async def get_meta(self, media_id: str) -> StoredMedia | None:
        doc = await self.files.find_one({"_id": media_id})
        if doc is None:
            return None
        meta = doc.get("metadata") or {}
        return StoredMedia(
            media_id,
            meta["content_type"],
            int(doc["length"]),
            int(meta["width"]),
            int(meta["height"]),
            meta["sha256"],
            doc["uploadDate"],
        )

    async def get(self, media_id: str) -> tuple[StoredMedia, bytes]:
        hit = self._cache.get(media_id)
        if hit is not None:
            self._cache.move_to_end(media_id)
            return hit
        stored, data = await self._read(media_id)
        if len(data) <= self.cache_bytes // 4:
            self._cache[media_id] = (stored, data)
            self._cached += len(data)
            while self._cached > self.cache_bytes:
                _, (_, old) = self._cache.popitem(last=False)
                self._cached -= len(old)
        return stored, data

    async def _read(self, media_id: str) -> tuple[StoredMedia, bytes]:
        stored = await self.get_meta(media_id)
        if stored is None:
            raise NotFound("no such media")
        count = -(-stored.size // CHUNK_BYTES)
        parts = []
        for n in range(count):
            chunk = await self.chunks.find_one({"_id": f"{media_id}:{n}"})
            if chunk is None:
                raise NotFound(f"media {media_id} misses chunk {n}")
            parts.append(bytes(chunk["data"]))
        data = b"".join(parts)
        if hashlib.sha256(data).hexdigest() != stored.sha256:
            raise NotFound(f"media {media_id} is damaged")
        return stored, data


class IngestClient:
    """Fetches a tip's photo from ingest with a short-lived editor token minted here."""

    def __init__(
        self, base_url: str, codec: TokenIssuer, *, timeout_s: float, max_bytes: int
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.codec = codec
        self.max_bytes = max_bytes
        self.client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def attachment(self, attachment_id: str) -> bytes | None:
        """The photo's bytes; None when ingest has no such attachment (404)."""
        token = self.codec.issue(SERVICE_PRINCIPAL)
        url = f"{self.base_url}/api/v1/attachments/{attachment_id}"
        try:
            async with self.client.stream(
                "GET", url, headers={"Authorization": f"Bearer {token}"}
            ) as resp:
                if resp.status_code == 404:
                    return None
                if resp.status_code != 200:
                    raise UpstreamUnavailable(
                        f"приём сообщений ответил {resp.status_code} на запрос фото {attachment_id}"
                    )
                body = bytearray()
                async for chunk in resp.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > self.max_bytes:
                        raise MediaTooLarge(f"фото {attachment_id} больше допустимого размера")
                return bytes(body)
        except httpx.HTTPError as exc:
            log.warning("ingest not reached", extra={"error": repr(exc), "url": url})
            raise UpstreamUnavailable("приём сообщений (ingest) не отвечает") from exc
