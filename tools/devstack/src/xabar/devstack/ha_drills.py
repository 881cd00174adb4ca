"""The ``redis-failover`` and ``cluster-master-kill`` drills: tips and votes through the real
HTTP endpoints while Redis loses its primary, on a Sentinel-managed Redis (a primary, two
replicas, three sentinels) or on a 3-master, 3-replica Redis Cluster; every service waits for
one replica to confirm a tip or a vote before answering it (``REDIS_MIN_REPLICAS=1``).

The fault: the primary (under Sentinel), or the cluster master that holds the polls' hash tag
(every vote's slot; tips spread over all masters), is SIGKILLed once enough work is
acknowledged. The drill waits for Sentinel to promote a replica (for the killed master's replica
to take over), starts the killed server again (it comes back as a replica, so that ``WAIT 1``
can be met again) and keeps the load going a while longer.

Clients are careful: a tip keeps its Idempotency-Key and a vote its voter cookie (the polls
service hands it over with a 503 too) across retries, and a 503 ("send it again") or a broken
connection is retried. At the end:

- lost: a tip answered 202 that is not in the publisher's inbox, a vote answered 201 (or a
  retry answered 409 "already voted") whose voter is not in the durable vote log, or a vote log
  holding more voters than the poll's counters;
- applied twice: a tip in the inbox twice, one Idempotency-Key that got two submission ids, or
  a poll's counters holding more votes than the vote log has voters.
"""

import asyncio
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from pymongo import AsyncMongoClient
from redis.asyncio import RedisCluster
from xabar.devstack.clients import ensure_chief, submission_body
from xabar.devstack.drills import (
    DrillResult,
    _login_when_ready,
    _poll_for_votes,
    _poll_total,
    inbox_ids,
    wait_until,
)
from xabar.devstack.stack import Stack, say

from xabar.runtime.deployment import parse_redis_url
from xabar.runtime.localinfra import LocalRedisCluster, LocalSentinel, Server

CLIENTS = 8  # of tips, and as many of votes
BEFORE_FAULT = 150  # acknowledged tips and votes before the kill
AFTER_FAULT_S = 5.0  # the load goes on this long once the deployment is whole again
DEADLINE_S = 120.0  # one tip or vote retried at most this long
POLLS_TAG = "{polls}"  # the polls' hash tag (XABAR_POLLS_REDIS_PREFIX, its default)


@dataclass
class Load:
    tips: list[tuple[str, str]] = field(default_factory=list)  # (key, id) per 202
    voters: list[str] = field(default_factory=list)  # per 201
    voted_before: list[str] = field(default_factory=list)  # a retry answered 409
    answers: Counter[str] = field(default_factory=Counter)  # "tip 503", "vote 503", ...
    retried: int = 0  # items that took more than one attempt
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    fault_at: float | None = None

    @property
    def acknowledged(self) -> int:
        return len(self.tips) + len(self.voters)

    def refused(self, what: str) -> None:
        """Count an answer that was not an acknowledgement (a retry follows); one before the
        kill is counted apart too: it would tell of a fault the drill did not make."""
        self.answers[what] += 1
        if self.fault_at is None:
            self.answers[f"{what} before the kill"] += 1


async def _until_taken(
    load: Load, what: str, late: str, attempt: Callable[[int], Awaitable[int | None]]
) -> None:
    """``attempt`` (given its number) again every 0.2 s until it is taken (it returns None, not
    the status of a refusal): each refusal or broken connection counted as a ``what`` refused,
    a ``TimeoutError`` (``late``) past ``DEADLINE_S``."""
    end = time.monotonic() + DEADLINE_S
    for n in itertools.count(1):
        try:
            status = await attempt(n)
            if status is None:
                load.retried += n > 1
                return
            load.refused(f"{what} {status}")
        except httpx.HTTPError:
            load.refused(f"{what} connection error")
        if time.monotonic() > end:
            raise TimeoutError(f"{late} within {DEADLINE_S}s")
        await asyncio.sleep(0.2)


