"""One PyMongo async client per event loop, and the write helpers every repository needs on
both servers (FerretDB and MongoDB answer a racing insert of the same ``_id`` with a
duplicate-key error, in a bulk write as ``writeErrors`` of code 11000)."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

MongoDoc = dict[str, Any]
DUPLICATE_KEY = 11000
T = TypeVar("T")


def mongo_client(url: str) -> AsyncMongoClient[MongoDoc]:
    # FerretDB and mongo:7 alike; tz_aware so datetimes come back as UTC-aware values.
    return AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000, connect=False)


def is_duplicate(exc: Exception) -> bool:
    """A duplicate-key error, or a bulk write whose every error is one."""
    if isinstance(exc, DuplicateKeyError):
        return True
    if isinstance(exc, BulkWriteError):
        errors = exc.details.get("writeErrors", [])
        return bool(errors) and all(e.get("code") == DUPLICATE_KEY for e in errors)
    return False


async def upsert(op: Callable[[], Awaitable[T]], attempts: int = 3) -> T:
    """Run an upsert, again if a concurrent upsert of the same ``_id`` won the insert (the loser
    gets a duplicate-key error; the retry updates)."""
    for attempt in range(attempts):
        try:
            return await op()
        except DuplicateKeyError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


async def insert_many_ignoring_duplicates(
    coll: AsyncCollection[MongoDoc], docs: list[MongoDoc]
) -> set[Any]:
    """Insert ``docs`` (unordered); returns the ``_id`` of those that existed already."""
    if not docs:
        return set()
    try:
        await coll.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        if not is_duplicate(exc):
            raise
        return {docs[e["index"]]["_id"] for e in exc.details.get("writeErrors", [])}
    return set()


__all__ = [
    "DUPLICATE_KEY",
    "MongoDoc",
    "insert_many_ignoring_duplicates",
    "is_duplicate",
    "mongo_client",
    "upsert",
]
