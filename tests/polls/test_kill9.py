"""kill -9 under a vote load: after restart no acknowledged vote is lost, Redis and the MongoDB
vote log agree, and the recount finds no difference."""

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from tests.polls.conftest import SettingsFactory, polls_env, run_cli
from tests.support.procs import killed_under_load, sending, service_process
from tests.support.waiting import eventually
from xabar.polls.repository import VoteLog
from xabar.runtime.mongo import mongo_client

RELAXED = {
    "XABAR_POLLS_ADDRESS_LIMIT": "100000000",
    "XABAR_POLLS_ADDRESS_COOLDOWN_S": "0",
    "XABAR_POLLS_VOTE_RATE_LIMIT": "100000000",
    "XABAR_POLLS_LOG_LEVEL": "WARNING",
}


async def test_kill9_during_votes_loses_no_acknowledged_vote(
    make_settings: SettingsFactory, auth: dict[str, str], redis: Redis, tmp_path: Path
) -> None:
    settings = make_settings(claim_idle_ms=500)
    proc = service_process(
        "xabar.polls", {**polls_env(settings), **RELAXED}, tmp_path, "XABAR_POLLS_PORT"
    )
    await asyncio.to_thread(proc.start)
    acked: dict[str, str] = {}  # voter id -> option, for every vote answered 2xx
    stop = asyncio.Event()
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=5) as editor:
            r = await editor.post(
                "/api/v1/polls",
                json={"question": "Проверка под нагрузкой?", "options": ["Да", "Нет", "Иное"]},
                headers=auth,
            )
            assert r.status_code == 201, r.text
            pid = r.json()["poll_id"]

        def voter(n: int) -> Coroutine[Any, Any, int]:
            async def vote(client: httpx.AsyncClient, i: int) -> bool:
                option = f"o{1 + (n + i) % 3}"
                client.cookies.clear()  # a new voter every time
                resp = await client.post(f"/api/v1/polls/{pid}/votes", json={"options": [option]})
                if resp.is_success:
                    acked[resp.cookies["xabar_voter"].split(".")[0]] = option
                return resp.is_success

            return sending(proc.url, stop, vote)

        load = (voter(n) for n in range(12))
        failed = await killed_under_load(
            proc, load, acked, stop, each_side=300, poll_s=0.05, timeout=120
        )
        failures = sum(failed)
        assert failures > 0  # the kill was felt by the load

        async def written() -> bool:
            return int(await redis.xlen("{polls}:votes")) == 0

        await eventually(written, timeout=60, what="every counted vote in MongoDB")

        counted = {v.decode() for v in await redis.smembers(f"{{polls}}:voters:{pid}")}
        assert set(acked) <= counted  # nothing acknowledged is lost
        counts = await redis.hgetall(f"{{polls}}:counts:{pid}")
        assert int(counts[b"#total"]) == len(counted)

        mongo = mongo_client(settings.mongodb_url)
        entries = await VoteLog(mongo[settings.mongodb_db]).for_poll(pid)
        await mongo.close()
        logged = {e.voter_id: e.options for e in entries}
        assert set(logged) == counted
        assert all(logged[v] == (o,) for v, o in acked.items())
        for option in ("o1", "o2", "o3"):
            in_log = sum(1 for opts in logged.values() if opts == (option,))
            assert int(counts[f"o:{option}".encode()]) == in_log

        print(f"acknowledged {len(acked)}, counted {len(counted)}, failed {failures}")
        rc, out, err = await run_cli(settings, "recount", pid)
        assert rc == 0, out + err
        assert f"poll {pid}: ok, {len(counted)} votes" in out
    finally:
        stop.set()
        proc.terminate()
