"""Editors create, edit, close polls; poll.opened / poll.closed / poll.tallied reach the stream."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import TokenKeys
from tests.polls.conftest import EventSink, SettingsFactory, client_for, create_poll, running
from xabar.contracts import PollClosed, PollOpened, PollTallied
from xabar.runtime.auth import Principal, Role

LATE, EARLY = "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"


def iso(moment: datetime) -> str:
    return moment.isoformat()


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": "Да?", "options": ["A"]}, "options"),
        ({"question": "Вопрос?", "options": [f"o{i}" for i in range(21)]}, "options"),
        ({"question": "", "options": ["A", "B"]}, "question"),
        ({"question": "Вопрос?", "options": ["A", "B"], "results_visibility": "never"}, None),
        ({"question": "Вопрос?", "options": ["A", "B"], "surprise": 1}, "surprise"),
        ({"question": "Вопрос?", "options": ["A", "B"], "opens_at": "2030-01-01T00:00:00"}, None),
        # past what a datetime holds once in UTC: a 422, not an OverflowError and a 500
        ({"question": "Вопрос?", "options": ["A", "B"], "opens_at": LATE}, "opens_at"),
        ({"question": "Вопрос?", "options": ["A", "B"], "closes_at": EARLY}, "closes_at"),
        ({"question": "Вопрос?", "options": ["A", "B"], "closes_at": "2200-01-01T00:00Z"}, None),
    ],
)
async def test_invalid_polls_are_refused_with_field_errors(
    client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any], field: str | None
) -> None:
    r = await client.post("/api/v1/polls", json=body, headers=auth)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_failed"
    if field:
        assert field in {f["field"].split(".")[0] for f in error["fields"]}
    assert "Error" not in r.text and "out of range" not in r.text


async def test_an_edit_to_a_date_past_what_a_datetime_holds_is_422(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    later = {"opens_at": iso(soon(86400)), "closes_at": iso(soon(2 * 86400))}
    poll = await create_poll(client, auth, **later)
    for field, value in (("opens_at", LATE), ("closes_at", EARLY)):
        r = await client.patch(
            f"/api/v1/polls/{poll['poll_id']}", json={field: value}, headers=auth
        )
        assert r.status_code == 422, r.text
        assert [f["message"] for f in r.json()["error"]["fields"]] == [
            "дата и время — с 1900 по 2199 год"
        ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"options": ["Да", " да "]}, "повторяются"),
        ({"closes_at": iso(soon(-60))}, "уже прошло"),
        (
            {"opens_at": iso(soon(7 * 86400)), "closes_at": iso(soon(86400))},
            "позже времени открытия",
        ),
        ({"countries": ["KZ", "XX"]}, "XX"),
    ],
)
async def test_polls_breaking_domain_rules_are_refused_in_russian(
    client: httpx.AsyncClient, auth: dict[str, str], extra: dict[str, Any], message: str
) -> None:
    body = {"question": "Вопрос?", "options": ["Да", "Нет"], **extra}
    r = await client.post("/api/v1/polls", json=body, headers=auth)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_poll"
    assert message in r.json()["error"]["message"]


async def test_authoring_needs_an_editor_token(
    client: httpx.AsyncClient, token_keys: TokenKeys
) -> None:
    body = {"question": "Вопрос?", "options": ["Да", "Нет"]}
    assert (await client.post("/api/v1/polls", json=body)).status_code == 401
    forged = TokenKeys.new().issue(Principal("e", "E", Role.CHIEF))
    r = await client.post("/api/v1/polls", json=body, headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401
    contributor = token_keys.issue(Principal("c", "C", Role.CONTRIBUTOR))
    r = await client.post(
        "/api/v1/polls", json=body, headers={"Authorization": f"Bearer {contributor}"}
    )
    assert r.status_code == 403
    assert (await client.get("/api/v1/anomalies")).status_code == 401
    chief = token_keys.issue(Principal("h", "H", Role.CHIEF))
    r = await client.post("/api/v1/polls", json=body, headers={"Authorization": f"Bearer {chief}"})
    assert r.status_code == 201
    r = await client.post(
        "/api/v1/polls", content="question=x", headers={"Authorization": f"Bearer {chief}"}
    )
    assert r.status_code == 415


async def test_a_poll_opens_at_once_and_poll_opened_carries_its_state(
    client: httpx.AsyncClient, auth: dict[str, str], sink: EventSink
) -> None:
    poll = await create_poll(
        client,
        auth,
        question="Как вы относитесь к вступлению Таджикистана в ЕАЭС?",
        options=["Положительно", "Мне это безразлично", "Отрицательно"],
        results_visibility="after_vote",
        countries=["TJ"],
    )
    assert poll["status"] == "open"
    assert poll["version"] == 1
    pid = poll["poll_id"]
    await sink.wait_for(lambda: bool(sink.of("poll.opened", pid)))
    [opened] = sink.of("poll.opened", pid)
    assert isinstance(opened, PollOpened)
    assert opened.version == 1 and opened.producer == "polls"
    assert opened.data.question == "Как вы относитесь к вступлению Таджикистана в ЕАЭС?"
    assert [(o.option_id, o.text) for o in opened.data.options] == [
        ("o1", "Положительно"),
        ("o2", "Мне это безразлично"),
        ("o3", "Отрицательно"),
    ]
    assert opened.data.results_visibility == "after_vote"
    assert opened.data.countries == ("TJ",)
    assert opened.data.closed_at is None
    listed = (await client.get("/api/v1/polls")).json()
    assert [p["poll_id"] for p in listed["items"]] == [pid]


async def test_a_scheduled_poll_can_be_edited_then_opens_by_the_scheduler(
    client: httpx.AsyncClient, auth: dict[str, str], sink: EventSink
) -> None:
    poll = await create_poll(client, auth, opens_at=iso(soon(30)))
    pid = poll["poll_id"]
    assert poll["status"] == "scheduled"
    r = await client.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1"]})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "poll_not_open"

    r = await client.patch(
        f"/api/v1/polls/{pid}",
        json={"options": ["Да", "Нет", "Не знаю"], "multiple": True, "opens_at": iso(soon(1))},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    assert [o["text"] for o in r.json()["options"]] == ["Да", "Нет", "Не знаю"]
    assert sink.of("poll.opened", pid) == []

    await sink.wait_for(lambda: bool(sink.of("poll.opened", pid)))
    [opened] = sink.of("poll.opened", pid)
    assert opened.version == 3
    assert opened.data.multiple is True
    assert len(opened.data.options) == 3

    r = await client.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1", "o3"]})
    assert r.status_code == 201
    r = await client.patch(f"/api/v1/polls/{pid}", json={"question": "Другой?"}, headers=auth)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "poll_not_editable"


async def test_closing_early_stops_votes_and_emits_poll_closed(
    client: httpx.AsyncClient, auth: dict[str, str], sink: EventSink
) -> None:
    pid = (await create_poll(client, auth))["poll_id"]
    assert (
        await client.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o2"]})
    ).status_code == 201
    r = await client.post(f"/api/v1/polls/{pid}/close", headers=auth)
    assert r.status_code == 200, r.text
    closed_view = r.json()
    assert closed_view["status"] == "closed" and closed_view["closed_at"]
    assert closed_view["results"]["total_votes"] == 1

    async with client_for(client._transport.app) as other:  # type: ignore[attr-defined]
        r = await other.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1"]})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "poll_closed"
    again = await client.post(f"/api/v1/polls/{pid}/close", headers=auth)
    assert again.status_code == 409

    await sink.wait_for(lambda: bool(sink.of("poll.closed", pid)))
    [closed] = sink.of("poll.closed", pid)
    assert isinstance(closed, PollClosed)
    assert closed.version == 2
    assert closed.data.closed_at is not None
    assert closed.data.poll_id == pid
    # a scheduled poll is not "closed early": it is edited before it opens
    later = (await create_poll(client, auth, opens_at=iso(soon(600))))["poll_id"]
    assert (await client.post(f"/api/v1/polls/{later}/close", headers=auth)).status_code == 409


async def test_a_poll_closes_at_its_closing_time(
    client: httpx.AsyncClient, auth: dict[str, str], sink: EventSink
) -> None:
    closes_at = soon(1.0).replace(microsecond=0) + timedelta(seconds=1)
    pid = (await create_poll(client, auth, closes_at=iso(closes_at)))["poll_id"]
    assert (
        await client.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1"]})
    ).status_code == 201
    await sink.wait_for(lambda: bool(sink.of("poll.closed", pid)))
    [closed] = sink.of("poll.closed", pid)
    assert closed.data.closed_at == closes_at
    assert closed.version == 2
    async with client_for(client._transport.app) as other:  # type: ignore[attr-defined]
        r = await other.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "poll_closed"
    view = (await client.get(f"/api/v1/polls/{pid}")).json()
    assert view["status"] == "closed"


async def test_a_poll_due_while_the_service_was_down_opens_after_restart(
    make_settings: SettingsFactory, auth: dict[str, str], sink: EventSink
) -> None:
    settings = make_settings()
    opens_at = soon(1.5)
    async with running(settings) as app, client_for(app) as client:
        pid = (await create_poll(client, auth, opens_at=iso(opens_at)))["poll_id"]
    await asyncio.sleep(max(0.0, (opens_at - datetime.now(UTC)).total_seconds()) + 0.3)
    assert sink.of("poll.opened", pid) == []  # nobody was running to open it
    async with running(settings) as app, client_for(app) as client:
        await sink.wait_for(lambda: bool(sink.of("poll.opened", pid)))
        assert sink.of("poll.opened", pid)[0].version == 2
        r = await client.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1"]})
        assert r.status_code == 201


async def test_tallies_are_coalesced_and_one_follows_the_last_vote(
    make_settings: SettingsFactory, auth: dict[str, str], sink: EventSink
) -> None:
    settings = make_settings(tally_interval_s=3600)  # we drive the tallier's ticks by hand
    async with running(settings) as app, client_for(app) as client:
        polls = app.state.polls
        pid = (await create_poll(client, auth, options=["A", "B", "C"]))["poll_id"]
        from xabar.polls.voters import Origin

        for i in range(100):
            await polls.service.vote(
                pid, f"voter-{i:04d}-abcdefghijkl", [f"o{1 + i % 3}"], Origin(f"a{i}", f"s{i}")
            )
        assert await polls.tallier.tick() == 1  # 100 votes, one snapshot
        assert await polls.tallier.tick() == 0  # nothing new
        await polls.service.vote(pid, "voter-last-abcdefghijklm", ["o3"], Origin("z", "z"))
        assert await polls.tallier.tick() == 1
        await sink.wait_for(lambda: len(sink.of("poll.tallied", pid)) == 2)
        first, last = sink.of("poll.tallied", pid)
        assert isinstance(last, PollTallied)
        assert first.version == 100 and last.version == 101
        assert first.data.counts == {"o1": 34, "o2": 33, "o3": 33}
        assert first.data.percentages == {"o1": 34, "o2": 33, "o3": 33}
        assert last.data.counts == {"o1": 34, "o2": 33, "o3": 34}
        assert last.data.total_votes == 101
        assert sum(last.data.percentages.values()) == 100
        # the newest version sent is kept with the poll (so it survives the loss of Redis)
        assert await polls.service.tallies.get(pid) == 101


async def test_a_tick_under_a_stream_of_votes_sends_one_snapshot_a_poll_and_ends(
    make_settings: SettingsFactory, auth: dict[str, str], sink: EventSink
) -> None:
    """Every vote marks its poll dirty again: a tick takes each dirty poll once and leaves a
    poll dirtied meanwhile to the next tick (it used to pop until the set was empty, so under
    a stream of votes it published without end)."""
    from xabar.polls.voters import Origin

    settings = make_settings(tally_interval_s=3600)  # we drive the tallier's ticks by hand
    async with running(settings) as app, client_for(app) as client:
        polls = app.state.polls
        pid = (await create_poll(client, auth))["poll_id"]
        stop = asyncio.Event()
        cast = 0

        async def voting() -> None:
            nonlocal cast
            while not stop.is_set():
                await polls.service.vote(
                    pid, f"voter-{cast:06d}-abcdefghijkl", ["o1"], Origin(f"a{cast}", "s")
                )
                cast += 1
                await asyncio.sleep(0)

        voter = asyncio.create_task(voting())
        try:
            while cast < 5:
                await asyncio.sleep(0.01)
            sent = await asyncio.wait_for(polls.tallier.tick(), timeout=60)  # a hang guard
        finally:
            stop.set()
            await voter
        assert sent == 1
        assert pid in {
            p.decode()
            for p in await polls.service.counter.redis.smembers(polls.service.counter.dirty_key)
        }  # dirtied again while the tick ran: the next tick's
        assert await polls.tallier.tick() == 1
        await sink.wait_for(lambda: len(sink.of("poll.tallied", pid)) == 2)


async def test_tallies_go_out_on_their_own_after_votes(
    app: Starlette, auth: dict[str, str], sink: EventSink
) -> None:
    async with client_for(app) as client:
        pid = (await create_poll(client, auth))["poll_id"]
        for _ in range(5):
            async with client_for(app) as voter:
                await voter.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1"]})
    await sink.wait_for(lambda: any(e.data.total_votes == 5 for e in sink.of("poll.tallied", pid)))
    versions = [e.version for e in sink.of("poll.tallied", pid)]
    assert versions == sorted(versions) and versions[-1] == 5


async def test_concurrent_lifecycle_writes_and_relays_lose_no_change_and_no_event(
    app: Starlette, auth: dict[str, str], sink: EventSink
) -> None:
    # FerretDB applies concurrent updates of one document non-atomically; the poll's lock is
    # what keeps an editor's close, the scheduler and the outbox relay from erasing each other.
    service = app.state.polls.service
    async with client_for(app) as client:
        pid = (await create_poll(client, auth))["poll_id"]
        results = await asyncio.gather(
            *(client.post(f"/api/v1/polls/{pid}/close", headers=auth) for _ in range(5)),
            *(service.relay_pending() for _ in range(5)),
            *(service.advance(pid) for _ in range(5)),
            *(service.relay_events(pid) for _ in range(5)),
        )
    statuses = sorted(r.status_code for r in results[:5])
    assert statuses == [200, 409, 409, 409, 409]
    stored = await service.polls.get(pid)
    assert stored.status == "closed" and stored.version == 2
    await sink.wait_for(lambda: bool(sink.of("poll.closed", pid)))
    await service.relay_pending()
    doc = await service.polls.collection.find_one({"_id": pid})
    assert doc["outbox"] == []
    assert [e.version for e in sink.of("poll.opened", pid)] == [1]
    assert [e.version for e in sink.of("poll.closed", pid)] == [2]