async def _tip(client: httpx.AsyncClient, load: Load, n: int) -> None:
    key = str(uuid.uuid4())

    async def attempt(_: int) -> int | None:
        resp = await client.post(
            "/api/v1/submissions", json=submission_body(n), headers={"Idempotency-Key": key}
        )
        if resp.status_code != 202:
            return resp.status_code
        load.tips.append((key, str(resp.json()["submission_id"])))
        return None

    await _until_taken(load, "tip", f"tip {n} not accepted", attempt)


async def _vote(client: httpx.AsyncClient, load: Load, path: str, option: str) -> None:
    client.cookies.clear()  # a new voter; its cookie (from the first answer) kept for retries

    async def attempt(n: int) -> int | None:
        resp = await client.post(path, json={"options": [option]})
        voter = (client.cookies.get("xabar_voter") or "").partition(".")[0]
        if resp.status_code == 201 or (resp.status_code == 409 and n > 1):
            (load.voters if resp.status_code == 201 else load.voted_before).append(voter)
            return None
        return resp.status_code

    await _until_taken(load, "vote", "vote not counted", attempt)


async def _run_load(stack: Stack, load: Load, poll_id: str, options: list[str]) -> None:
    ingest, polls = stack.services["ingest"].url, stack.services["polls"].url
    numbers = itertools.count()

    async def tips() -> None:
        async with httpx.AsyncClient(base_url=ingest, timeout=10) as client:
            while not load.stop.is_set():
                await _tip(client, load, next(numbers))
                await asyncio.sleep(0.05)

    async def votes(n: int) -> None:
        async with httpx.AsyncClient(base_url=polls, timeout=10) as client:
            while not load.stop.is_set():
                await _vote(client, load, f"/api/v1/polls/{poll_id}/votes", options[n % 2])
                await asyncio.sleep(0.05)

    await asyncio.gather(*(tips() for _ in range(CLIENTS)), *(votes(n) for n in range(CLIENTS)))


async def _until(what: str, check: Any, timeout: float) -> float:
    """Seconds until the blocking ``check`` holds (run in a thread; its errors: not yet)."""
    started = time.monotonic()

    async def holds() -> bool:
        try:
            return bool(await asyncio.to_thread(check))
        except Exception:  # a node just killed answers nothing: not yet
            return False

    if not await wait_until(holds, timeout, 0.2):
        raise TimeoutError(f"not within {timeout}s: {what}")
    return round(time.monotonic() - started, 1)


async def _fail_sentinel_primary(setup: LocalSentinel, details: dict[str, Any]) -> Server:
    primary = setup.primary()
    primary.kill()
    say("drill", f"Redis primary :{primary.port} SIGKILLed")
    details["promoted_after_s"] = await _until(
        "Sentinel promotes a replica", lambda: setup.primary_port() != primary.port, 60
    )
    say("drill", f"Sentinel promoted :{setup.primary_port()}")
    return primary


async def _master_of(cluster: LocalRedisCluster, key: str) -> Server:
    client = parse_redis_url(cluster.url).client()
    try:
        if not isinstance(client, RedisCluster):
            raise RuntimeError(f"not a cluster: {cluster.url}")
        await client.initialize()
        node = client.get_node_from_key(key)
        if node is None:
            raise RuntimeError(f"no cluster node serves {key}")
        return cluster.node(int(node.port))
    finally:
        await client.aclose()


async def _kill_cluster_master(cluster: LocalRedisCluster, details: dict[str, Any]) -> Server:
    master = await _master_of(cluster, POLLS_TAG)
    replica_roles = cluster.roles()
    master.kill()
    say("drill", f"cluster master :{master.port} (the polls' slot) SIGKILLed")

    def taken_over() -> bool:
        roles = cluster.roles()
        promoted = [p for p, r in roles.items() if r == "master" and replica_roles.get(p) != r]
        if not promoted:
            return False
        cluster.wait_ok(2)
        return True

    details["taken_over_after_s"] = await _until("its replica takes over", taken_over, 90)
    say("drill", "its replica took over; the cluster is ok")
    return master


