"""Waiting for something the system does in the background: a deadline against hanging, not a
claim about speed."""

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable


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
