"""Revocation, against the real Redis and FerretDB: logging out, disabling an account, changing a
role or a password ends every newsroom session and every API token of that account at once, in
the publisher and in the other services that take tokens (ingest and polls, in-process with the
same Redis and the publisher's public key). And the people pages, the own password, the one-time
password link."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.publisher.conftest import NEWSROOM_PUBLIC_KEY, SettingsFactory, running_in_task
from tests.publisher.newsroom.conftest import ORIGIN, PASSWORD, Newsroom, csrf_of, submit
from tests.support.serving import started
from xabar.ingest.app import create_app as ingest_app
from xabar.ingest.config import IngestSettings
from xabar.polls.app import create_app as polls_app
from xabar.polls.config import PollsSettings
from xabar.publisher.newsroom.web import SESSION_COOKIE
from xabar.runtime.auth import Role

SECRET = "s" * 40


@dataclass
class Services:
    ingest: httpx.AsyncClient
    polls: httpx.AsyncClient


@pytest.fixture
async def services(common_settings: dict[str, Any], mongo_db_name: str) -> AsyncIterator[Services]:
    """Ingest and polls, in-process: their token checks."""
    common = {
        **common_settings,
        "mongodb_db": mongo_db_name + "_other",
        "address_salt": SECRET,
    }
    ingest = ingest_app(
        IngestSettings(
            **common, consumer_name="ingest-test", newsroom_public_key=NEWSROOM_PUBLIC_KEY
        )
    )
    polls = polls_app(PollsSettings(**common, cookie_secret=SECRET, consumer_name="polls-test"))
    async with (
        started(ingest),
        started(polls),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=ingest), base_url="http://i") as i,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=polls), base_url="http://p") as p,
    ):
        yield Services(i, p)


async def api_token(newsroom: Newsroom, email: str, password: str = PASSWORD) -> str:
    resp = await newsroom.client.post(
        "/api/v1/auth/login", json={"email": email, "password": password}
    )
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["access_token"]
    return token


async def token_works(newsroom: Newsroom, services: Services, token: str) -> dict[str, int]:
    """What each service answers the token: 401 means refused; anything else got past it."""
    auth = {"Authorization": f"Bearer {token}"}
    publisher = await newsroom.client.get("/api/v1/auth/me", headers=auth)
    ingest = await services.ingest.get("/api/v1/attachments/" + "0" * 32, headers=auth)
    polls = await services.polls.post(
        "/api/v1/polls/" + "0" * 24 + "/close", headers={**auth, "Content-Type": "application/json"}
    )
    return {
        "publisher": publisher.status_code,
        "ingest": ingest.status_code,
        "polls": polls.status_code,
    }


def all_refused(codes: dict[str, int]) -> bool:
    return set(codes.values()) == {401}


def none_refused(codes: dict[str, int]) -> bool:
    return 401 not in codes.values()


async def session_and_token(newsroom: Newsroom, role: Role) -> tuple[str, str]:
    """An account of ``role``, an API token of it and a newsroom session (the client's): the
    account's e-mail and the token."""
    email = await newsroom.editor(role)
    token = await api_token(newsroom, email)
    await newsroom.login(email)
    return email, token


async def assert_ended(newsroom: Newsroom, services: Services, token: str) -> None:
    """The token is refused by every service, and the client's newsroom session is over."""
    assert all_refused(await token_works(newsroom, services, token))
    assert (await newsroom.client.get("/")).status_code == 303


@pytest.fixture
async def newsroom(make_settings: SettingsFactory) -> AsyncIterator[Newsroom]:
    async with running_in_task(make_settings()) as h:
        yield Newsroom(h)


async def test_logout_ends_every_session_and_a_captured_api_token_everywhere_at_once(
    newsroom: Newsroom, services: Services
) -> None:
    email = await newsroom.editor(Role.EDITOR)
    token = await api_token(newsroom, email)
    async with newsroom.fresh_client() as phone:
        await newsroom.login(email, client=phone)
        await newsroom.login(email)
        assert none_refused(await token_works(newsroom, services, token))
        assert (await phone.get("/")).status_code == 200
        csrf = await newsroom.csrf()
        out = await newsroom.client.post("/logout", data={"csrf": csrf}, headers={"Origin": ORIGIN})
        assert out.status_code == 303
        assert all_refused(await token_works(newsroom, services, token))  # no wait: at once
        assert (await phone.get("/")).status_code == 303  # the other browser's session too
    again = await api_token(newsroom, email)  # a new login works as before
    assert none_refused(await token_works(newsroom, services, again))


async def test_the_api_logout_ends_the_newsroom_sessions_too(
    newsroom: Newsroom, services: Services
) -> None:
    _, token = await session_and_token(newsroom, Role.CONTRIBUTOR)
    resp = await newsroom.client.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status_code == 204
    await assert_ended(newsroom, services, token)


@asynccontextmanager
async def chief_client(newsroom: Newsroom) -> AsyncIterator[httpx.AsyncClient]:
    """A browser of its own, logged in as a chief."""
    chief = await newsroom.editor(Role.CHIEF, "chief@xabar.test")
    async with newsroom.fresh_client() as client:
        await newsroom.login(chief, client=client)
        yield client


async def editor_id_of(newsroom: Newsroom, email: str) -> str:
    doc = await newsroom.h.parts.repos.editors.by_email(email)
    assert doc is not None
    return str(doc["_id"])


@asynccontextmanager
async def chief_on_page_of(
    newsroom: Newsroom, email: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str, httpx.Response]]:
    """A chief's browser on the people page of ``email``'s account: the client, the page's path
    and the page."""
    path = f"/people/{await editor_id_of(newsroom, email)}"
    async with chief_client(newsroom) as chief:
        yield chief, path, await chief.get(path)


