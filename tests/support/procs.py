"""Run a service as a real process (for kill -9 and restart tests)."""

import asyncio
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sized
from pathlib import Path
from typing import Any, TypeVar

import httpx

from xabar.runtime.localinfra import free_port, kill_process, stop_process


class ServiceProcess:
    def __init__(self, module: str, env: Mapping[str, str], port: int, log_path: Path) -> None:
        self.module = module
        self.env = dict(env)
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.metrics_port = 0  # 0: none of its own

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> "ServiceProcess":
        with open(self.log_path, "ab") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.module} exited early:\n{self.log_path.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(
            f"{self.module} not ready in {timeout}s:\n{self.log_path.read_text()[-3000:]}"
        )

    def kill9(self) -> None:
        assert self.proc is not None
        kill_process(self.proc)

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        stop_process(self.proc, timeout)
        return self.proc.returncode


def service_process(
    module: str, env: Mapping[str, str], tmp: Path, port_env: str
) -> ServiceProcess:
    """A not-yet-started process of ``module`` on a free port (``port_env`` names its setting,
    ``XABAR_X_PORT``), with its operators' metrics listener on another free port (``.metrics``)
    unless ``env`` chooses one."""
    port = free_port()
    metrics_env = port_env.removesuffix("PORT") + "METRICS_PORT"
    chosen = {port_env: str(port), metrics_env: env.get(metrics_env) or str(free_port())}
    proc = ServiceProcess(module, {**env, **chosen}, port, tmp / f"{module}.log")
    proc.metrics_port = int(chosen[metrics_env])
    return proc


T = TypeVar("T")


async def killed_under_load(
    proc: ServiceProcess,
    load: Iterable[Coroutine[Any, Any, T]],
    acknowledged: Sized,
    stop: asyncio.Event,
    *,
    each_side: int,
    poll_s: float,
    timeout: float,
) -> list[T]:
    """Run ``load`` (clients of ``proc`` that go on until ``stop`` is set) and meanwhile, once
    ``each_side`` requests are ``acknowledged``, kill -9 ``proc`` and start it again; once
    ``each_side`` more are, set ``stop``. All of it within ``timeout`` seconds; what each client
    of ``load`` returned."""

    async def chaos() -> None:
        while len(acknowledged) < each_side:
            await asyncio.sleep(poll_s)
        proc.kill9()
        killed_at = len(acknowledged)
        await asyncio.to_thread(proc.start)
        while len(acknowledged) < killed_at + each_side:
            await asyncio.sleep(poll_s)
        stop.set()

    async def clients() -> list[T]:
        return list(await asyncio.gather(*load))

    _, returned = await asyncio.wait_for(asyncio.gather(chaos(), clients()), timeout)
    return returned


async def sending(
    url: str, stop: asyncio.Event, send: Callable[[httpx.AsyncClient, int], Awaitable[bool]]
) -> int:
    """A client of ``url`` that calls ``send(client, i)`` for i = 0, 1, ... until ``stop`` is
    set: how many of its requests failed (no answer, then a pause; or ``send`` saying it was
    not acknowledged)."""
    failures = 0
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        for i in itertools.count():
            if stop.is_set():
                break
            try:
                acknowledged = await send(client, i)
            except httpx.HTTPError:
                failures += 1
                await asyncio.sleep(0.05)
                continue
            failures += not acknowledged
    return failures
