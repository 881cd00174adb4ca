"""Images: re-encoded without metadata, with their responsive sizes (``images``), stored in the
publisher's own bucket ``media`` (the runtime's ``ChunkStore``: chunks read by ``_id`` only,
GridFS's field names, the file document written last, the digest checked on read), served publicly
at ``/media/{media_id}`` and each size at ``/media/{media_id}/{width}.{webp|jpg}``; tips' photos
are copied from ingest.

Each size is a file of its own in the bucket (``_id`` = ``"<media_id>.<width>.<ext>"``); the
image's file document lists them in ``metadata.variants`` and is written after them, so an image
exists only once all its sizes do.
"""

import logging
import re
import uuid
from collections import OrderedDict
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import httpx

from xabar.publisher.errors import MediaTooLarge, NotFound, UpstreamUnavailable
from xabar.publisher.images import EXTENSIONS, Encoded, ImageWork
from xabar.publisher.repositories.collections import Collections
from xabar.publisher.repositories.library import LibraryIndex
from xabar.runtime.auth import Principal, Role, TokenIssuer
from xabar.runtime.chunks import ChunkStore, CorruptFile, StoredFile, stored_file

log = logging.getLogger("xabar.publisher.media")

CHUNK_BYTES = 255 * 1024  # GridFS's default chunk size
MEDIA_NAMESPACE = uuid.UUID("6f1b1a52-3c1e-4d0a-9d1c-7a1e0c3b5a11")
SERVICE_PRINCIPAL = Principal("xabar-publisher", "Xabar publisher", Role.EDITOR)
VARIANT_NAME = re.compile(r"^([0-9]{1,5})\.(webp|jpg)$")
VARIANT_EXTENSIONS = {"webp": "image/webp", "jpg": "image/jpeg"}


@dataclass(frozen=True, slots=True)
class Variant:
    """One size of an image, as stored beside it."""

    width: int
    height: int
    media_type: str

    @property
    def name(self) -> str:
        """Its name under the image's URL: ``960.webp``."""
        return f"{self.width}.{EXTENSIONS[self.media_type]}"


@dataclass(frozen=True, slots=True)
class StoredMedia:
    media_id: str
    content_type: str
    size: int
    width: int
    height: int
    sha256: str
    uploaded_at: datetime
    variants: tuple[Variant, ...] = ()

    def largest(self, media_type: str = "image/jpeg") -> Variant | None:
        of_type = [v for v in self.variants if v.media_type == media_type]
        return max(of_type, key=lambda v: v.width) if of_type else None


def media_id_for(key: str) -> str:
    """A stable media id for something copied or imported (a retry stores nothing twice)."""
    return uuid.uuid5(MEDIA_NAMESPACE, key).hex


def variant_file_id(media_id: str, name: str) -> str:
    """The file of the size ``name`` (``960.webp``) of an image."""
    return f"{media_id}.{name}"


def variant_of_name(name: str) -> tuple[int, str] | None:
    """The width and media type a size's name stands for, or None if it names none."""
    match = VARIANT_NAME.match(name)
    if match is None:
        return None
    return int(match.group(1)), VARIANT_EXTENSIONS[match.group(2)]


class MediaStore:
    """The bucket, with a small in-process cache of recently served images (a medium never
    changes once stored)."""

    def __init__(
        self,
        collections: Collections,
        work: ImageWork,
        *,
        library: LibraryIndex | None = None,
        cache_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self.store = ChunkStore(
            collections.media_files, collections.media_chunks, chunk_bytes=CHUNK_BYTES
        )
        self.work = work
        self.library = library
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[str, tuple[StoredMedia, bytes]] = OrderedDict()
        self._cached = 0

    async def put(
        self, data: bytes, *, media_id: str | None = None, filename: str = "", **meta: Any
    ) -> StoredMedia:
        """Re-encode and store an image with its sizes; with a given ``media_id`` that exists
        already, the stored one is returned unchanged."""
        if media_id is not None:
            existing = await self.get_meta(media_id)
            if existing is not None:
                return existing
        prepared = await self.work.prepare(data)
        media_id = media_id or uuid.uuid4().hex
        variants = []
        for encoded in prepared.variants:
            variant = Variant(encoded.width, encoded.height, encoded.media_type)
            name = variant_file_id(media_id, variant.name)
            await self._write(name, encoded, filename=name, metadata={"variant_of": media_id})
            variants.append(variant)
        meta["variants"] = [asdict(v) for v in variants]
        stored = await self._write(
            media_id, prepared.original, filename=filename or media_id, metadata=meta
        )
        stored = replace(stored, variants=tuple(variants))
        if self.library is not None:
            await self.library.put_many([library_item(stored, meta)])
        return stored

    async def describe(self, media_id: str, *, alt: str | None, credit: str | None) -> None:
        """Set an image's caption and credit (what the library offers when it is reused)."""
        changes = {"metadata.alt": alt, "metadata.credit": credit}
        result = await self.store.files.update_one({"_id": media_id}, {"$set": changes})
        if result.matched_count != 1:
            raise NotFound("такого изображения нет")
        stored = await self.store.head(media_id)
        if stored is not None and self.library is not None:
            await self.library.put_many([library_item(_media(stored), stored.doc["metadata"])])

    async def rebuild_library(self) -> int:
        """Put every image of the bucket (not its sizes) in the library's list (at start)."""
        if self.library is None:
            return 0
        items = []
        async for doc in self.store.files.find(
            {}, {"length": 1, "uploadDate": 1, "sha256": 1, "metadata": 1}
        ):
            meta = doc.get("metadata") or {}
            if "variant_of" not in meta and "content_type" in meta:
                items.append(library_item(_media(stored_file(doc)), meta))
        await self.library.put_many(items)
        return len(items)

    async def _write(
        self, file_id: str, image: Encoded, *, filename: str, metadata: dict[str, Any]
    ) -> StoredMedia:
        """One file of the bucket: its chunks first, its file document last."""
        stored = await self.store.put(
            file_id,
            image.data,
            filename=filename,
            metadata={
                "content_type": image.media_type,
                "width": image.width,
                "height": image.height,
                **metadata,
            },
        )
        return _media(stored)

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
        tuple(Variant(**v) for v in meta.get("variants") or ()),
    )


def library_item(stored: StoredMedia, meta: dict[str, Any]) -> dict[str, Any]:
    """The media library's summary of an image."""
    small = min(
        stored.variants, key=lambda v: (v.width, v.media_type != "image/jpeg"), default=None
    )
    return {
        "media_id": stored.media_id,
        "width": stored.width,
        "height": stored.height,
        "size": stored.size,
        "content_type": stored.content_type,
        "thumb": small.name if small is not None else None,
        "alt": meta.get("alt"),
        "credit": meta.get("credit"),
        "source": meta.get("source"),
        "uploaded_by": meta.get("uploaded_by"),
        "uploaded_at": stored.uploaded_at,
    }


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
