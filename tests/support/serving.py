"""Apps run by a test: a lifespan entered and left by one task of its own (as FastStream's broker
needs), and an app served over real loopback HTTP by uvicorn."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

import uvicorn
from starlette.applications import Starlette

from xabar.runtime.localinfra import free_port

T = TypeVar("T")


@asynccontextmanager
async def in_own_task(context: AbstractAsyncContextManager[T]) -> AsyncIterator[T]:
    """``context`` entered and left by one task of its own: FastStream's broker must be left by
    the task that entered it, and a fixture's setup and teardown may run in different tasks."""
    ready: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def hold() -> None:
        try:
            async with context as value:
                ready.set_result(value)
                await done.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    task = asyncio.create_task(hold())
    try:
        yield await ready
    finally:
        done.set()
        await task


def started(app: Starlette) -> AbstractAsyncContextManager[None]:
    """The app's lifespan, in a task of its own."""
    return in_own_task(app.router.lifespan_context(app))


@asynccontextmanager
async def over_http(app: Starlette, port: int | None = None) -> AsyncIterator[str]:
    """``app`` (its lifespan run by the caller) served on a loopback port; yields its URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="off", ws="none"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
