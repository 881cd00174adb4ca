"""The feed's batch handlers on FastStream's in-memory ``TestRedisBroker`` (pure logic: no
Redis): typed events reach the projector, and each answers one outcome. The projection itself
is proven against a real redis-server in ``test_projection.py``."""

from collections.abc import Sequence

from faststream.redis import TestRedisBroker

from tests.support.events import sample
from xabar.contracts import ArticlePublished, Event, PollTallied
from xabar.feed.handlers import declare_channels
from xabar.runtime.bus import EventBus


class FakeProjector:
    def __init__(self) -> None:
        self.batches: list[list[Event]] = []

    async def handle_batch(self, events: Sequence[Event]) -> list[BaseException | None]:
        self.batches.append(list(events))
        return [None] * len(events)


async def test_article_and_poll_events_reach_the_projector_typed_one_batch_per_read() -> None:
    bus = EventBus("redis://127.0.0.1:1/0", consumer_name="unit")
    bus.publishes(ArticlePublished, PollTallied)
    declare_channels(bus)
    projector = FakeProjector()
    bus.provide(projector=projector)
    article, tally = sample("article.published"), sample("poll.tallied")
    async with TestRedisBroker(bus.broker):
        await bus.publish(article)
        await bus.publish(tally)
    assert projector.batches == [[article], [tally]]
    assert [type(b[0]) for b in projector.batches] == [ArticlePublished, PollTallied]
