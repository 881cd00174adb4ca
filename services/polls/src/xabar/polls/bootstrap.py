"""Builds the polls service's collaborators once, for the HTTP app and the CLI alike."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from xabar.contracts import Event
from xabar.polls.config import PollsSettings
from xabar.polls.counter import AddressPolicy
from xabar.polls.errors import ConcurrentChange
from xabar.polls.repository import Storage
from xabar.polls.scheduler import Scheduler
from xabar.polls.service import PollService
from xabar.polls.tally import Tallier
from xabar.polls.votelog import Pacer, VoteLogWriter
from xabar.runtime.config import RedisClient
from xabar.runtime.lifecycle import Part, start_each, stop_each
from xabar.runtime.locks import DocLocks
from xabar.runtime.mongo import MongoClient
from xabar.runtime.outbox import OutboxRelay
from xabar.runtime.redispipe import RedisPipe

log = logging.getLogger("xabar.polls")

Publish = Callable[[Event], Awaitable[Any]]


def redis_client(settings: PollsSettings) -> RedisClient:
    return settings.redis_client(max_connections=settings.redis_max_connections, pool_timeout=10)


def address_policy(settings: PollsSettings) -> AddressPolicy:
    return AddressPolicy(
        limit=settings.address_limit,
        window_ms=settings.address_window_s * 1000,
        cooldown_ms=int(settings.address_cooldown_s * 1000),
        burst_window_ms=settings.burst_window_s * 1000,
        burst_address=settings.burst_address_threshold,
        burst_subnet=settings.burst_subnet_threshold,
        # never below the address limit: an address allowed N counted votes gets N requests
        rate_limit=max(settings.vote_rate_limit, settings.address_limit),
        rate_window_ms=settings.vote_rate_window_s * 1000,
    )


@dataclass
class Polls:
    settings: PollsSettings
    service: PollService
    relay: OutboxRelay
    writer: VoteLogWriter
    tallier: Tallier
    scheduler: Scheduler
    storage: Storage

    async def prepare(self) -> None:
        """Before serving: indexes, the Redis mirror checked against MongoDB (lost counters
        rebuilt from the vote log), polls opened or closed whose time passed while we were
        down, and a fresh snapshot queued for every poll that has begun."""
        await self.service.votes.ensure_indexes()
        await self.writer.ensure_group()
        rebuilt = await self.service.resync_all()
        if rebuilt:
            log.warning("rebuilt counters from the vote log", extra={"polls": rebuilt})
        await self.scheduler.step()
        await self.service.counter.mark_dirty(*await self.service.open_poll_ids())

    def parts(self) -> list[Part]:
        """What runs in the background, in the order it starts (it stops in reverse)."""
        return [self.relay, self.writer, self.tallier, self.scheduler]

    async def start(self) -> None:
        await self.prepare()
        await start_each(self.parts())

    async def stop(self) -> None:
        await stop_each(reversed(self.parts()))

    async def close(self) -> None:
        """Close the connections ``build`` was given (after ``stop``)."""
        await self.storage.close()


def build(
    settings: PollsSettings,
    *,
    redis: RedisClient,
    mongo: MongoClient,
    publish: Publish,
    consumer: str | None = None,
    pipe: RedisPipe | None = None,
) -> Polls:
    storage = Storage.open(
        redis=redis,
        mongo=mongo,
        db_name=settings.mongodb_db,
        prefix=settings.redis_prefix,
        policy=address_policy(settings),
        pipe=pipe,
    )
    polls, votes, counter = storage.polls, storage.votes, storage.counter
    # every write of a poll's document, and the relay's passes over it, hold the poll's lock
    locks = DocLocks(
        storage.locks,
        stale_after=timedelta(seconds=15),
        wait_s=20.0,
        busy=lambda _key: ConcurrentChange(),
    )
    relay = OutboxRelay(
        polls.collection,
        publish,
        locks=locks,
        lock_key=str,
        sweep_interval=settings.outbox_sweep_s,
        name="polls",
    )
    service = PollService(
        polls=polls,
        votes=votes,
        tallies=storage.tallies,
        counter=counter,
        locks=locks,
        relay=relay,
        kick=relay.kick,  # a change with events has them relayed now
    )
    writer = VoteLogWriter(
        counter,
        votes,
        consumer=consumer or settings.consumer_name,
        batch=settings.votelog_batch,
        claim_idle_ms=settings.claim_idle_ms,
        max_deliveries=settings.max_deliveries,
        interval=settings.votelog_interval_s,
        pacer=Pacer(
            yield_above=settings.votelog_yield_above,
            max_backlog=settings.votelog_max_backlog,
            max_lag_ms=int(settings.votelog_max_lag_s * 1000),
        ),
    )
    tallier = Tallier(service, publish, interval=settings.tally_interval_s)
    scheduler = Scheduler(
        service,
        interval=settings.scheduler_interval_s,
        resync_interval=settings.resync_interval_s,
    )
    return Polls(settings, service, relay, writer, tallier, scheduler, storage)
