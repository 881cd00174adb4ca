"""Apps run by a test: a lifespan entered and left by one task of its own (as FastStream's broker
needs), and an app served over real loopback HTTP by uvicorn."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette

from xabar.runtime.localinfra import free_port


@asynccontextmanager
async def started(app: Starlette) -> AsyncIterator[None]:
    """The app's lifespan, entered and left by one task of its own."""
    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def hold() -> None:
        try:
            async with app.router.lifespan_context(app):
                ready.set_result(None)
                await done.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    task = asyncio.create_task(hold())
    try:
        await ready
        yield
    finally:
        done.set()
        await task


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
