"""The runtime on a real Redis Cluster (3 masters, a replica each, on loopback): the deployment
setting's redis-py client, ``RedisPipe`` routing by slot (and following MOVED, ASK and a
failover), and ``WAIT`` through the replication helper."""

import asyncio
from collections import Counter
from contextlib import aclosing
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot
from redis.exceptions import RedisError

from tests.support.ha import ON_DEPLOYMENTS, restarted, until
from tests.support.infra import redis_client
from xabar.runtime.deployment import ClusterDeployment, parse_redis_url
from xabar.runtime.localinfra import LocalRedisCluster
from xabar.runtime.redispipe import RedisPipe
from xabar.runtime.replication import NotReplicated, Replication

pytestmark = ON_DEPLOYMENTS

ONE_REPLICA = Replication(replicas=1, timeout_ms=2000)


def owner(slots: list[Any], slot: int) -> int:
    """The port of the master serving ``slot`` in a CLUSTER SLOTS reply."""
    for start, end, master, *_ in slots:
        if int(start) <= slot <= int(end):
            return int(master[1])
    raise AssertionError(f"slot {slot} is not served")


async def cluster_slots(port: int) -> list[Any]:
    client = aioredis.Redis(port=port)
    client.response_callbacks.clear()  # the reply as the server sends it
    try:
        reply: list[Any] = await client.execute_command("CLUSTER", "SLOTS")
        return reply
    finally:
        await client.aclose()


async def test_the_local_cluster_has_three_masters_each_with_a_replica_and_every_slot_served(
    redis_cluster: LocalRedisCluster, cluster_url: str
) -> None:
    roles = Counter(redis_cluster.roles().values())
    assert roles == {"master": 3, "replica": 3}
    slots = await cluster_slots(redis_cluster.nodes[0].port)
    assert sum(int(end) - int(start) + 1 for start, end, *_ in slots) == 16384
    for master in redis_cluster.masters():  # each master has its replica, in sync
        client = aioredis.Redis(port=master.port)
        client.response_callbacks.clear()
        me = (await client.execute_command("CLUSTER", "MYID")).decode()
        replicas = await client.execute_command("CLUSTER", "REPLICAS", me)
        info = await client.info("replication")
        await client.aclose()
        assert len(replicas) == 1 and b"connected" in replicas[0]
        assert b"connected_slaves:1" in info
    deployment = parse_redis_url(cluster_url)
    assert isinstance(deployment, ClusterDeployment)
    assert len(deployment.seeds) == 6


async def test_the_deployments_client_spreads_keys_over_every_master(
    redis_cluster: LocalRedisCluster, cluster_redis: aioredis.Redis
) -> None:
    for n in range(300):
        await cluster_redis.set(f"article:{n}", n)
    per_master = {}
    for master in redis_cluster.masters():
        client = aioredis.Redis(port=master.port)
        per_master[master.port] = await client.dbsize()
        await client.aclose()
    assert sum(per_master.values()) == 300
    assert all(n > 50 for n in per_master.values()), per_master  # about a third each
    got = await cluster_redis.mget_nonatomic([f"article:{n}" for n in range(5)])  # type: ignore[attr-defined]
    assert [int(v) for v in got] == [0, 1, 2, 3, 4]


async def test_the_pipe_routes_each_command_to_the_master_of_its_slot(
    cluster_url: str, cluster_redis: aioredis.Redis
) -> None:
    async with aclosing(RedisPipe(cluster_url)) as pipe:
        incr = pipe.script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        keys = [f"poll:{n}" for n in range(64)]
        replies = await asyncio.gather(
            *(incr([key], [n]) for n, key in enumerate(keys)),
            *(pipe.execute("INCRBY", key, 1000) for key in keys),
        )
        # each caller got its own reply (a script unknown to its node is sent again in full,
        # so it may run after the INCRBY of its key)
        assert all(r in (n, n + 1000) for n, r in enumerate(replies[:64]))
        assert all(r in (1000, n + 1000) for n, r in enumerate(replies[64:]))
        assert [int(v) for v in await cluster_redis.mget_nonatomic(keys)]  # type: ignore[attr-defined] == [1000 + n for n in range(64)]
        assert await pipe.execute("PING") == b"PONG"
        # one aggregate's keys share a hash tag: a script may touch all of them
        both = pipe.script("redis.call('SET', KEYS[1], 'a'); return redis.call('INCR', KEYS[2])")
        assert await both(["{poll:7}:options", "{poll:7}:total"], []) == 1
        with pytest.raises(RedisError, match="CROSSSLOT"):  # untagged keys of two slots
            await both(["poll:1:options", "poll:2:total"], [])


