"""One PyMongo async client per event loop, shared by a service's repositories.

Every service's client is built here, with the durability its answers promise: writes are
acknowledged by a majority of a replica set's members and journaled (``w="majority"``,
``j=true``, bounded by ``wtimeout``), retryable writes and reads are on (a write cut off by a
primary step-down is sent once more to the new primary, with the same transaction number, so it
is applied once), and reads go to the primary (a service reads its own writes). On FerretDB and
a standalone ``mongod`` the same settings are accepted: there is one member, so ``majority`` is
it, and PyMongo retries nothing (retryable writes need a replica set).
"""

from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient

MongoDoc = dict[str, Any]


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
