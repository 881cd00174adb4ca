"""The durable vote log in MongoDB: every counted vote lands there once; recounts and rebuilds."""

import asyncio

import httpx
from redis.asyncio import Redis
from starlette.applications import Starlette

from tests.polls.conftest import (
    SettingsFactory,
    client_for,
    create_poll,
    run_cli,
    running,
    stream_events,
)
from tests.support.waiting import eventually
from xabar.contracts import dlq_stream
from xabar.polls.bootstrap import build, redis_client
from xabar.polls.config import PollsSettings
from xabar.polls.counter import VoteEntry
from xabar.polls.service import PollService
from xabar.polls.votelog import GROUP, VoteLogWriter
from xabar.polls.voters import Origin
from xabar.runtime.bus import list_dead_letters, replay_dead_letters
from xabar.runtime.mongo import mongo_client


async def drained(redis: Redis) -> None:
    async def empty() -> bool:
        return int(await redis.xlen("{polls}:votes")) == 0

    await eventually(empty, what="vote log written to MongoDB")


async def cast(service: PollService, pid: str, n: int, prefix: str = "v") -> list[str]:
    voters = [f"{prefix}-{i:05d}-abcdefghijkl" for i in range(n)]
    for i, voter in enumerate(voters):
        await service.vote(pid, voter, [f"o{1 + i % 2}"], Origin(f"addr{i}", f"net{i}"))
    return voters


async def voted_and_logged(
    app: Starlette, client: httpx.AsyncClient, auth: dict[str, str], redis: Redis, n: int
) -> tuple[PollService, str, list[str]]:
    """A poll created on the running ``app`` and ``n`` votes cast on it, all of them written to
    the MongoDB log: the service, the poll's id and the voters."""
    service = app.state.polls.service
    pid = (await create_poll(client, auth))["poll_id"]
    voters = await cast(service, pid, n)
    await drained(redis)
    return service, pid, voters


async def test_every_counted_vote_is_in_the_mongodb_log_and_the_recount_agrees(
    settings: PollsSettings, auth: dict[str, str], redis: Redis
) -> None:
    async with running(settings) as app, client_for(app) as client:
        service, pid, voters = await voted_and_logged(app, client, auth, redis, 30)
        docs = await service.votes.collection.find({"poll_id": pid}).to_list(None)
        assert sorted(d["_id"] for d in docs) == sorted(f"{pid}:{v}" for v in voters)
        by_voter = {d["voter_id"]: d for d in docs}
        assert by_voter[voters[0]]["options"] == ["o1"]
        assert by_voter[voters[1]]["options"] == ["o2"]
        assert sorted(d["seq"] for d in docs) == list(range(1, 31))

        rc, out, err = await run_cli(settings, "recount", pid)
        assert rc == 0, out + err
        assert f"poll {pid}: ok, 30 votes" in out
        assert "1 polls recounted, 0 with differences" in out


async def test_recount_reports_differences_and_repair_rewrites_redis(
    settings: PollsSettings, auth: dict[str, str], redis: Redis
) -> None:
    async with running(settings) as app, client_for(app) as client:
        service, pid, voters = await voted_and_logged(app, client, auth, redis, 10)
        # Redis drifts from the log: inflated counters, one voter forgotten
        await redis.hincrby(f"{{polls}}:counts:{pid}", "o:o1", 7)
        await redis.hincrby(f"{{polls}}:counts:{pid}", "#total", 7)
        await redis.srem(f"{{polls}}:voters:{pid}", voters[3])
        seq_before = int(await redis.hget(f"{{polls}}:counts:{pid}", "#seq"))

        rc, out, _ = await run_cli(settings, "recount", pid)
        assert rc == 1
        assert "DIFFERENT" in out
        assert "option o1: Redis 12, log 5" in out
        assert "total: Redis 17, log 10" in out
        assert "1 voters of the log are not in Redis" in out

        rc, out, _ = await run_cli(settings, "recount", pid, "--repair")
        assert rc == 0, out
        assert "repaired" in out
        counts = await service.counter.counts(pid)
        assert counts.options == {"o1": 5, "o2": 5} and counts.total == 10
        assert counts.seq == seq_before + 1  # a newer tally version for the corrected counts
        rc, out, _ = await run_cli(settings, "recount", pid, "--json")
        assert rc == 0 and '"agrees": true' in out
        # the forgotten voter is known again: no second vote
        r = await service.counter.cast(pid, voters[3], ["o1"], "", "")
        assert r.status == "voted"


