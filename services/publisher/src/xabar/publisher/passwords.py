"""Password hashes: argon2id (argon2-cffi), bounded in memory and in concurrency.

Each hash or verification takes ``memory_kib`` of memory in a worker thread for its duration, so
at most ``concurrency`` run at once (a semaphore; the rest wait their turn): eight concurrent
failed logins once took the publisher from 111 to 495 MB with argon2-cffi's defaults (64 MiB
each, unbounded). The defaults here are OWASP's argon2id recommendation (19 MiB, 2 passes, 1
lane); a hash made with other parameters still verifies, and is made again with these at the next
successful login (``needs_rehash``).
"""

import asyncio
import os
import uuid
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from prometheus_client import Gauge

T = TypeVar("T")
HASHING = Gauge("xabar_publisher_password_hashing", "argon2 hashes or verifications running now")


class Passwords:
    def __init__(
        self,
        *,
        memory_kib: int = 19_456,
        time_cost: int = 2,
        parallelism: int = 1,
        concurrency: int | None = None,
    ) -> None:
        self.hasher = PasswordHasher(
            memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism
        )
        self.concurrency = concurrency or os.cpu_count() or 1
        self._slots = asyncio.Semaphore(self.concurrency)
        self.running = 0
        self.peak = 0  # the most that ever ran at once (at most ``concurrency``)
        # Verified against when the e-mail is unknown, so both cases cost the same time.
        self.dummy_hash = self.hasher.hash(uuid.uuid4().hex)

    async def hash(self, password: str) -> str:
        return await self._bounded(self.hasher.hash, password)

    async def verify(self, stored: str, password: str) -> bool:
        return await self._bounded(self._verify, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return bool(self.hasher.verify(stored, password))
        except (VerificationError, InvalidHashError):
            return False

    async def _bounded(self, fn: Callable[..., T], *args: str) -> T:
        async with self._slots:
            self.running += 1
            self.peak = max(self.peak, self.running)
            HASHING.inc()
            try:
                return await asyncio.to_thread(fn, *args)
            finally:
                self.running -= 1
                HASHING.dec()
