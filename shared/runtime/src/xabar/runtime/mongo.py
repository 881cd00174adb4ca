"""One PyMongo async client per event loop, shared by a service's repositories, and the write
helpers every repository needs on both servers (FerretDB and MongoDB answer a racing insert of
the same ``_id`` with a duplicate-key error, in a bulk write as ``writeErrors`` of code 11000).

Every service's client is built here, with the durability its answers promise: writes are
acknowledged by a majority of a replica set's members and journaled (``w="majority"``,
``j=true``, bounded by ``wtimeout``), retryable writes and reads are on (a write cut off by a
primary step-down is sent once more to the new primary, with the same transaction number, so it
is applied once), and reads go to the primary (a service reads its own writes). On FerretDB and
a standalone ``mongod`` the same settings are accepted: there is one member, so ``majority`` is
it, and PyMongo retries nothing (retryable writes need a replica set).

The driver's types are named here (``MongoClient``, ``Database``, ``Collection``), so that a
composition root or a worker can hand a collection to its repository without importing PyMongo;
``deadline(seconds)`` bounds every MongoDB call made inside it.
"""

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import pymongo
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

MongoDoc = dict[str, Any]
MongoClient: TypeAlias = AsyncMongoClient[MongoDoc]
Database: TypeAlias = AsyncDatabase[MongoDoc]
Collection: TypeAlias = AsyncCollection[MongoDoc]
DUPLICATE_KEY = 11000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class MongoDurability:
    """The write concern of a service's client (``ServiceSettings.mongo_durability``)."""

    w: int | str = "majority"
    journal: bool = True
    wtimeout_ms: int = 10_000  # past it a write answers WriteConcernError: the service's 503


def mongo_client(url: str, durability: MongoDurability | None = None) -> AsyncMongoClient[MongoDoc]:
    # FerretDB and mongo:7 alike; tz_aware so datetimes come back as UTC-aware values.
    d = durability or MongoDurability()
    return AsyncMongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        connect=False,
        w=d.w,
        journal=d.journal,
        wTimeoutMS=d.wtimeout_ms,
        retryWrites=True,
        retryReads=True,
        readPreference="primary",
    )


def deadline(seconds: float) -> AbstractContextManager[None]:
    """Every MongoDB call inside gets at most ``seconds`` (PyMongo's ``timeout``)."""
    return pymongo.timeout(seconds)


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
    "MongoDurability",
    "insert_many_ignoring_duplicates",
    "is_duplicate",
    "mongo_client",
    "upsert",
]
