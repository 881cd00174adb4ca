"""``make drills``: faults under load, one drill at a time. Each ends with what was lost and what
was applied twice; both must be 0. Results: table on stdout, JSON in .bench/drills.json.

Drills (each on a fresh stack in .bench/drills/<name>):
  kill9-ingest      tips under load, ingest SIGKILLed and restarted; careful clients retry with
                    one Idempotency-Key: every 202 reaches the publisher's inbox, none twice
  kill9-publisher   the editors' import under way, publisher SIGKILLed and the import re-run:
                    every article reaches the feed once
  kill9-feed        20,000 article events, the feed SIGKILLed mid-projection and restarted
  kill9-polls       votes under load, polls SIGKILLed and restarted: every acknowledged vote is
                    counted, and the counters agree with the durable vote log
  redis-restart     votes under load, redis-server SIGKILLed and restarted from its AOF
  mongo-outage      tips under load, FerretDB stopped for 30 s: ingest refuses honestly (503) or
                    keeps its promise; after it returns, every 202 reaches the publisher
  poison            an unreadable event on xabar.articles lands in the DLQ; the ops CLI lists
                    and replays it; the feed goes on
  replica-churn     a second feed replica joins mid-stream and is SIGKILLed later: every event
                    applied exactly once
  comments          readers' comments on one article, ingest SIGKILLed and restarted; careful
                    clients retry with one Idempotency-Key: every 202 is stored and sent once
  redis-failover    tips and votes on a Sentinel-managed Redis (REDIS_MIN_REPLICAS=1), its
                    primary SIGKILLed and a replica promoted: every 202 and 201 kept once
  cluster-master-kill  the same on a 3-master, 3-replica Redis Cluster, one master SIGKILLed
                    until its replica takes over (ha_drills.py)
"""

import asyncio
import itertools
import json
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from xabar.devstack.clients import (
    chief_token,
    ensure_chief,
    feed_total,
    import_poll,
    publisher_api,
    submit_until_accepted,
)
from xabar.devstack.loadgen import publish_synthetic_articles
from xabar.devstack.stack import RedisKind, ServiceProc, Stack, running_stack, say

from xabar.contracts import ARTICLES_STREAM, GROUP_FEED, dlq_stream
from xabar.runtime.bus import list_dead_letters, replay_dead_letters
from xabar.runtime.localinfra import free_port

RELAXED = {
    "ingest": {
        "XABAR_INGEST_SUBMIT_RATE_LIMIT": "100000000",
        "XABAR_INGEST_COMMENT_RATE_LIMIT": "100000000",
    },
    "polls": {"XABAR_POLLS_ADDRESS_LIMIT": "1000000", "XABAR_POLLS_ADDRESS_COOLDOWN_S": "0"},
}
# votes from one address as fast as the load sends them (the drills count, the limits do not)
VOTING = {**RELAXED, "polls": {**RELAXED["polls"], "XABAR_POLLS_VOTE_RATE_LIMIT": "100000000"}}
FAST_CLAIM = {
    n: {f"XABAR_{n.upper()}_CLAIM_IDLE_MS": "2000"}
    for n in ("feed", "ingest", "publisher", "polls")
}


@dataclass
class DrillResult:
    name: str
    lost: int
    duplicated: int
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0  # -1 marks a drill that did not finish


async def wait_until(
    check: Callable[[], Awaitable[bool]], timeout: float, step: float = 0.5
) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if await check():
            return True
        await asyncio.sleep(step)
    return False


def restart(svc: ServiceProc) -> None:
    svc.start()
    svc.wait_ready(90)


async def killed_and_restarted(svc: ServiceProc, said: str) -> None:
    """``svc`` SIGKILLed (``said`` so), then started again and ready."""
    svc.kill9()
    say("drill", said)
    await asyncio.to_thread(restart, svc)


async def redis_killed_and_restarted(stack: Stack, said: str) -> None:
    """redis-server SIGKILLed (``said`` so), down a second, then restarted from its AOF."""
    stack.redis.kill()
    say("drill", said)
    await asyncio.sleep(1.0)
    await asyncio.to_thread(stack.redis.restart)
    say("drill", "redis-server restarted from its AOF")


async def inbox_ids(stack: Stack, token: str) -> list[str]:
    ids: list[str] = []
    async with publisher_api(stack, token) as client:
        page = 1
        while True:
            resp = await client.get("/api/v1/inbox", params={"page": page, "per_page": 100})
            resp.raise_for_status()
            items = resp.json()["items"]
            ids += [str(i["submission_id"]) for i in items]
            if len(items) < 100:
                return ids
            page += 1


