"""Handles on the real servers a test session runs against."""

from dataclasses import dataclass

from xabar.runtime.localinfra import Server


@dataclass
class Infra:
    redis_base: str  # redis://127.0.0.1:PORT (no database number)
    mongo_url: str
    redis_server: Server | None  # None when the servers were given by REDIS_URL/MONGODB_URL
    mongo_server: Server | None
    databases: int
