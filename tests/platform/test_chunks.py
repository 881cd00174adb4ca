"""The runtime's chunk store against real FerretDB: bytes back as stored, damage detected, every
read by ``_id``, files written before it still read."""

import hashlib
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from xabar.runtime.chunks import ChunkStore, CorruptFile


@pytest.fixture
def store(mongo: AsyncMongoClient[dict[str, Any]], mongo_db_name: str) -> ChunkStore:
    db = mongo[mongo_db_name]
    return ChunkStore(db["files"], db["chunks"], chunk_bytes=1000)


async def test_a_file_of_many_chunks_reads_back_whole(store: ChunkStore) -> None:
    data = os.urandom(4500)
    stored = await store.put("f1", data, content_type="image/png", metadata={"w": 3})
    assert (stored.length, stored.sha256) == (4500, hashlib.sha256(data).hexdigest())
    assert await store.chunks.count_documents({}) == 5
    chunk = await store.chunks.find_one({"_id": "f1:4"})
    assert chunk is not None and (chunk["files_id"], chunk["n"]) == ("f1", 4)
    found = await store.get("f1")
    assert found is not None
    head, back = found
    assert back == data
    assert head.doc["content_type"] == "image/png" and head.doc["metadata"] == {"w": 3}
    assert await store.get("nothing") is None


async def test_a_retried_write_replaces_the_file(store: ChunkStore) -> None:
    await store.put("f1", b"a" * 2500)
    await store.put("f1", b"b" * 2500)  # the same request again, say after a timeout
    found = await store.get("f1")
    assert found is not None and found[1] == b"b" * 2500


async def test_damage_and_missing_chunks_are_detected(store: ChunkStore) -> None:
    await store.put("f1", b"x" * 2500)
    await store.chunks.update_one({"_id": "f1:1"}, {"$set": {"data": b"y" * 1000}})
    with pytest.raises(CorruptFile, match="digest"):
        await store.get("f1")
    await store.chunks.delete_one({"_id": "f1:2"})
    with pytest.raises(CorruptFile, match="chunk 2"):
        await store.get("f1")


async def test_delete_removes_the_document_and_every_chunk(store: ChunkStore) -> None:
    await store.put("f1", b"x" * 2500)
    await store.put("f2", b"y" * 10)
    await store.delete("f1")
    assert await store.head("f1") is None
    assert {c["_id"] for c in await store.chunks.find({}).to_list(None)} == {"f2:0"}
    await store.delete("gone", length=2500)  # its document went first: chunks by count


async def test_files_written_before_this_store_still_read(store: ChunkStore) -> None:
    data = b"old photo" * 300
    digest = hashlib.sha256(data).hexdigest()
    # ingest's attachments: size, a chunk count, stored_at; chunks of _id and data only
    await store.files.insert_one(
        {
            "_id": "a1",
            "size": len(data),
            "chunks": 2,
            "sha256": digest,
            "stored_at": datetime(2024, 1, 1, tzinfo=UTC),
            "content_type": "image/jpeg",
        }
    )
    await store.chunks.insert_many(
        [{"_id": "a1:0", "data": data[:2000]}, {"_id": "a1:1", "data": data[2000:]}]
    )
    # the publisher's media: GridFS's fields, the digest in metadata
    await store.files.insert_one(
        {
            "_id": "m1",
            "length": len(data),
            "chunkSize": 1024,
            "uploadDate": datetime.now(UTC),
            "metadata": {"sha256": digest},
        }
    )
    await store.chunks.insert_many(
        [
            {"_id": f"m1:{n}", "files_id": "m1", "n": n, "data": data[n * 1024 : (n + 1) * 1024]}
            for n in range(3)
        ]
    )
    for file_id in ("a1", "m1"):
        found = await store.get(file_id)
        assert found is not None and found[1] == data and found[0].length == len(data)
