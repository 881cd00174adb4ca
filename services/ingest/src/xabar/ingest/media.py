"""Photo storage in ingest's own MongoDB database: the runtime's ``ChunkStore`` (chunks read by
``_id`` only, the metadata written last, the digest checked on read) over ``attachments`` and
``attachment_chunks``, 1 MiB a chunk."""

from dataclasses import dataclass
from datetime import datetime

from xabar.ingest.photos import CleanPhoto
from xabar.runtime.chunks import ChunkStore
from xabar.runtime.chunks import CorruptFile as CorruptAttachment
from xabar.runtime.mongo import Database

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    attachment_id: str
    content_type: str
    size: int
    width: int
    height: int
    sha256: str
    data: bytes


class AttachmentStore:
    def __init__(self, db: Database) -> None:
        self.store = ChunkStore(db["attachments"], db["attachment_chunks"], chunk_bytes=CHUNK_BYTES)

    async def put(
        self, attachment_id: str, submission_id: str, photo: CleanPhoto, stored_at: datetime
    ) -> None:
        await self.store.put(
            attachment_id,
            photo.data,
            submission_id=submission_id,
            content_type=photo.content_type,
            width=photo.width,
            height=photo.height,
            stored_at=stored_at,
        )

    async def get(self, attachment_id: str) -> StoredPhoto | None:
        """The photo, checked against its digest (``CorruptAttachment`` if it is damaged)."""
        found = await self.store.get(attachment_id)
        if found is None:
            return None
        stored, data = found
        return StoredPhoto(
            attachment_id=attachment_id,
            content_type=str(stored.doc["content_type"]),
            size=stored.length,
            width=int(stored.doc["width"]),
            height=int(stored.doc["height"]),
            sha256=stored.sha256,
            data=data,
        )

    async def delete(self, attachment_id: str, chunks: int) -> None:
        """Remove an attachment that lost an idempotency race (metadata first, then bytes)."""
        await self.store.delete(attachment_id, chunks * CHUNK_BYTES)

    @staticmethod
    def chunk_count(photo: CleanPhoto) -> int:
        return max(1, -(-len(photo.data) // CHUNK_BYTES))


__all__ = ["AttachmentStore", "CorruptAttachment", "StoredPhoto"]