async def move_slot(slot: int, source: int, target: int, keys: list[str]) -> None:
    """Migrate ``slot`` with ``keys`` from master ``source`` to master ``target``, as
    ``redis-cli --cluster reshard`` does; between MIGRATING and the final SETSLOT the source
    answers ASK for a key it no longer has."""
    src, dst = aioredis.Redis(port=source), aioredis.Redis(port=target)
    try:
        src_id = (await src.execute_command("CLUSTER", "MYID")).decode()
        dst_id = (await dst.execute_command("CLUSTER", "MYID")).decode()
        await dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        await src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
        await src.execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys)
    finally:
        await src.aclose()
        await dst.aclose()


async def settle_slot(slot: int, target: int, masters: list[int]) -> None:
    dst = aioredis.Redis(port=target)
    dst_id = (await dst.execute_command("CLUSTER", "MYID")).decode()
    await dst.aclose()
    for port in [target, *[p for p in masters if p != target]]:
        client = aioredis.Redis(port=port)
        await client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        await client.aclose()


async def test_the_pipe_follows_a_slot_that_moves_through_ask_and_then_moved(
    redis_cluster: LocalRedisCluster, cluster_url: str, cluster_redis: aioredis.Redis
) -> None:
    key = "{article:moving}:views"
    slot = key_slot(key.encode())
    masters = [m.port for m in redis_cluster.masters()]
    source = owner(await cluster_slots(masters[0]), slot)
    target = next(p for p in masters if p != source)
    async with aclosing(RedisPipe(cluster_url)) as pipe:
        assert await pipe.execute("INCR", key) == 1  # the pipe's map: the slot on the source
        await move_slot(slot, source, target, [key])
        # the source answers ASK (the key left): the pipe asks the target, once
        assert await pipe.execute("INCR", key) == 2
        await settle_slot(slot, target, masters)
        # now the source answers MOVED: the pipe reads the map again and goes to the target
        assert await pipe.execute("INCR", key) == 3
        assert await pipe.execute("INCR", key) == 4
        assert int(await cluster_redis.get(key)) == 4
        assert owner(await cluster_slots(masters[0]), slot) == target


