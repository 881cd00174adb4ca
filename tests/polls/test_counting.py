"""Exact counting under concurrency, one vote per voter, and addresses that cannot be spoofed."""

import asyncio
import time
from typing import Any

import httpx
from redis.asyncio import Redis
from starlette.applications import Starlette

from tests.polls.conftest import SettingsFactory, client_for, create_poll, running
from tests.support.waiting import eventually
from xabar.polls.counter import VoteEntry
from xabar.polls.repository import VoteLog
from xabar.runtime.mongo import mongo_client

VOTERS = 10_000
BATCH = 500


async def test_ten_thousand_concurrent_voters_give_exact_totals(
    make_settings: SettingsFactory, auth: dict[str, str], redis: Redis
) -> None:
    settings = make_settings(trusted_proxies=("127.0.0.1",), vote_rate_limit=1000)
    async with running(settings) as app, client_for(app, peer="127.0.0.1") as client:
        poll = await create_poll(
            client, auth, options=["Да", "Нет", "Не знаю", "Против всех"], multiple=False
        )
        pid = poll["poll_id"]
        expected = {"o1": 0, "o2": 0, "o3": 0, "o4": 0}

        # one client per concurrent slot, its cookies cleared before each vote: a new voter
        slots = [
            httpx.AsyncClient(transport=client._transport, base_url="http://polls.test")
            for _ in range(BATCH)
        ]

        async def vote(i: int) -> int:
            option = f"o{i % 7 % 4 + 1}"
            expected[option] += 1
            voter = slots[i % BATCH]
            voter.cookies.clear()
            r = await voter.post(
                f"/api/v1/polls/{pid}/votes",
                json={"options": [option]},
                headers={"X-Forwarded-For": f"10.{i >> 8}.{i & 255}.1"},
            )
            return r.status_code

        started = time.perf_counter()
        statuses: list[int] = []
        for start in range(0, VOTERS, BATCH):
            statuses += await asyncio.gather(*(vote(i) for i in range(start, start + BATCH)))
        elapsed = time.perf_counter() - started
        for slot in slots:
            await slot.aclose()
        assert statuses.count(201) == VOTERS, {s: statuses.count(s) for s in set(statuses)}

        data: dict[str, Any] = (await client.get(f"/api/v1/polls/{pid}")).json()
        got = {o["option_id"]: o["votes"] for o in data["results"]["options"]}
        assert got == expected
        assert data["results"]["total_votes"] == VOTERS
        assert sum(o["percent"] for o in data["results"]["options"]) == 100
        assert await redis.scard(f"{{polls}}:voters:{pid}") == VOTERS
        print(f"{VOTERS} HTTP votes in {elapsed:.1f}s")

        # and the durable log has every one of them, once
        mongo = mongo_client(settings.mongodb_url)
        log = VoteLog(mongo[settings.mongodb_db])

        async def logged() -> bool:
            return await log.collection.count_documents({}) == VOTERS

        await eventually(logged, timeout=60, what="vote log in MongoDB")
        entries = await log.for_poll(pid)
        assert len({e.voter_id for e in entries}) == VOTERS
        per_option = {o: sum(1 for e in entries if e.options == (o,)) for o in expected}
        assert per_option == expected
        await mongo.close()


async def test_the_same_voter_voting_a_hundred_times_is_counted_once(
    make_settings: SettingsFactory, auth: dict[str, str]
) -> None:
    settings = make_settings(vote_rate_limit=1000)
    async with running(settings) as app, client_for(app) as client:
        pid = (await create_poll(client, auth))["poll_id"]
        first = await client.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1"]})
        assert first.status_code == 201
        assert client.cookies.get("xabar_voter")
        again = await asyncio.gather(
            *(
                client.post(f"/api/v1/polls/{pid}/votes", json={"options": [f"o{1 + i % 2}"]})
                for i in range(99)
            )
        )
        assert [r.status_code for r in again] == [409] * 99
        assert {r.json()["error"]["code"] for r in again} == {"already_voted"}
        results = (await client.get(f"/api/v1/polls/{pid}")).json()["results"]
        assert results["total_votes"] == 1
        assert [o["votes"] for o in results["options"]] == [1, 0]


