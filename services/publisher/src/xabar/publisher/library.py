"""The media library: editors' uploads (checked and stored by ``media.MediaStore``), recorded in
the audit log, and the images served publicly at ``/media/{media_id}``."""

from xabar.publisher.media import MediaStore, StoredMedia
from xabar.publisher.repositories.audit import AuditLog
from xabar.runtime.auth import Principal


class MediaLibrary:
    def __init__(self, media: MediaStore, audit: AuditLog) -> None:
        self.media = media
        self.audit = audit

    async def upload(self, by: Principal, data: bytes) -> StoredMedia:
        stored = await self.media.put(data, source="upload", uploaded_by=by.editor_id)
        await self.audit.record(by, "media.upload", "media", stored.media_id, size=stored.size)
        return stored

    async def image(self, media_id: str) -> tuple[StoredMedia, bytes]:
        """A stored image and its bytes (``NotFound`` if there is none)."""
        return await self.media.get(media_id)