async def test_disabling_an_account_ends_its_session_and_token_and_bars_login(
    newsroom: Newsroom, services: Services
) -> None:
    email, token = await session_and_token(newsroom, Role.EDITOR)
    async with chief_on_page_of(newsroom, email) as (chief, path, page):
        assert page.status_code == 200
        assert "Отключить" in page.text
        resp = await submit(chief, f"{path}/active", page, active="0")
        assert resp.status_code == 303
        await assert_ended(newsroom, services, token)
        newsroom.client.cookies.clear()
        refused = await newsroom.login(email)
        assert refused.status_code == 401  # a disabled account cannot log in
        page = await chief.get(path)
        assert "отключена" in page.text
        assert "Учётная запись отключена" in page.text  # the flash of the last action
        resp = await submit(chief, f"{path}/active", page, active="1")
        assert resp.status_code == 303
    assert (await newsroom.login(email)).status_code == 303  # enabled again


async def test_a_new_role_ends_the_old_sessions_and_tokens(
    newsroom: Newsroom, services: Services
) -> None:
    email, token = await session_and_token(newsroom, Role.EDITOR)
    async with chief_on_page_of(newsroom, email) as (chief, path, page):
        resp = await submit(chief, f"{path}/role", page, role="contributor")
        assert resp.status_code == 303
        bad = await submit(chief, f"{path}/role", page, role="emperor")
        assert bad.status_code == 303
        assert "выберите роль" in (await chief.get(path)).text
    await assert_ended(newsroom, services, token)
    fresh = await api_token(newsroom, email)
    me = await newsroom.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {fresh}"})
    assert me.json()["role"] == "contributor"


async def test_only_a_chief_sees_people_and_nobody_disables_themself(newsroom: Newsroom) -> None:
    editor = await newsroom.editor(Role.EDITOR)
    await newsroom.login(editor)
    assert (await newsroom.client.get("/people")).status_code == 403
    assert "Люди" not in (await newsroom.client.get("/")).text
    async with chief_client(newsroom) as chief:
        assert "Люди" in (await chief.get("/")).text
        chief_id = await editor_id_of(newsroom, "chief@xabar.test")
        page = await chief.get(f"/people/{chief_id}")
        assert "Отключить" not in page.text
        resp = await submit(chief, f"/people/{chief_id}/active", page, active="0")
        assert resp.status_code == 303
        after = await chief.get(f"/people/{chief_id}")
        assert "свою учётную запись отключить нельзя" in after.text
        assert "Отключить" not in after.text  # still active: refused, not done


