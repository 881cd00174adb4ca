"""The polls service's reader pages: rendered once per revision, the public ones answered by the
server's protocol before any ASGI scope, a voter's own never from there; a reader sees their own
state and the current results, never another voter's; the public pages follow the counters."""

import asyncio
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from uvicorn.server import ServerState

from tests.feed.test_protocol import Transport, get
from tests.polls.conftest import SettingsFactory, client_for, create_poll, poll_on, polls_env
from tests.support.procs import service_process
from tests.support.waiting import eventually
from xabar.polls.routes.votes import CHOICE_COOKIE
from xabar.runtime.fastprotocol import FastProtocol


def head_of(sent: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    head, _, body = sent.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = dict(line.split(b": ", 1) for line in lines)
    return status, {k.lower(): v for k, v in headers.items()}, body


async def test_the_protocol_answers_the_public_page_and_leaves_a_voters_to_the_app(
    app: Starlette, auth: dict[str, str]
) -> None:
    pid = await poll_on(app, auth, options=["Да", "Нет"])
    async with client_for(app) as reader:
        public = await reader.get(f"/polls/{pid}")  # rendered and kept
        assert public.status_code == 200 and "set-cookie" not in public.headers
        assert (
            await reader.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1"]})
        ).is_success
        cookie = reader.cookies["xabar_voter"]
    config = uvicorn.Config(app, log_config=None, lifespan="off")
    config.load()
    state = ServerState()
    state.default_headers = [(b"date", b"Wed, 02 Dec 2026 05:00:00 GMT")]
    deps = app.state.deps
    protocol = FastProtocol.serving(
        deps.reader_pages, name="PollsProtocol", private_cookies=("xabar_voter", CHOICE_COOKIE)
    )(config, state, {}, asyncio.get_running_loop())
    transport = Transport()
    protocol.connection_made(transport)
    try:
        protocol.data_received(get(f"/polls/{pid}", "Accept-Encoding: identity"))
        # answered at once, by the protocol: the page as the app rendered it, with its headers
        status, headers, body = head_of(transport.sent)
        assert status == b"HTTP/1.1 200 OK" and state.total_requests == 1
        assert body == public.content and b'<form method="post"' in body
        assert headers[b"cache-control"] == b"public, no-cache"
        assert b"frame-ancestors 'none'" in headers[b"content-security-policy"]
        assert headers[b"x-content-type-options"] == b"nosniff"
        assert b"set-cookie" not in headers
        # the voter's request is the app's: their page says they voted, and it is private
        transport.sent = b""
        protocol.data_received(get(f"/polls/{pid}", f"Cookie: xabar_voter={cookie}"))
        assert transport.sent == b""  # not answered here
        await eventually(lambda: transport.sent.rstrip().endswith(b"</html>"), timeout=5)
        status, headers, body = head_of(transport.sent)
        assert status == b"HTTP/1.1 200 OK"
        assert headers[b"cache-control"] == b"private, no-cache"
        text = body.decode()
        assert "Вы уже проголосовали" in text and "Всего голосов: 1" in text
        assert "<form" not in text
    finally:
        protocol.connection_lost(None)


async def test_a_reader_sees_their_own_state_and_the_public_page_follows_the_counts(
    make_settings: SettingsFactory, auth: dict[str, str], tmp_path: Path
) -> None:
    env = {
        **polls_env(make_settings()),
        "XABAR_POLLS_PAGES_REFRESH_MS": "50",
        "XABAR_POLLS_ADDRESS_COOLDOWN_S": "0",  # two readers on one loopback address
    }
    proc = service_process("xabar.polls", env, tmp_path, "XABAR_POLLS_PORT")
    await asyncio.to_thread(proc.start)
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=5) as editor:
            pid = (await create_poll(editor, auth, options=["Да", "Нет"]))["poll_id"]
            listed = (await editor.get("/polls")).text
            assert pid in listed
        anonymous = await _page(proc.url, f"/polls/{pid}")
        assert anonymous.headers["cache-control"] == "public, no-cache"
        assert "Всего голосов: 0" in anonymous.text and "<form" in anonymous.text

        async with httpx.AsyncClient(base_url=proc.url, timeout=5) as first:
            voted = await first.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1"]})
            assert voted.status_code == 201
            own = await first.get(f"/polls/{pid}")
            assert own.headers["cache-control"] == "private, no-cache"
            assert "Вы уже проголосовали" in own.text and "Всего голосов: 1" in own.text
        async with httpx.AsyncClient(base_url=proc.url, timeout=5) as second:
            r = await second.post(f"/api/v1/polls/{pid}/votes", data={"option": "o2"})
            assert (r.status_code, r.headers["location"]) == (303, f"/polls/{pid}?vote=ok")
            after = await second.get(r.headers["location"])
            # their choice and the results with their vote, at once (a fresh read)
            assert "Ваш выбор: Нет." in after.text and "Всего голосов: 2" in after.text
            assert after.headers["cache-control"] == "private, no-cache"
            again = await second.get(f"/polls/{pid}")
            assert "Ваш выбор" not in again.text and "Вы уже проголосовали" in again.text

        async def public_has_both() -> bool:
            page = await _page(proc.url, f"/polls/{pid}")
            return "Всего голосов: 2" in page.text

        await eventually(public_has_both, timeout=5)  # within the refresh, of 50 ms here
        public = await _page(proc.url, f"/polls/{pid}")
        # another reader's page: the form and the results, nobody's vote or choice
        assert "<form" in public.text and "Вы уже проголосовали" not in public.text
        assert "Ваш выбор" not in public.text and "set-cookie" not in public.headers
        unchanged = await _page(
            proc.url, f"/polls/{pid}", {"If-None-Match": public.headers["etag"]}
        )
        assert unchanged.status_code == 304

        async def list_has_both() -> bool:
            return "всего голосов: 2" in (await _page(proc.url, "/polls")).text

        await eventually(list_has_both, timeout=5)
    finally:
        await asyncio.to_thread(proc.terminate)


async def _page(url: str, path: str, headers: dict[str, str] | None = None) -> Any:
    """``path`` as a reader without cookies gets it (a new client: nothing kept)."""
    async with httpx.AsyncClient(base_url=url, timeout=5) as reader:
        return await reader.get(path, headers={"Accept-Encoding": "br, gzip", **(headers or {})})
