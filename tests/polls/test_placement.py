"""What the newsroom calls with an editor's token: where a poll is shown (the front page, country
sections, articles) from its creation on and changed at any time, its results and anomaly flags,
and every authoring route saying the role it needs."""

import httpx
import pytest

from tests.conftest import TokenKeys
from tests.polls.conftest import EventSink, create_poll
from xabar.contracts import PollClosed, PollOpened
from xabar.runtime.auth import Principal, Role


async def test_a_poll_is_placed_when_created_and_the_event_says_where(
    client: httpx.AsyncClient, auth: dict[str, str], sink: EventSink
) -> None:
    shown = await create_poll(client, auth)
    assert (shown["front_page"], shown["countries"], shown["article_ids"]) == (True, [], [])
    placed = await create_poll(
        client, auth, front_page=False, countries=["KZ", "TJ"], article_ids=["a-1", "a-2"]
    )
    assert (placed["front_page"], placed["article_ids"]) == (False, ["a-1", "a-2"])
    pid = placed["poll_id"]
    await sink.wait_for(lambda: bool(sink.of("poll.opened", pid)))
    [opened] = sink.of("poll.opened", pid)
    assert isinstance(opened, PollOpened)
    assert opened.data.front_page is False
    assert opened.data.countries == ("KZ", "TJ")
    assert opened.data.article_ids == ("a-1", "a-2")
    view = (await client.get(f"/api/v1/polls/{pid}")).json()
    assert (view["front_page"], view["countries"], view["article_ids"]) == (
        False,
        ["KZ", "TJ"],
        ["a-1", "a-2"],
    )


async def test_placement_changes_while_open_and_after_closing_and_the_feed_is_told(
    client: httpx.AsyncClient, auth: dict[str, str], sink: EventSink
) -> None:
    pid = (await create_poll(client, auth))["poll_id"]
    url = f"/api/v1/polls/{pid}/placement"
    r = await client.put(url, json={"front_page": False, "article_ids": ["art-9"]}, headers=auth)
    assert r.status_code == 200, r.text
    assert (r.json()["front_page"], r.json()["article_ids"], r.json()["version"]) == (
        False,
        ["art-9"],
        2,
    )
    await sink.wait_for(lambda: len(sink.of("poll.opened", pid)) == 2)
    again = sink.of("poll.opened", pid)[-1]
    assert again.version == 2 and again.data.front_page is False
    assert again.data.article_ids == ("art-9",)

    assert (await client.post(f"/api/v1/polls/{pid}/close", headers=auth)).status_code == 200
    r = await client.put(url, json={"front_page": True, "countries": ["KG"]}, headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    await sink.wait_for(lambda: len(sink.of("poll.closed", pid)) == 2)
    last = sink.of("poll.closed", pid)[-1]
    assert isinstance(last, PollClosed)
    assert (last.version, last.data.front_page, last.data.countries) == (4, True, ("KG",))
    assert last.data.article_ids == () and last.data.closed_at is not None
    assert len(sink.of("poll.opened", pid)) == 2  # a closed poll is not opened again


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"front_page": True, "countries": ["XX"]}, 422, "invalid_poll"),
        ({"front_page": True, "article_ids": ["../x"]}, 422, "validation_failed"),
        ({"countries": ["KZ"]}, 422, "validation_failed"),
        ({"front_page": "yes please", "surprise": 1}, 422, "validation_failed"),
    ],
)
async def test_a_bad_placement_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, object], status: int, code: str
) -> None:
    pid = (await create_poll(client, auth))["poll_id"]
    r = await client.put(f"/api/v1/polls/{pid}/placement", json=body, headers=auth)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code)
    view = (await client.get(f"/api/v1/polls/{pid}")).json()
    assert (view["version"], view["front_page"], view["countries"]) == (1, True, [])


async def test_editors_see_results_and_flags_readers_cannot_see_yet(
    client: httpx.AsyncClient, auth: dict[str, str], token_keys: TokenKeys
) -> None:
    pid = (await create_poll(client, auth, results_visibility="after_close"))["poll_id"]
    assert (await client.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o2"]})).is_success
    assert (await client.get(f"/api/v1/polls/{pid}")).json()["results"] is None
    url = f"/api/v1/polls/{pid}/results"
    r = await client.get(url, headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "open" and body["anomalies"] == []
    assert [o["votes"] for o in body["results"]["options"]] == [0, 1]
    assert (await client.get(url)).status_code == 401
    contributor = token_keys.issue(Principal("c", "C", Role.CONTRIBUTOR))
    denied = await client.get(url, headers={"Authorization": f"Bearer {contributor}"})
    assert denied.status_code == 403
    assert (await client.get("/api/v1/polls/nothere1/results", headers=auth)).status_code == 404
    r = await client.put(f"/api/v1/polls/{pid}/placement", json={"front_page": False})
    assert r.status_code == 401


async def test_every_authoring_route_says_the_role_it_needs(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    secured = {
        (path, method): op
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if "security" in op
    }
    assert {
        ("/api/v1/polls", "post"),
        ("/api/v1/polls/{poll_id}", "patch"),
        ("/api/v1/polls/{poll_id}/close", "post"),
        ("/api/v1/polls/{poll_id}/placement", "put"),
        ("/api/v1/polls/{poll_id}/results", "get"),
        ("/api/v1/anomalies", "get"),
    } == set(secured)
    for op in secured.values():
        assert op["x-required-role"] == "editor"
        assert "role editor" in op["description"]
    placement = doc["components"]["schemas"]["Placement"]["properties"]
    assert {"front_page", "countries", "article_ids"} <= set(placement)
