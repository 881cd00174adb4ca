"""Waiting for something the system does in the background: a deadline against hanging, not a
claim about speed."""

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[bool] | bool],
    timeout: float = 30.0,
    what: str = "condition",
    every: float = 0.02,
) -> None:
    """Return once ``check()`` (sync or async) holds; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        await asyncio.sleep(every)


def until(what: str, probe: Callable[[], T | None], timeout: float = 60, every: float = 0.3) -> T:
    """What ``probe()`` (sync, e.g. an HTTP GET to a service process) returns once it is not
    None; AssertionError after ``timeout``. For tests that drive processes from sync code."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout} s")