async def _login_when_ready(stack: Stack, timeout: float = 60) -> str:
    """The chief's token, once the publisher answers a login again (a service whose Redis was
    just restarted answers 503 until it has reconnected). Rarely: the login is rate limited."""
    end = time.monotonic() + timeout
    while True:
        try:
            return await chief_token(stack)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 503 or time.monotonic() > end:
                raise
            await asyncio.sleep(2)


async def drill_kill9_ingest(
    stack: Stack, mongo_outage: bool = False, redis_restart: bool = False
) -> DrillResult:
    """Tips under load (each client retries with one Idempotency-Key until it gets a 2xx), and
    one fault: ingest SIGKILLed, FerretDB stopped for 30 s, or redis-server SIGKILLed (an accept
    is durable in Redis's AOF before it is answered) and restarted. Every accepted tip must
    reach the publisher's inbox once."""
    ensure_chief(stack)
    ingest = stack.services["ingest"]
    accepted: list[str] = []
    retried = 0  # tips that needed more than one attempt: the fault hit them in flight
    refused_503 = 0
    fault_over = asyncio.Event()
    numbers = itertools.count()

    async def client_loop(client: httpx.AsyncClient) -> None:
        # tips keep coming until a second after the fault is over (and at least 400)
        nonlocal retried
        while not fault_over.is_set() or len(accepted) < 400:
            sid, attempts = await submit_until_accepted(client, next(numbers), deadline_s=180)
            accepted.append(sid)
            retried += attempts > 1
            await asyncio.sleep(0.2)  # 16 clients, about 80 tips a second: a steady load

    async def fault() -> None:
        nonlocal refused_503
        await asyncio.sleep(1.5)
        if mongo_outage:
            stack.mongo.stop()
            say("drill", "FerretDB stopped for 30 s")
            async with httpx.AsyncClient(base_url=ingest.url, timeout=5) as probe:
                for _ in range(10):
                    try:
                        r = await probe.post(
                            "/api/v1/submissions",
                            json={
                                "title": "проверка",
                                "text": "проверка",
                                "country": "KZ",
                                "anonymous": True,
                                "consent": True,
                            },
                        )
                        refused_503 += r.status_code == 503
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(3)
            await asyncio.to_thread(stack.mongo.restart)
            say("drill", "FerretDB back")
        elif redis_restart:
            await redis_killed_and_restarted(stack, "redis-server SIGKILLed under tips")
        else:
            await killed_and_restarted(ingest, "ingest SIGKILLed")
            say("drill", "ingest restarted")
        await asyncio.sleep(1.0)
        fault_over.set()

    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=ingest.url, timeout=10, limits=limits) as client:
        await asyncio.gather(fault(), *(client_loop(client) for _ in range(16)))
    unique = set(accepted)
    token = await _login_when_ready(stack)

    async def all_in_inbox() -> bool:
        return unique <= set(await inbox_ids(stack, token))

    await wait_until(all_in_inbox, 300, 2)
    inbox = await inbox_ids(stack, token)
    lost = len(unique - set(inbox))
    duplicated = (len(accepted) - len(unique)) + (len(inbox) - len(set(inbox)))
    details = {
        "accepted": len(accepted),
        "retried_across_the_fault": retried,
        "in_inbox": len(set(inbox) & unique),
    }
    if mongo_outage:
        details["answered_503_while_down"] = refused_503
    name = "mongo-outage" if mongo_outage else "redis-restart-ingest" if redis_restart else None
    return DrillResult(name or "kill9-ingest", lost, duplicated, details)


async def drill_kill9_feed(stack: Stack, churn: bool = False) -> DrillResult:
    """Events are written while the feed applies them; the kill lands when a quarter is in the
    feed, so it interrupts the projection (the applied count and the pending entries at the kill
    are reported, and the drill fails if nothing was left to apply)."""
    count = 100_000
    feed = stack.services["feed"]
    writer = asyncio.create_task(publish_synthetic_articles(stack.redis.url, count, batch=500))
    extra: ServiceProc | None = None
    if churn:
        port = free_port()
        extra = ServiceProc(
            "feed",
            port,
            {
                **feed.env,
                "XABAR_FEED_PORT": str(port),
                "XABAR_FEED_METRICS_PORT": str(free_port()),  # not the first replica's
                "XABAR_FEED_CONSUMER_NAME": "feed-2",
            },
            stack.state / "logs" / "feed-2.log",
            echo=False,
        )
        extra.start()
        extra.wait_ready(60)
        say("drill", "feed replica 2 joined")

    async def a_quarter_in() -> bool:
        return await feed_total(stack) >= count // 4

    await wait_until(a_quarter_in, 180, 0.05)
    at_kill = await feed_total(stack)
    if extra is not None:
        extra.kill9()
        say("drill", f"feed replica 2 SIGKILLed with {at_kill} of {count} in the feed")
    else:
        feed.kill9()
        say("drill", f"feed SIGKILLed mid-projection with {at_kill} of {count} in the feed")
        restart(feed)
    await writer
    if at_kill >= count:
        raise RuntimeError("the kill did not land mid-projection: everything was applied")

    async def done() -> bool:
        return await feed_total(stack) >= count

    await wait_until(done, 180, 1)
    total = await feed_total(stack)
    redis = aioredis.from_url(stack.redis.url)
    try:

        async def drained() -> bool:
            info = await redis.xpending(ARTICLES_STREAM, GROUP_FEED)
            return int(info["pending"]) == 0

        await wait_until(drained, 60, 1)
        pending = int((await redis.xpending(ARTICLES_STREAM, GROUP_FEED))["pending"])
    finally:
        await redis.aclose()
    return DrillResult(
        "replica-churn" if churn else "kill9-feed",
        max(0, count - total),
        max(0, total - count),
        {"events": count, "in_feed_at_kill": at_kill, "in_feed": total, "pending_after": pending},
    )