async def test_durable_writes_wait_for_the_replica_of_their_slots_master(
    cluster_url: str, cluster_redis: aioredis.Redis
) -> None:
    async with aclosing(RedisPipe(cluster_url, replication=ONE_REPLICA)) as pipe:
        push = pipe.script("return redis.call('RPUSH', KEYS[1], ARGV[1])")
        lengths = await asyncio.gather(
            *(push([f"{{poll:{n % 8}}}:log"], [n], durable=True) for n in range(80))
        )
        assert sorted(lengths) == sorted(n // 8 + 1 for n in range(80))
        replies = await ONE_REPLICA.write(
            cluster_redis, "{poll:3}:log", lambda p: p.rpush("{poll:3}:log", "x")
        )
        assert replies == [11]
        # a master has one replica: two cannot confirm, and the write is not acknowledged
        two = Replication(replicas=2, timeout_ms=200)
        with pytest.raises(NotReplicated, match="1 of the 2 replicas"):
            await two.write(cluster_redis, "{poll:3}:log", lambda p: p.rpush("{poll:3}:log", "y"))
        async with aclosing(RedisPipe(cluster_url, replication=two)) as strict:
            with pytest.raises(NotReplicated):
                await strict.execute("RPUSH", "{poll:3}:log", "z", durable=True)
            assert await strict.execute("LLEN", "{poll:3}:log") == 13  # it did run


async def waits_on(port: int) -> int:
    """How many WAITs a node has run."""
    client = aioredis.Redis(port=port)
    try:
        stats = await client.info("commandstats")
        return int(stats.get("cmdstat_wait", {}).get("calls", 0))
    finally:
        await client.aclose()


async def test_turns_written_while_a_wait_is_out_share_the_next_wait(
    cluster_url: str, cluster_redis: aioredis.Redis
) -> None:
    key = "{poll:group}:log"
    pipe = RedisPipe(cluster_url, replication=ONE_REPLICA)
    push = pipe.script("return redis.call('RPUSH', KEYS[1], ARGV[1])")

    async def caller(n: int) -> list[int]:
        await asyncio.sleep(n * 0.0003)
        return [await push([key], [n], durable=True) for _ in range(20)]  # each after the last

    try:
        await push([key], ["first"], durable=True)  # connected, the slot map read
        seed = int(cluster_url.rsplit(":", 1)[1])
        port = owner(await cluster_slots(seed), key_slot(key.encode()))
        before = await waits_on(port)
        done = asyncio.Event()

        async def reader() -> int:  # plain commands between them, in every loop turn
            reads = 0
            while not done.is_set():
                assert int(await pipe.execute("LLEN", key)) >= 1
                reads += 1
            return reads

        readers = [asyncio.ensure_future(reader()) for _ in range(8)]
        lengths = [n for replies in await asyncio.gather(*map(caller, range(20))) for n in replies]
        done.set()
        assert min(await asyncio.gather(*readers)) > 0
        assert sorted(lengths) == list(range(2, 402))  # every write ran once, each its own reply
        assert await waits_on(port) - before < 400  # fewer WAITs than writes: they were shared
        strict = RedisPipe(cluster_url, replication=Replication(replicas=2, timeout_ms=100))

        async def late(n: int) -> Any:
            await asyncio.sleep(0.005)  # written while the first WAIT is out
            return await strict.execute("RPUSH", key, n, durable=True)

        try:  # a WAIT shared by several turns refuses every one of them when it falls short
            refused = await asyncio.gather(
                *(strict.execute("RPUSH", key, n, durable=True) for n in range(3)),
                *(late(n) for n in range(3)),
                return_exceptions=True,
            )
            assert [type(r) for r in refused] == [NotReplicated] * 6
        finally:
            await strict.aclose()
        assert int(await cluster_redis.llen(key)) == 407
    finally:
        await pipe.aclose()


async def test_a_killed_master_is_replaced_by_its_replica_and_no_acknowledged_write_is_lost(
    redis_cluster: LocalRedisCluster, cluster_url: str
) -> None:
    key = "{votes}:log"
    masters = [m.port for m in redis_cluster.masters()]
    victim = redis_cluster.node(owner(await cluster_slots(masters[0]), key_slot(key.encode())))
    replica_port = await replica_of(victim.port)
    pipe = RedisPipe(cluster_url, replication=ONE_REPLICA, command_timeout=2.0)
    acked: list[int] = []
    failed = 0
    stop = asyncio.Event()

    async def writer() -> None:
        nonlocal failed
        n = 0
        while not stop.is_set():
            n += 1
            try:
                await pipe.execute("RPUSH", key, n, durable=True)
                acked.append(n)
            except RedisError:
                failed += 1
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.002)

    async with restarted(victim):
        task = asyncio.ensure_future(writer())
        try:
            await until(lambda: _true(len(acked) > 50), 30, "writes flow")
            victim.kill()  # SIGKILL: the master's replica must take its slots over
            await until(
                lambda: _true(redis_cluster.roles().get(replica_port) == "master"),
                60,
                "the replica is promoted",
            )
            # the new master has no replica of its own yet: WAIT 1 cannot be met, so nothing
            # is acknowledged until the old master is back (as its replica)
            before, refused = len(acked), failed
            await until(lambda: _true(failed > refused + 3), 30, "writes are refused")
            assert len(acked) == before
            await asyncio.to_thread(victim.restart)
            await until(lambda: _true(len(acked) > before + 50), 60, "writes flow again")
        finally:
            stop.set()
            await task
            await pipe.aclose()
    await asyncio.to_thread(redis_cluster.wait_ok)  # the old master is back, as a replica
    assert redis_cluster.roles()[victim.port] == "replica"
    async with redis_client(cluster_url) as client:
        stored = {int(v) for v in await client.lrange(key, 0, -1)}
    lost = set(acked) - stored
    assert not lost, f"{len(lost)} acknowledged writes were lost"


async def replica_of(port: int) -> int:
    """The port of the replica of the master on ``port``."""
    client = aioredis.Redis(port=port)
    try:
        info = await client.info("replication")
    finally:
        await client.aclose()
    return int(info["slave0"]["port"])


async def _true(value: bool) -> bool:
    return value


async def test_replication_helper_on_a_cluster_waits_on_the_connection_of_the_keys_node(
    cluster_redis: aioredis.Redis,
) -> None:
    keys = [f"{{comment:{n}}}" for n in range(12)]  # over every master
    for key in keys:
        replies = await ONE_REPLICA.write(
            cluster_redis, key, lambda p, k=key: p.set(k, "1").incr(k)
        )
        assert replies == [True, 2]
