"""Redis dies and comes back (from its AOF): readers get a clear 503, never a stack trace, the
service carries on by itself, and every vote acknowledged before the crash is still counted."""

import asyncio
from pathlib import Path

from redis.asyncio import Redis

from tests.polls.conftest import SettingsFactory, client_for, create_poll, running
from tests.support.waiting import eventually
from xabar.runtime.localinfra import start_redis


async def test_a_redis_crash_answers_503_and_the_service_recovers_on_its_own(
    make_settings: SettingsFactory, auth: dict[str, str], tmp_path: Path
) -> None:
    server = await asyncio.to_thread(start_redis, tmp_path / "redis")
    try:
        settings = make_settings(redis_url=server.url, address_limit=1000)
        async with running(settings) as app, client_for(app) as client:
            pid = (await create_poll(client, auth))["poll_id"]
            acked = 0
            for _ in range(20):
                async with client_for(app) as reader:
                    r = await reader.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1"]})
                    acked += r.status_code == 201
            assert acked == 20

            await asyncio.to_thread(server.kill)  # SIGKILL, as a crash
            async with client_for(app) as reader:
                r = await reader.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1"]})
                assert r.status_code == 503
                assert r.json()["error"]["code"] == "unavailable"
                assert r.headers["retry-after"]
                page = await reader.get(f"/polls/{pid}")
                assert page.status_code == 503 and "временно недоступен" in page.text
                form = await reader.post(f"/api/v1/polls/{pid}/votes", data={"option": "o1"})
                assert form.status_code == 503 and "временно недоступен" in form.text

            await asyncio.to_thread(server.restart)

            async def answers() -> bool:
                async with client_for(app) as reader:
                    r = await reader.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o2"]})
                    return r.status_code == 201

            await eventually(answers, what="voting again after Redis came back")
            view = (await client.get(f"/api/v1/polls/{pid}")).json()
            assert view["results"]["options"][0]["votes"] == 20  # nothing acknowledged lost
            assert view["results"]["total_votes"] >= 21

            probe = Redis.from_url(server.url)  # a connection of its own: the pooled ones died

            async def written() -> bool:
                return int(await probe.xlen("{polls}:votes")) == 0

            try:
                await eventually(written, what="the vote log written after the outage")
            finally:
                await probe.aclose()
            [report] = await app.state.polls.service.recount(pid)
            assert report.agrees, report.differences
    finally:
        await asyncio.to_thread(server.stop)