async def drill_kill9_publisher(stack: Stack) -> DrillResult:
    from xabar.devstack.demo import generated_items

    count = 3000
    path = stack.state / "import.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for item in generated_items(count, seed=7):
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    env = {**os.environ, **stack.env_for("publisher")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "xabar.publisher",
        "import-articles",
        str(path),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    # the kill lands by progress, not by time: once a fifth of the articles are on the stream
    redis = aioredis.from_url(stack.redis.url)
    try:
        while (on_stream := await redis.xlen(ARTICLES_STREAM)) < count // 5:
            if proc.returncode is not None:
                raise RuntimeError("the import ended before it could be killed")
            await asyncio.sleep(0.01)
    finally:
        await redis.aclose()
    proc.kill()
    await proc.wait()
    stack.services["publisher"].kill9()
    say("drill", f"import and publisher SIGKILLed with {on_stream} of {count} on the stream")
    restart(stack.services["publisher"])
    await asyncio.to_thread(stack.cli, "publisher", "import-articles", str(path))

    async def done() -> bool:
        return await feed_total(stack) >= count

    await wait_until(done, 180, 1)
    await asyncio.sleep(3)
    total = await feed_total(stack)
    return DrillResult(
        "kill9-publisher",
        max(0, count - total),
        max(0, total - count),
        {"articles": count, "on_stream_at_kill": on_stream, "in_feed": total},
    )


async def _poll_for_votes(stack: Stack) -> tuple[str, list[str]]:
    import_poll(stack, "drill", "Проверка?", {"Да": 0, "Нет": 0})
    async with httpx.AsyncClient(base_url=stack.services["polls"].url, timeout=10) as client:
        poll = (await client.get("/api/v1/polls")).json()["items"][0]
        detail = (await client.get(f"/api/v1/polls/{poll['poll_id']}")).json()
    return str(poll["poll_id"]), [str(o["option_id"]) for o in detail["options"]]


async def _poll_total(stack: Stack, poll_id: str) -> int:
    async with httpx.AsyncClient(base_url=stack.services["polls"].url, timeout=10) as client:
        data = (await client.get(f"/api/v1/polls/{poll_id}")).json()
        return int(data["results"]["total_votes"])


async def drill_votes(stack: Stack, fault_redis: bool) -> DrillResult:
    poll_id, options = await _poll_for_votes(stack)
    polls = stack.services["polls"]
    acked = 0
    failed = 0
    stop = asyncio.Event()

    async def voter(client: httpx.AsyncClient, n: int) -> None:
        nonlocal acked, failed
        while not stop.is_set():
            try:
                client.cookies.clear()  # every request a new voter (the address limit is relaxed)
                resp = await client.post(
                    f"/api/v1/polls/{poll_id}/votes", json={"options": [options[n % 2]]}
                )
                if resp.status_code in (200, 201, 202):
                    acked += 1
                else:
                    failed += 1
            except httpx.HTTPError:
                failed += 1
                await asyncio.sleep(0.1)

    async def fault() -> None:
        await asyncio.sleep(2)
        if fault_redis:
            await redis_killed_and_restarted(stack, "redis-server SIGKILLed")
        else:
            await killed_and_restarted(polls, "polls SIGKILLed")
        await asyncio.sleep(3)
        stop.set()

    async with httpx.AsyncClient(base_url=polls.url, timeout=5) as client:
        await asyncio.gather(fault(), *(voter(client, n) for n in range(16)))
    await asyncio.sleep(3)
    total = await _poll_total(stack, poll_id)
    recount = stack.cli("polls", "recount", poll_id, check=False)
    return DrillResult(
        "redis-restart" if fault_redis else "kill9-polls",
        max(0, acked - total),
        0,
        {
            "acknowledged": acked,
            "counted": total,
            "failed_or_unanswered": failed,
            "counted_without_answer": max(0, total - acked),
            "recount_exit": recount,
        },
    )


async def drill_poison(stack: Stack) -> DrillResult:
    redis = aioredis.from_url(stack.redis.url)
    try:
        await redis.xadd(ARTICLES_STREAM, {"__data__": b"\x00 not an event"})
        await publish_synthetic_articles(stack.redis.url, 10)

        async def dead() -> bool:
            return await redis.xlen(dlq_stream(ARTICLES_STREAM)) >= 1

        landed = await wait_until(dead, 30, 0.5)
        letters = await list_dead_letters(redis, ARTICLES_STREAM)
        replayed = await replay_dead_letters(redis, ARTICLES_STREAM)
        again = await wait_until(dead, 30, 0.5)

        async def feed_went_on() -> bool:
            return await feed_total(stack) >= 10

        went_on = await wait_until(feed_went_on, 30, 0.5)
    finally:
        await redis.aclose()
    return DrillResult(
        "poison",
        0 if went_on else 10 - await feed_total(stack),
        0,
        {
            "landed_in_dlq": landed,
            "error": letters[0].error if letters else None,
            "replayed": replayed,
            "back_in_dlq_after_replay": again,
        },
    )


async def _drill_comments(stack: Stack) -> DrillResult:
    from xabar.devstack.comments_drill import drill_comments  # it builds on this module

    return await drill_comments(stack)


async def _drill_failover(stack: Stack) -> DrillResult:
    from xabar.devstack.ha_drills import drill_failover  # it builds on this module

    return await drill_failover(stack)


DRILLS: dict[
    str, tuple[Callable[[Stack], Coroutine[Any, Any, DrillResult]], dict[str, dict[str, str]]]
] = {
    "kill9-ingest": (drill_kill9_ingest, RELAXED),
    "kill9-publisher": (drill_kill9_publisher, {}),
    "kill9-feed": (drill_kill9_feed, FAST_CLAIM),
    "kill9-polls": (lambda s: drill_votes(s, fault_redis=False), RELAXED),
    "redis-restart": (lambda s: drill_votes(s, fault_redis=True), RELAXED),
    "mongo-outage": (lambda s: drill_kill9_ingest(s, mongo_outage=True), RELAXED),
    "redis-restart-ingest": (lambda s: drill_kill9_ingest(s, redis_restart=True), RELAXED),
    "poison": (drill_poison, {}),
    "replica-churn": (lambda s: drill_kill9_feed(s, churn=True), FAST_CLAIM),
    "comments": (_drill_comments, RELAXED),
    "redis-failover": (_drill_failover, VOTING),
    "cluster-master-kill": (_drill_failover, VOTING),
}
# the drills whose services talk to another Redis deployment than one redis-server; each
# service then waits for one replica to confirm a tip or a vote (WAIT) before answering it
ON_DEPLOYMENT: dict[str, RedisKind] = {
    "redis-failover": "sentinel",
    "cluster-master-kill": "cluster",
}
REPLICATED = {
    n: {f"XABAR_{n.upper()}_REDIS_MIN_REPLICAS": "1"}
    for n in ("feed", "ingest", "publisher", "polls")
}


def main(names: list[str] | None = None) -> int:
    base = Path(".bench/drills").resolve()
    results: list[DrillResult] = []
    for name in names or list(DRILLS):
        drill, env = DRILLS[name]
        shutil.rmtree(base / name, ignore_errors=True)
        say("drill", f"--- {name}")
        started = time.monotonic()
        merged: dict[str, dict[str, str]] = {}
        redis = ON_DEPLOYMENT.get(name, "single")
        for part in (env, REPLICATED if redis != "single" else {}):
            for svc, values in part.items():
                merged.setdefault(svc, {}).update(values)
        try:
            with running_stack(base / name, echo=False, extra_env=merged, redis=redis) as stack:
                result = asyncio.run(drill(stack))
        except Exception as exc:  # a drill that could not finish counts as failed, loudly
            result = DrillResult(name, -1, -1, {"error": f"{type(exc).__name__}: {exc}"})
        result.seconds = round(time.monotonic() - started, 1)
        results.append(result)
        say("drill", f"{name}: lost={result.lost} duplicated={result.duplicated} {result.details}")
    print()
    print(f"{'drill':<20}{'lost':>6}{'dup':>6}  details")
    for r in results:
        print(
            f"{r.name:<20}{r.lost:>6}{r.duplicated:>6}  {json.dumps(r.details, ensure_ascii=False)}"
        )
    out = Path(".bench/drills.json" if names is None else ".bench/drills-partial.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=2))
    return 0 if all(r.ok for r in results) else 1
