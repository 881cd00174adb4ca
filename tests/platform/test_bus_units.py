"""The event bus's typed subscriptions and declared publishers, on FastStream's in-memory
``TestRedisBroker`` (pure logic: no Redis). Delivery itself (acks, claiming, dead letters, a
crashed consumer) is proven against a real redis-server in ``test_bus.py``."""

import logging
from collections.abc import Sequence

import pytest
from faststream.redis import TestRedisBroker
from prometheus_client import REGISTRY

from tests.support.events import sample
from xabar.contracts import (
    ARTICLES_STREAM,
    POLLS_STREAM,
    ArticlePublished,
    ArticleUnpublished,
    ArticleUpdated,
    Event,
    PollTallied,
)
from xabar.runtime.bus import BusError, EventBus, Outcomes

GROUP = "unit"


def handled(outcome: str, stream: str = ARTICLES_STREAM) -> float:
    value = REGISTRY.get_sample_value(
        "xabar_events_handled_total", {"stream": stream, "group": GROUP, "outcome": outcome}
    )
    return value or 0.0


def new_bus() -> EventBus:
    return EventBus("redis://127.0.0.1:1/0", consumer_name="unit")  # never connected


async def test_a_typed_handler_gets_the_events_it_takes_as_their_classes_and_no_others() -> None:
    bus = new_bus()
    got: list[Event] = []

    async def on_article(event: ArticlePublished | ArticleUnpublished) -> None:
        got.append(event)

    bus.subscribe(ARTICLES_STREAM, GROUP, on_article)
    published, updated, unpublished = (
        sample("article.published"),
        sample("article.updated"),
        sample("article.unpublished"),
    )
    async with TestRedisBroker(bus.broker):
        for event in (published, updated, unpublished):
            await bus.publish(event)  # article.updated is not taken: skipped
    assert [type(e) for e in got] == [ArticlePublished, ArticleUnpublished]
    assert got == [published, unpublished]  # the same events, read back from their JSON


async def test_an_unreadable_message_never_reaches_the_handler_and_is_dead_lettered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = new_bus()
    got: list[Event] = []

    async def on_any(event: Event) -> None:
        got.append(event)

    bus.subscribe(ARTICLES_STREAM, GROUP, on_any)
    with caplog.at_level(logging.ERROR, logger="xabar.bus"):
        async with TestRedisBroker(bus.broker) as broker:
            await broker.publish(b"{not json", stream=ARTICLES_STREAM)
            await bus.publish(sample("article.published"))
    assert [e.type for e in got] == ["article.published"]
    letters = [
        r for r in caplog.records if r.getMessage() == "entry moved to the dead-letter stream"
    ]
    assert len(letters) == 1 and "not JSON" in str(getattr(letters[0], "error", ""))


async def test_a_handler_error_reaches_the_caller() -> None:
    bus = new_bus()

    async def on_any(event: Event) -> None:
        raise RuntimeError("the store is down")

    bus.subscribe(ARTICLES_STREAM, GROUP, on_any)
    async with TestRedisBroker(bus.broker):
        with pytest.raises(RuntimeError, match="the store is down"):
            await bus.publish(sample("article.published"))


async def test_a_batch_handler_gets_typed_events_and_answers_one_outcome_each() -> None:
    bus = new_bus()
    batches: list[list[type[Event]]] = []

    async def on_polls(events: Sequence[PollTallied]) -> Outcomes:
        batches.append([type(e) for e in events])
        return [ValueError("no such poll")] * len(events)

    bus.subscribe_batch(POLLS_STREAM, GROUP, on_polls)
    failed = handled("failed", POLLS_STREAM)
    async with TestRedisBroker(bus.broker):
        await bus.publish(sample("poll.tallied"))
        await bus.publish(sample("poll.opened"))  # not taken: the handler is not called
    assert batches == [[PollTallied]]
    assert handled("failed", POLLS_STREAM) == failed + 1


async def test_a_bus_that_declares_its_events_refuses_to_publish_others() -> None:
    bus = new_bus()
    bus.publishes(ArticlePublished, ArticleUpdated)
    async with TestRedisBroker(bus.broker):
        await bus.publish(sample("article.updated"))
        with pytest.raises(BusError, match=r"article\.unpublished"):
            await bus.publish(sample("article.unpublished"))
        with pytest.raises(BusError, match=r"poll\.tallied"):
            await bus.publish_many([sample("poll.tallied")])
    bus.publishes(ArticleUpdated, ArticlePublished)  # the same again: nothing changes
    with pytest.raises(BusError, match="declared already"):
        bus.publishes(ArticlePublished)


def test_subscriptions_refuse_handlers_that_do_not_say_what_they_take() -> None:
    bus = new_bus()

    async def untyped(event) -> None:  # type: ignore[no-untyped-def]
        pass

    async def elsewhere(event: PollTallied) -> None:
        pass

    async def one_at_a_time(event: ArticlePublished) -> Outcomes:
        return [None]

    with pytest.raises(BusError, match="no annotated event parameter"):
        bus.subscribe(ARTICLES_STREAM, GROUP, untyped)
    with pytest.raises(BusError, match=r"poll\.tallied are not on xabar\.articles"):
        bus.subscribe(ARTICLES_STREAM, GROUP, elsewhere)
    with pytest.raises(BusError, match="Sequence of events"):
        bus.subscribe_batch(ARTICLES_STREAM, GROUP, one_at_a_time)  # type: ignore[arg-type]