async def test_concurrent_first_votes_of_one_voter_count_once(
    app: Starlette, auth: dict[str, str]
) -> None:
    service = app.state.polls.service
    async with client_for(app) as client:
        pid = (await create_poll(client, auth))["poll_id"]
    from xabar.polls.voters import Origin

    results = await asyncio.gather(
        *(
            service.vote(pid, "voter-same-0000000000", ["o1"], Origin(f"a{i}", f"s{i}"))
            for i in range(100)
        ),
        return_exceptions=True,
    )
    counted = [r for r in results if not isinstance(r, BaseException)]
    refused = [type(r).__name__ for r in results if isinstance(r, BaseException)]
    assert len(counted) == 1
    assert set(refused) == {"AlreadyVoted"}
    counts = await service.counter.counts(pid)
    assert counts.total == 1 and counts.options == {"o1": 1, "o2": 0}


async def test_spoofed_forwarded_for_from_an_untrusted_peer_creates_no_new_voters(
    make_settings: SettingsFactory, auth: dict[str, str], redis: Redis
) -> None:
    # Only 10.0.0.1 is a trusted proxy; the attacker connects from 198.51.100.9 and forges the
    # header. Each request comes without a cookie (a "new" voter), so only the address rules
    # stand between it and the counter: 3 votes per address on a poll.
    settings = make_settings(trusted_proxies=("10.0.0.1",), address_limit=3, vote_rate_limit=1000)
    async with running(settings) as app:
        async with client_for(app) as editor_client:
            pid = (await create_poll(editor_client, auth))["poll_id"]
        transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 40000))
        statuses = []
        for i in range(20):
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as attacker:
                r = await attacker.post(
                    f"/api/v1/polls/{pid}/votes",
                    json={"options": ["o1"]},
                    headers={"X-Forwarded-For": f"192.0.2.{i}, 10.0.0.1"},
                )
                statuses.append(r.status_code)
        assert statuses.count(201) == 3
        assert statuses.count(429) == 17
        counts = await app.state.polls.service.counter.counts(pid)
        assert counts.total == 3
        assert await redis.scard(f"{{polls}}:voters:{pid}") == 3

        # The same header from the trusted proxy is believed: a new address gets its own quota.
        proxied = httpx.ASGITransport(app=app, client=("10.0.0.1", 40000))
        async with httpx.AsyncClient(transport=proxied, base_url="http://t") as via_proxy:
            r = await via_proxy.post(
                f"/api/v1/polls/{pid}/votes",
                json={"options": ["o2"]},
                headers={"X-Forwarded-For": "192.0.2.77"},
            )
        assert r.status_code == 201
        # every stored address is a salted hash, never the address itself
        entries = await redis.xrange("{polls}:votes")
        mongo_entries = await app.state.polls.service.votes.for_poll(pid)
        stored = [VoteEntry.of(e[1]).address for e in entries] + [e.address for e in mongo_entries]
        assert stored and all(len(a) == 32 and "." not in a for a in stored)


async def test_multiple_choice_counts_each_chosen_option_and_one_voter(
    app: Starlette, auth: dict[str, str]
) -> None:
    async with client_for(app) as client:
        pid = (await create_poll(client, auth, options=["A", "B", "C"], multiple=True))["poll_id"]
        r = await client.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1", "o3"]})
        assert r.status_code == 201, r.text
        results = r.json()["results"]
        assert results["total_votes"] == 1
        assert [o["votes"] for o in results["options"]] == [1, 0, 1]
        assert [o["percent"] for o in results["options"]] == [50, 0, 50]


async def test_request_rate_and_cooldown_per_address_answer_429(
    make_settings: SettingsFactory, auth: dict[str, str]
) -> None:
    settings = make_settings(vote_rate_limit=5, address_cooldown_s=30, address_limit=3)
    async with running(settings) as app, client_for(app) as editor_client:
        pid = (await create_poll(editor_client, auth))["poll_id"]
        statuses, retry = [], []
        for _ in range(7):
            async with client_for(app) as c:  # a new voter each time, one address
                r = await c.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1"]})
                statuses.append(r.status_code)
                retry.append(r.headers.get("retry-after"))
                if r.status_code == 429:
                    assert r.json()["error"]["code"] == "too_many_votes"
        # 1st counted, 2nd..5th inside the cooldown, 6th and 7th over the request rate
        assert statuses == [201, 429, 429, 429, 429, 429, 429]
        assert all(int(x) >= 1 for x in retry[1:])
