"""The media library: editors' uploads (re-encoded and stored by ``media.MediaStore``, with a
caption and a credit to reuse them with), recorded in the audit log; the list of every image
stored (``repositories.library``); and the images served publicly at ``/media/{media_id}``."""

from typing import Any

from xabar.publisher.domain import Page
from xabar.publisher.errors import NotFound
from xabar.publisher.media import MediaStore, StoredMedia
from xabar.publisher.repositories.audit import AuditLog
from xabar.runtime.auth import Principal


class MediaLibrary:
    def __init__(self, media: MediaStore, audit: AuditLog) -> None:
        self.media = media
        self.audit = audit

    async def upload(
        self, by: Principal, data: bytes, *, alt: str | None = None, credit: str | None = None
    ) -> StoredMedia:
        stored = await self.media.put(
            data, source="upload", uploaded_by=by.editor_id, alt=alt or None, credit=credit or None
        )
        await self.audit.record(by, "media.upload", "media", stored.media_id, size=stored.size)
        return stored

    async def describe(
        self, by: Principal, media_id: str, *, alt: str | None, credit: str | None
    ) -> None:
        await self.media.describe(media_id, alt=alt or None, credit=credit or None)
        await self.audit.record(by, "media.describe", "media", media_id)

    async def browse(self, page: int, per_page: int) -> Page[dict[str, Any]]:
        """The library, newest first."""
        if self.media.library is None:
            return Page([], 0, page, per_page)
        return await self.media.library.page(page, per_page)

    async def item(self, media_id: str) -> dict[str, Any]:
        """One image of the library (``NotFound`` if there is none)."""
        found = None if self.media.library is None else await self.media.library.get(media_id)
        if found is None:
            raise NotFound("такого изображения в медиатеке нет")
        return found

    async def image(self, media_id: str) -> tuple[StoredMedia, bytes]:
        """A stored image and its bytes (``NotFound`` if there is none)."""
        return await self.media.get(media_id)