async def drill_failover(stack: Stack) -> DrillResult:
    deployment = stack.deployment
    if deployment is None:
        raise RuntimeError("this drill runs on a Sentinel or cluster deployment")
    ensure_chief(stack)
    poll_id, options = await _poll_for_votes(stack)
    load = Load()
    details: dict[str, Any] = {}

    async def fault() -> None:
        while load.acknowledged < BEFORE_FAULT:
            await asyncio.sleep(0.05)
        load.fault_at = time.monotonic()
        details["acknowledged_before_kill"] = load.acknowledged
        if isinstance(deployment, LocalSentinel):
            killed = await _fail_sentinel_primary(deployment, details)
        else:
            killed = await _kill_cluster_master(deployment, details)
        await asyncio.to_thread(killed.restart)
        say("drill", f":{killed.port} started again, a replica now")
        await _until("the deployment is whole again", lambda: _whole(deployment), 90)
        details["whole_again_after_s"] = round(time.monotonic() - load.fault_at, 1)
        await asyncio.sleep(AFTER_FAULT_S)
        load.stop.set()

    await asyncio.gather(fault(), _run_load(stack, load, poll_id, options))
    name = "redis-failover" if isinstance(deployment, LocalSentinel) else "cluster-master-kill"
    tips_lost, tips_twice = await _check_tips(stack, load, details)
    votes_lost, votes_twice = await _check_votes(stack, load, poll_id, details)
    details |= {
        "retried": load.retried,
        "answers_not_2xx": dict(sorted(load.answers.items())),
    }
    return DrillResult(name, tips_lost + votes_lost, tips_twice + votes_twice, details)


def _whole(deployment: LocalRedisCluster | LocalSentinel) -> bool:
    if isinstance(deployment, LocalSentinel):
        deployment.wait_healthy(2)
    else:
        deployment.wait_ok(2)
    return True


async def _check_tips(stack: Stack, load: Load, details: dict[str, Any]) -> tuple[int, int]:
    accepted = {sid for _, sid in load.tips}
    token = await _login_when_ready(stack)

    async def all_in_inbox() -> bool:
        return accepted <= set(await inbox_ids(stack, token))

    await wait_until(all_in_inbox, 120, 2)
    inbox = await inbox_ids(stack, token)
    by_key: dict[str, set[str]] = {}
    for key, sid in load.tips:
        by_key.setdefault(key, set()).add(sid)
    details |= {"tips_acknowledged": len(load.tips), "tips_in_inbox": len(accepted & set(inbox))}
    lost = len(accepted - set(inbox))
    twice = (len(inbox) - len(set(inbox))) + sum(len(ids) - 1 for ids in by_key.values())
    return lost, twice


async def _check_votes(
    stack: Stack, load: Load, poll_id: str, details: dict[str, Any]
) -> tuple[int, int]:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo.url)
    log = mongo["xabar_polls"]["votes"]
    try:

        async def logged() -> set[str]:
            docs = await log.find({"poll_id": poll_id}, {"voter_id": 1}).to_list(None)
            return {str(d["voter_id"]) for d in docs}

        async def drained() -> bool:  # the vote log writer has moved every counted vote
            return len(await logged()) >= await _poll_total(stack, poll_id)

        await wait_until(drained, 120, 1)
        voters, total = await logged(), await _poll_total(stack, poll_id)
    finally:
        await mongo.close()
    acknowledged = set(load.voters) | set(load.voted_before)
    details |= {
        "votes_acknowledged": len(load.voters),
        "votes_409_after_a_retry": len(load.voted_before),
        "votes_counted": total,
        "voters_in_vote_log": len(voters),
    }
    lost = len(acknowledged - voters) + max(0, len(voters) - total)
    return lost, max(0, total - len(voters))
