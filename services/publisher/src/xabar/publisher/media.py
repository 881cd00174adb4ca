"""Images: checked with Pillow, stored in the publisher's own bucket ``media`` (the runtime's
``ChunkStore``: chunks read by ``_id`` only, GridFS's field names, the file document written last,
the digest checked on read), served publicly at ``/media/{media_id}``; tips' photos are copied
from ingest."""

import asyncio
import hashlib
import io
import logging
import uuid
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from PIL import Image, UnidentifiedImageError

from xabar.publisher.errors import BadMedia, MediaTooLarge, NotFound, UpstreamUnavailable
from xabar.publisher.repositories.collections import Collections
from xabar.runtime.auth import Principal, Role, TokenCodec
from xabar.runtime.chunks import ChunkStore, CorruptFile, StoredFile

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
    """The bucket, with a small in-process cache of recently served images (a medium never
    changes once stored)."""

    def __init__(
        self,
        collections: Collections,
        *,
        max_bytes: int,
        max_pixels: int,
        cache_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.store = ChunkStore(
            collections.media_files, collections.media_chunks, chunk_bytes=CHUNK_BYTES
        )
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
        metadata = {
            "content_type": info.content_type,
            "width": info.width,
            "height": info.height,
            "sha256": digest,
            **meta,
        }
        stored = await self.store.put(
            media_id, data, filename=filename or media_id, metadata=metadata
        )
        return StoredMedia(
            media_id,
            info.content_type,
            len(data),
            info.width,
            info.height,
            digest,
            stored.uploaded_at,
        )

    async def get_meta(self, media_id: str) -> StoredMedia | None:
        stored = await self.store.head(media_id)
        return None if stored is None else _media(stored)

    async def get(self, media_id: str) -> tuple[StoredMedia, bytes]:
        hit = self._cache.get(media_id)
        if hit is not None:
            self._cache.move_to_end(media_id)
            return hit
        try:
            found = await self.store.get(media_id)
        except CorruptFile as exc:
            log.error("a stored image is damaged", extra={"media_id": media_id, "error": str(exc)})
            raise NotFound("no such media") from exc
        if found is None:
            raise NotFound("no such media")
        stored, data = _media(found[0]), found[1]
        if len(data) <= self.cache_bytes // 4:
            self._cache[media_id] = (stored, data)
            self._cached += len(data)
            while self._cached > self.cache_bytes:
                _, (_, old) = self._cache.popitem(last=False)
                self._cached -= len(old)
        return stored, data


def _media(stored: StoredFile) -> StoredMedia:
    meta = stored.doc.get("metadata") or {}
    return StoredMedia(
        stored.file_id,
        meta["content_type"],
        stored.length,
        int(meta["width"]),
        int(meta["height"]),
        stored.sha256,
        stored.uploaded_at,
    )


class IngestClient:
    """Fetches a tip's photo from ingest with a short-lived editor token minted here."""

    def __init__(
        self, base_url: str, codec: TokenCodec, *, timeout_s: float, max_bytes: int
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
