"""One PyMongo async client per event loop, shared by a service's repositories."""

from typing import Any

from pymongo import AsyncMongoClient

MongoDoc = dict[str, Any]


def mongo_client(url: str) -> AsyncMongoClient[MongoDoc]:
    # FerretDB and mongo:7 alike; tz_aware so datetimes come back as UTC-aware values.
    return AsyncMongoClient(url, tz_aware=True, serverSelectionTimeoutMS=5000, connect=False)