async def test_counters_lost_with_redis_are_rebuilt_from_the_log_on_start(
    make_settings: SettingsFactory, auth: dict[str, str], redis: Redis
) -> None:
    settings = make_settings()
    async with running(settings) as app, client_for(app) as client:
        service = app.state.polls.service
        pid = (await create_poll(client, auth, options=["A", "B", "C"]))["poll_id"]
        async with client_for(app) as early:
            assert (
                await early.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o3"]})
            ).status_code == 201
            early_cookie = early.cookies["xabar_voter"]
        await cast(service, pid, 20)
        await drained(redis)

        async def tallied() -> bool:
            events = [e for e in await stream_events(redis) if e.type == "poll.tallied"]
            return bool(events) and events[-1].data.total_votes == 21  # type: ignore[attr-defined]

        await eventually(tallied, what="a tally of all 21 votes")
        last_version = [e for e in await stream_events(redis) if e.type == "poll.tallied"][-1]

    await redis.flushdb()  # Redis loses everything (the service is stopped)

    async with running(settings) as app, client_for(app) as client:
        view = (await client.get(f"/api/v1/polls/{pid}")).json()
        assert view["results"]["total_votes"] == 21
        assert [o["votes"] for o in view["results"]["options"]] == [10, 10, 1]
        client.cookies.set("xabar_voter", early_cookie)
        again = await client.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1"]})
        assert again.status_code == 409  # the voter set came back with the counters
        async with client_for(app) as newcomer:
            r = await newcomer.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o1"]})
            assert r.status_code == 201
        [report] = await app.state.polls.service.recount(pid)
        assert report.agrees, report.differences

        async def tally_of_the_newcomer() -> bool:
            # the rebuild itself may be tallied first (21 votes, a version past the loss);
            # a tally always follows the last vote: 22, newer than any before the loss
            events = [e for e in await stream_events(redis) if e.type == "poll.tallied"]
            if not events:  # none published yet since the loss
                return False
            last = events[-1]
            return last.data.total_votes == 22 and last.version > last_version.version  # type: ignore[attr-defined]

        await eventually(tally_of_the_newcomer, what="a tally of 22, newer than before the loss")
        events = [e for e in await stream_events(redis) if e.type == "poll.tallied"]
        versions = [e.version for e in events]
        assert versions == sorted(versions)  # tallies never go back, across the loss too


async def test_entries_a_crashed_writer_left_pending_are_claimed_and_stored_once(
    make_settings: SettingsFactory, auth: dict[str, str], redis: Redis
) -> None:
    settings = make_settings(claim_idle_ms=100)
    mongo = mongo_client(settings.mongodb_url)
    polls = build(settings, redis=redis_client(settings), mongo=mongo, publish=_no_events)
    async with running(settings) as app, client_for(app) as client:
        pid = (await create_poll(client, auth))["poll_id"]
    # the service is stopped; votes are counted and a writer reads them, then "crashes"
    outcomes = await polls.service.cast_unaddressed(
        pid, [(f"imp-{i}", ["o1" if i % 3 else "o2"]) for i in range(50)]
    )
    assert {o.status for o in outcomes} == {"ok"}
    await polls.writer.ensure_group()
    read = await redis.xreadgroup(GROUP, "crashed-writer", {"{polls}:votes": ">"}, count=20)
    assert len(read[0][1]) == 20
    # half of what it read had reached MongoDB before the crash
    half = [VoteEntry.of(fields) for _, fields in read[0][1][:10]]
    await polls.service.votes.write(half)

    survivor = VoteLogWriter(
        polls.service.counter,
        polls.service.votes,
        consumer="survivor",
        claim_idle_ms=100,
    )
    await asyncio.sleep(0.15)
    assert await survivor.claim_stale() == 20
    assert await survivor.drain() == 50
    assert int(await redis.xlen("{polls}:votes")) == 0
    pending = await redis.xpending("{polls}:votes", GROUP)
    assert pending["pending"] == 0
    assert await polls.service.votes.collection.count_documents({"poll_id": pid}) == 50
    [report] = await polls.service.recount(pid)
    assert report.agrees and report.log.total == 50
    await polls.service.counter.redis.aclose()
    await mongo.close()


async def _no_events(_: object) -> None:
    raise AssertionError("nothing is published here")


