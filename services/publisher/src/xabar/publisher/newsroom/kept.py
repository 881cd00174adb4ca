"""A value kept for a few seconds in the process, for what a page shows that may lag that much
(the news of the day on the dashboard): one read a few seconds instead of one a request."""

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Kept(Generic[T]):
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._value: T | None = None
        self._at = float("-inf")

    async def get(self, make: Callable[[], Awaitable[T]]) -> T:
        if self._value is None or self.clock() - self._at > self.ttl_s:
            self._value, self._at = await make(), self.clock()
        return self._value
