"""Readers vote by JSON or by an HTML form; every refusal is a clear 4xx; results show as set."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.polls.conftest import client_for, create_poll, poll_on

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON_TYPE = {"Content-Type": "application/json"}


def soon(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def vote(client: httpx.AsyncClient, pid: str, *options: str) -> httpx.Response:
    return await client.post(f"/api/v1/polls/{pid}/votes", json={"options": list(options)})


def code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


async def test_every_refusal_is_a_clear_client_error(app: Starlette, auth: dict[str, str]) -> None:
    async with client_for(app) as editor:
        single = (await create_poll(editor, auth))["poll_id"]
        later = (await create_poll(editor, auth, opens_at=soon(600)))["poll_id"]
        closed = (await create_poll(editor, auth))["poll_id"]
        assert (await editor.post(f"/api/v1/polls/{closed}/close", headers=auth)).is_success

    async with client_for(app) as reader:
        r = await vote(reader, "nope0000", "o1")
        assert (r.status_code, code(r)) == (404, "poll_not_found")
        r = await vote(reader, "../../etc", "o1")
        assert r.status_code == 404
        r = await vote(reader, later, "o1")
        assert (r.status_code, code(r)) == (409, "poll_not_open")
        r = await vote(reader, closed, "o1")
        assert (r.status_code, code(r)) == (409, "poll_closed")
        r = await vote(reader, single, "o9")
        assert (r.status_code, code(r)) == (422, "unknown_option")
        r = await vote(reader, single, "zzz")
        assert (r.status_code, code(r)) == (422, "unknown_option")
        r = await vote(reader, single, "o1", "o2")
        assert (r.status_code, code(r)) == (422, "invalid_choice")
        assert "только один" in r.json()["error"]["message"]
        r = await vote(reader, single, "o1", "o1")
        assert (r.status_code, code(r)) == (422, "invalid_choice")
        r = await vote(reader, single)
        assert (r.status_code, code(r)) == (422, "validation_failed")
        r = await reader.post(f"/api/v1/polls/{single}/votes", json={"option": "o1"})
        assert (r.status_code, code(r)) == (422, "validation_failed")
        r = await reader.post(
            f"/api/v1/polls/{single}/votes",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert (r.status_code, code(r)) == (400, "malformed_json")
        r = await reader.post(
            f"/api/v1/polls/{single}/votes", content=b"o1", headers={"Content-Type": "text/plain"}
        )
        assert (r.status_code, code(r)) == (415, "unsupported_media_type")
        # none of the refused requests counted anything
        view = (await reader.get(f"/api/v1/polls/{single}")).json()
        assert view["results"]["total_votes"] == 0 and view["voted"] is False

        assert (await vote(reader, single, "o2")).status_code == 201
        r = await vote(reader, single, "o1")
        assert (r.status_code, code(r)) == (409, "already_voted")
        assert "уже проголосовали" in r.json()["error"]["message"]
        r = await reader.get("/api/v1/polls/unknown1")
        assert (r.status_code, code(r)) == (404, "poll_not_found")
        r = await reader.get("/api/v1/polls?page=0")
        assert r.status_code == 422
        r = await reader.get("/api/v1/polls?per_page=1000")
        assert r.status_code == 422


async def test_the_voter_cookie_is_signed_issued_once_and_forgeries_are_new_voters(
    app: Starlette, auth: dict[str, str]
) -> None:
    pid = await poll_on(app, auth)
    async with client_for(app) as reader:
        first = await reader.get(f"/api/v1/polls/{pid}")
        cookie = first.headers["set-cookie"]
        assert cookie.startswith("xabar_voter=") and "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower()
        assert "set-cookie" not in (await reader.get(f"/api/v1/polls/{pid}")).headers
        assert (await vote(reader, pid, "o1")).status_code == 201
        value = reader.cookies["xabar_voter"]
        voter_id, signature = value.split(".")
    async with client_for(app) as forger:
        forger.cookies.set("xabar_voter", f"{voter_id}x.{signature}")
        r = await vote(forger, pid, "o1")
        assert r.status_code == 201  # a forged cookie is ignored: a new voter, not the victim
        assert r.cookies["xabar_voter"].split(".")[0] != voter_id


async def test_a_form_vote_redirects_to_the_feed_or_to_the_results_page(
    app: Starlette, auth: dict[str, str]
) -> None:
    pid = await poll_on(app, auth, options=["А", "Б", "В"], multiple=True)
    async with client_for(app) as reader:
        r = await reader.post(
            f"/api/v1/polls/{pid}/votes",
            content="option=o1&option=o3&return_to=http%3A%2F%2F127.0.0.1%3A8080%2F%23poll",
            headers=FORM,
        )
        assert r.status_code == 303
        # what was counted and which tally holds it go back with the reader, before the fragment
        assert r.headers["location"] == f"http://127.0.0.1:8080/?voted={pid}.o1-o3&tally=1#poll"
        assert "xabar_voter=" in r.headers["set-cookie"]
        results = (await reader.get(f"/api/v1/polls/{pid}")).json()["results"]
        assert [o["votes"] for o in results["options"]] == [1, 0, 1]
    for evil in ("http://127.0.0.1:8080.evil.example/", "https://evil.example/", "//evil"):
        async with client_for(app) as reader:
            r = await reader.post(
                f"/api/v1/polls/{pid}/votes", data={"option": "o2", "return_to": evil}
            )
            assert r.status_code == 303
            assert r.headers["location"] == f"/polls/{pid}?vote=ok"
    async with client_for(app) as reader:
        r = await reader.post(f"/api/v1/polls/{pid}/votes", data={"option": "o2"})
        assert r.headers["location"] == f"/polls/{pid}?vote=ok"
        page = await reader.get(r.headers["location"])
        assert page.status_code == 200
        assert "Спасибо! Ваш голос учтён." in page.text
        assert "Всего голосов: 5" in page.text
        # a second form vote: a Russian page with the right status, nothing counted
        again = await reader.post(
            f"/api/v1/polls/{pid}/votes",
            data={"option": "o1", "return_to": "http://127.0.0.1:8080/news/x"},
        )
        assert again.status_code == 409
        assert again.headers["content-type"].startswith("text/html")
        assert "Вы уже проголосовали в этом опросе" in again.text
        assert 'href="http://127.0.0.1:8080/news/x"' in again.text
        missing = await reader.post("/api/v1/polls/nope1234/votes", data={"option": "o1"})
        assert missing.status_code == 404 and "не найден" in missing.text
        empty = await reader.post(f"/api/v1/polls/{pid}/votes", data={"return_to": "x"})
        assert empty.status_code == 422 and "Выберите вариант" in empty.text
        total = (await reader.get(f"/api/v1/polls/{pid}")).json()["results"]["total_votes"]
        assert total == 5


@pytest.mark.parametrize(
    ("visibility", "before_vote", "after_vote"),
    [("always", True, True), ("after_vote", False, True), ("after_close", False, False)],
)
async def test_results_are_shown_as_the_poll_says(
    app: Starlette, auth: dict[str, str], visibility: str, before_vote: bool, after_vote: bool
) -> None:
    pid = await poll_on(app, auth, results_visibility=visibility)
    async with client_for(app) as reader:
        view: dict[str, Any] = (await reader.get(f"/api/v1/polls/{pid}")).json()
        assert (view["results"] is not None) is before_vote
        if not before_vote:
            assert view["results_hidden_reason"]
            page = await reader.get(f"/polls/{pid}")
            assert "Всего голосов" not in page.text and "Результаты будут" in page.text
        receipt = (await vote(reader, pid, "o1")).json()
        assert (receipt["results"] is not None) is after_vote
        view = (await reader.get(f"/api/v1/polls/{pid}")).json()
        assert (view["results"] is not None) is after_vote
        assert view["voted"] is True
        async with client_for(app) as editor:
            await editor.post(f"/api/v1/polls/{pid}/close", headers=auth)
        view = (await reader.get(f"/api/v1/polls/{pid}")).json()
        assert view["results"]["total_votes"] == 1  # every poll shows its results once closed


async def test_the_results_page_and_the_list_of_all_polls(
    app: Starlette, auth: dict[str, str]
) -> None:
    async with client_for(app) as editor:
        ids = [
            (await create_poll(editor, auth, question=f"Вопрос номер {n}?"))["poll_id"]
            for n in range(5)
        ]
    async with client_for(app) as reader:
        await vote(reader, ids[0], "o2")
        page = await reader.get(f"/polls/{ids[0]}")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<html lang="ru">' in page.text
        assert "Вопрос номер 0?" in page.text
        assert "100%" in page.text and "Всего голосов: 1" in page.text
        assert "Вы уже проголосовали" in page.text and "<form" not in page.text
        async with client_for(app) as fresh:
            form_page = await fresh.get(f"/polls/{ids[1]}?return_to=http://127.0.0.1:8080/")
        assert '<form method="post" action="/api/v1/polls/' in form_page.text
        assert 'name="return_to" value="http://127.0.0.1:8080/"' in form_page.text
        assert (await reader.get("/polls/nothere1")).status_code == 404

        first = (await reader.get("/api/v1/polls?per_page=2")).json()
        second = (await reader.get("/api/v1/polls?per_page=2&page=2")).json()
        third = (await reader.get("/api/v1/polls?per_page=2&page=3")).json()
        assert first["total"] == 5 and first["pages"] == 3
        listed = [p["poll_id"] for p in first["items"] + second["items"] + third["items"]]
        assert listed == list(reversed(ids))  # newest first, each once
        assert (await reader.get("/api/v1/polls?page=9")).json()["items"] == []
        html = await reader.get("/polls")
        assert html.status_code == 200 and "Все опросы" in html.text
        assert all(f"/polls/{pid}" in html.text for pid in ids)


async def test_a_form_vote_goes_back_to_the_sites_page_it_came_from_and_says_the_choice(
    app: Starlette, auth: dict[str, str]
) -> None:
    pid = await poll_on(app, auth, options=["А", "Б"])
    async with client_for(app) as reader:
        came_from = "http://127.0.0.1:8080/news/abc"
        r = await reader.post(
            f"/api/v1/polls/{pid}/votes", data={"option": "o2"}, headers={"Referer": came_from}
        )
        # the page is told what was counted and which tally (its version) includes it
        assert (r.status_code, r.headers["location"]) == (
            303,
            f"{came_from}?voted={pid}.o2&tally=1",
        )
    async with client_for(app) as reader:
        r = await reader.post(
            f"/api/v1/polls/{pid}/votes",
            data={
                "option": "o1",
                "return_to": f"http://127.0.0.1:8080/news?page=2&voted={pid}.o2&tally=1#poll-x",
            },
        )
        assert r.headers["location"] == (
            f"http://127.0.0.1:8080/news?page=2&voted={pid}.o1&tally=2#poll-x"
        )
    async with client_for(app) as reader:
        r = await reader.post(
            f"/api/v1/polls/{pid}/votes",
            data={"option": "o1"},
            headers={"Referer": "https://evil.example/"},
        )
        assert r.status_code == 403  # another site's page: refused, not a way back there
        assert "set-cookie" not in r.headers
        r = await reader.post(f"/api/v1/polls/{pid}/votes", data={"option": "o1"})
        assert (r.status_code, r.headers["location"]) == (303, f"/polls/{pid}?vote=ok")
        page = await reader.get(r.headers["location"])
        assert "Ваш выбор: А." in page.text and "Всего голосов: 3" in page.text
        assert "xabar_voted=" in page.headers["set-cookie"]  # said once: cleared
        again = await reader.get(f"/polls/{pid}")
        assert "Ваш выбор" not in again.text


async def test_the_pages_are_compressed_once_a_change_and_sent_as_asked(
    app: Starlette, auth: dict[str, str]
) -> None:
    pid = await poll_on(app, auth)
    async with client_for(app) as reader:
        first = await reader.get(f"/polls/{pid}")
        assert "set-cookie" not in first.headers  # reading sets no cookie: the vote does
        tags = set()
        for coding in ("br", "gzip", "identity"):
            r = await reader.get(f"/polls/{pid}", headers={"Accept-Encoding": coding})
            assert r.status_code == 200 and "<main>" in r.text
            assert r.headers.get("content-encoding", "identity") == coding
            assert r.headers["vary"] == "Accept-Encoding"
            assert r.headers["cache-control"] == "public, no-cache"
            tags.add(r.headers["etag"])
            again = await reader.get(
                f"/polls/{pid}",
                headers={"Accept-Encoding": coding, "If-None-Match": r.headers["etag"]},
            )
            assert again.status_code == 304 and again.content == b""
        # one rendering of the page, in three codings: one tag each (strong tags differ per
        # coding, RFC 9110 8.8.3), of the same body
        assert len(tags) == 3
        assert len({t.strip('"').removesuffix("-br").removesuffix("-gzip") for t in tags}) == 1
        assert (await vote(reader, pid, "o1")).status_code == 201
        after = await reader.get(f"/polls/{pid}", headers={"Accept-Encoding": "br"})
        assert after.headers["etag"] not in tags and "Всего голосов: 1" in after.text
        assert after.headers["cache-control"] == "private, no-cache"  # the voter's own page
        listing = await reader.get("/polls", headers={"Accept-Encoding": "gzip"})
        assert listing.headers["content-encoding"] == "gzip" and pid in listing.text
        assert (await reader.get("/polls?page=²")).status_code == 422


async def test_hostile_bodies_and_parameters_get_a_clear_4xx_and_count_nothing(
    app: Starlette, auth: dict[str, str]
) -> None:
    async with client_for(app) as editor:
        pid = (await create_poll(editor, auth))["poll_id"]
        deep = ("[" * 1000 + "]" * 1000).encode()
        r = await editor.post("/api/v1/polls", content=deep, headers=JSON_TYPE | auth)
        assert r.status_code == 400
    utf16 = '{"options": ["o1"]}'.encode("utf-16")
    bodies = [deep, b'{"options": ' + b"[" * 1000 + b"]" * 1000 + b"}", utf16, b"\xff\xfe"]
    async with client_for(app) as reader:
        for body in bodies:
            r = await reader.post(f"/api/v1/polls/{pid}/votes", content=body, headers=JSON_TYPE)
            assert r.status_code in (400, 422), (r.status_code, body[:20])
            assert "Traceback" not in r.text and "Error" not in r.json()["error"]["message"]
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        r = await reader.post(f"/api/v1/polls/{pid}/votes", content=b"option=%FF", headers=form)
        assert r.status_code == 400 and "неверном виде" in r.text
        for query in ("page=²", "per_page=²", "page=٣", "page=99999999999999999999"):
            r = await reader.get(f"/api/v1/polls?{query}")
            assert r.status_code == 422, query
        assert (await reader.get("/polls/%C2%B2")).status_code == 404
        view = (await reader.get(f"/api/v1/polls/{pid}")).json()
        assert view["results"]["total_votes"] == 0