async def test_a_poll_redis_lost_under_a_running_service_is_rebuilt_on_first_use(
    make_settings: SettingsFactory, auth: dict[str, str], redis: Redis
) -> None:
    settings = make_settings(resync_interval_s=3600)  # only first use can repair it here
    async with running(settings) as app, client_for(app) as client:
        service, pid, voters = await voted_and_logged(app, client, auth, redis, 12)
        await redis.flushdb()

        listed = (await client.get("/api/v1/polls")).json()
        assert [p["poll_id"] for p in listed["items"]] == [pid]
        r = await service.counter.cast(pid, voters[0], ["o1"], "", "")
        assert r.status == "voted"  # the voter set came back from the log
        async with client_for(app) as newcomer:
            resp = await newcomer.post(f"/api/v1/polls/{pid}/votes", json={"options": ["o2"]})
        assert resp.status_code == 201
        assert resp.json()["results"]["total_votes"] == 13
        await drained(redis)  # the writer recreated its group and goes on
        assert await service.votes.collection.count_documents({"poll_id": pid}) == 13


def test_log_entries_of_both_layouts_read_the_same() -> None:
    """The script writes one packed field; entries written field by field by earlier versions
    (still in a stream after an upgrade) read the same. A voter id may hold the separator."""
    old = {
        b"poll": b"p1",
        b"voter": b"import:key|odd:7",
        b"options": b"o1,o3",
        b"addr": b"a" * 32,
        b"subnet": b"s" * 32,
        b"at": b"1795706040123",
        b"seq": b"42",
        b"flag": b"address,subnet",
    }
    packed = {
        b"v": b"|".join(
            old[k]
            for k in (b"poll", b"voter", b"options", b"addr", b"subnet", b"at", b"seq", b"flag")
        )
    }
    assert (
        VoteEntry.of(packed)
        == VoteEntry.of(old)
        == VoteEntry(
            "p1",
            "import:key|odd:7",
            ("o1", "o3"),
            "a" * 32,
            "s" * 32,
            1795706040123,
            42,
            ("address", "subnet"),
        )
    )
    unflagged = VoteEntry.of({b"v": b"p1|v1|o2|||5|1|"})
    assert unflagged.flags == () and unflagged.address == "" and unflagged.options == ("o2",)


async def test_a_poison_entry_in_the_vote_log_goes_to_its_dlq_and_the_votes_after_it_are_written(
    make_settings: SettingsFactory, auth: dict[str, str], redis: Redis
) -> None:
    settings = make_settings(votelog_interval_s=0.05)
    await redis.xadd("{polls}:votes", {"v": "not|a|vote"})  # too few parts: does not decode
    async with running(settings) as app, client_for(app) as client:
        service, pid, voters = await voted_and_logged(app, client, auth, redis, 10)
        docs = await service.votes.collection.find({"poll_id": pid}).to_list(None)
        assert sorted(d["_id"] for d in docs) == sorted(f"{pid}:{v}" for v in voters)
        letters = await list_dead_letters(redis, "{polls}:votes")
        assert [letter.payload for letter in letters] == [{b"v": b"not|a|vote"}]
        assert letters[0].deliveries >= 5 and "ValueError" in letters[0].error
        pending = await redis.xpending("{polls}:votes", GROUP)
        assert pending["pending"] == 0

        # replayed by the ops CLI: still poison, back in the DLQ; the votes after it written
        assert await replay_dead_letters(redis, "{polls}:votes") == 1
        more = await cast(service, pid, 3, prefix="w")
        await drained(redis)
        assert await redis.xlen(dlq_stream("{polls}:votes")) == 1
        count = await service.votes.collection.count_documents({"poll_id": pid})
        assert count == len(voters) + len(more)


async def test_the_writer_steps_aside_while_votes_pour_in_and_writes_them_all_after(
    make_settings: SettingsFactory, auth: dict[str, str], redis: Redis
) -> None:
    settings = make_settings(votelog_yield_above=1, votelog_interval_s=0.05)
    async with running(settings) as app, client_for(app) as client:
        service = app.state.polls.service
        pid = (await create_poll(client, auth))["poll_id"]
        await asyncio.sleep(0.3)  # the writer has had its first looks at the stream
        voters = await cast(service, pid, 100, prefix="early")  # a burst: well above 1 a second
        # written meanwhile: at most what one look let through before it saw the burst
        in_redis = int(await redis.xlen("{polls}:votes"))
        more = await cast(service, pid, 100, prefix="late")
        assert int(await redis.xlen("{polls}:votes")) >= in_redis + 100  # none of these written
        await drained(redis)  # the burst over, everything is written
        docs = await service.votes.collection.count_documents({"poll_id": pid})
        assert docs == len(voters) + len(more)
        backlog = await service.counter.log_backlog()
        assert backlog.length == 0 and backlog.added >= 200
