"""Fixtures of the newsroom's tests: the publisher in-process (the API and the newsroom) against
the real Redis and FerretDB, editors of every role, and a client that logs in through the form;
the services as processes for the browser tests (``processes``)."""

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import TokenKeys
from tests.publisher.conftest import Harness, SettingsFactory, running_in_task
from tests.publisher.newsroom.processes import PASSWORD, Processes, running
from tests.support.infra import Infra
from tests.support.procs import ServiceProcess
from xabar.runtime.auth import Role

ORIGIN = "http://publisher.test"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def submit(
    client: httpx.AsyncClient, path: str, page: httpx.Response, **fields: str
) -> httpx.Response:
    """The form of ``page`` sent to ``path`` as a browser would: its CSRF token, our Origin."""
    return await client.post(
        path, data={"csrf": csrf_of(page.text), **fields}, headers={"Origin": ORIGIN}
    )


@dataclass
class Newsroom:
    h: Harness
    base: str = ""

    @property
    def client(self) -> httpx.AsyncClient:
        return self.h.client

    async def editor(self, role: Role = Role.EDITOR, email: str | None = None) -> str:
        """An account of ``role``; its e-mail."""
        email = email or f"{role.value}@xabar.test"
        await self.h.parts.editors.create(
            email=email, name=f"Редактор {role.value}", role=role, password=PASSWORD
        )
        return email

    def fresh_client(self) -> httpx.AsyncClient:
        """Another browser: no cookies of the first."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.h.app), base_url="http://publisher.test"
        )

    async def login(
        self,
        email: str,
        password: str = PASSWORD,
        next_path: str = "",
        client: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        """The login form, filled in and sent as a browser would (Origin and all)."""
        client = client or self.client
        page = await client.get(f"{self.base}/login")
        assert page.status_code == 200, page.text
        return await client.post(
            f"{self.base}/login",
            data={
                "csrf": csrf_of(page.text),
                "email": email,
                "password": password,
                "next": next_path,
            },
            headers={"Origin": ORIGIN},
        )

    async def csrf(self, path: str = "/", client: httpx.AsyncClient | None = None) -> str:
        page = await (client or self.client).get(f"{self.base}{path}")
        assert page.status_code == 200, page.text
        return csrf_of(page.text)


@pytest.fixture
async def newsroom(make_settings: SettingsFactory) -> AsyncIterator[Newsroom]:
    async with running_in_task(make_settings()) as h:
        yield Newsroom(h)


@pytest.fixture
def processes(
    make_settings: SettingsFactory,
    infra: Infra,
    redis_url: str,
    mongo_db_name: str,
    token_keys: TokenKeys,
    tmp_path: Path,
) -> Processes:
    """The services as processes (not yet started) on this test's Redis and FerretDB."""
    return Processes(make_settings, infra, redis_url, mongo_db_name, token_keys, tmp_path)


@pytest.fixture
def publisher(processes: Processes) -> Iterator[ServiceProcess]:
    """A publisher process with the chief's account, started."""
    proc = processes.publisher()
    with running(proc):
        yield proc


@pytest.fixture
def polls(processes: Processes) -> Iterator[ServiceProcess]:
    """A polls process, started."""
    proc = processes.polls()
    with running(proc, timeout=60):
        yield proc
