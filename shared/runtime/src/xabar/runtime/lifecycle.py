"""A service's parts that run in the background (relays, stream workers, loops): started one
after another in the order given, and stopped one after another in the order given (pass the
reverse to stop them last-started first)."""

from collections.abc import Iterable
from typing import Protocol


class Part(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def start_each(parts: Iterable[Part]) -> None:
    """Start each of ``parts`` in turn; one that fails leaves the rest unstarted."""
    for part in parts:
        await part.start()


async def stop_each(parts: Iterable[Part]) -> None:
    """Stop each of ``parts`` in turn, each once the one before it has stopped."""
    for part in parts:
        await part.stop()