async def test_changing_ones_password_ends_every_session_and_token(
    newsroom: Newsroom, services: Services
) -> None:
    email, token = await session_and_token(newsroom, Role.CONTRIBUTOR)
    page = await newsroom.client.get("/account")
    wrong = await submit(
        newsroom.client,
        "/account/password",
        page,
        current_password="не тот",
        new_password="новый пароль редакции",
        new_password_again="новый пароль редакции",
    )
    assert wrong.status_code == 422
    assert "текущий пароль введён неверно" in wrong.text
    done = await submit(
        newsroom.client,
        "/account/password",
        page,
        current_password=PASSWORD,
        new_password="новый пароль редакции",
        new_password_again="новый пароль редакции",
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/login?changed=1"
    await assert_ended(newsroom, services, token)
    newsroom.client.cookies.clear()
    assert (await newsroom.login(email)).status_code == 401
    assert (await newsroom.login(email, "новый пароль редакции")).status_code == 303


async def test_a_new_account_sets_its_password_with_a_link_that_works_once(
    newsroom: Newsroom, caplog: pytest.LogCaptureFixture
) -> None:
    async with chief_client(newsroom) as chief:
        page = await chief.get("/people")
        with caplog.at_level(logging.WARNING, logger="xabar.publisher.mail"):
            resp = await submit(
                chief,
                "/people",
                page,
                email="New.Reporter@xabar.test",
                name="Новый Репортёр",
                role="contributor",
            )
        assert resp.status_code == 303
        assert "создана" in (await chief.get(resp.headers["location"])).text
        again = await submit(
            chief, "/people", page, email="new.reporter@xabar.test", name="X", role="editor"
        )
        assert again.status_code == 422
        assert "уже есть" in again.text
    links = [r.getMessage().rsplit(" ", 1)[-1] for r in caplog.records if "password link" in r.msg]
    assert len(links) == 1
    path = httpx.URL(links[0]).path
    assert path.startswith("/password/")
    async with newsroom.fresh_client() as owner:
        form = await owner.get(path)
        assert form.status_code == 200
        assert "new.reporter@xabar.test" in form.text
        data = {
            "csrf": csrf_of(form.text),
            "new_password": "мой собственный пароль",
            "new_password_again": "мой собственный пароль",
        }
        short = await owner.post(
            path,
            data={**data, "new_password": "коротко", "new_password_again": "коротко"},
            headers={"Origin": ORIGIN},
        )
        assert short.status_code == 422
        assert "не короче" in short.text
        done = await owner.post(path, data=data, headers={"Origin": ORIGIN})
        assert done.status_code == 303
        assert done.headers["location"] == "/login?changed=1"
        used = await owner.post(path, data=data, headers={"Origin": ORIGIN})
        assert used.status_code == 404
        assert "Ссылка недействительна" in used.text
        assert (await owner.get(path)).status_code == 404
        assert (
            await newsroom.login("new.reporter@xabar.test", "мой собственный пароль", client=owner)
        ).status_code == 303
        assert SESSION_COOKIE in owner.cookies


async def test_the_audit_log_is_a_page_for_editors(newsroom: Newsroom) -> None:
    async with chief_client(newsroom) as chief:
        page = await chief.get("/people")
        await submit(chief, "/people", page, email="a@xabar.test", name="Автор", role="contributor")
        log = await chief.get("/audit")
        assert log.status_code == 200
        assert "создал(а) учётную запись" in log.text
        assert "отправил(а) ссылку для пароля" in log.text
        assert (await chief.get("/audit?page=²")).status_code == 422
    contributor = await newsroom.editor(Role.CONTRIBUTOR)
    await newsroom.login(contributor)
    assert (await newsroom.client.get("/audit")).status_code == 403
