"""The publisher's event handler on FastStream's in-memory ``TestRedisBroker`` (pure logic: no
Redis, no MongoDB): a tip reaches the inbox, and a duplicate is counted as one. That the inbox
stores a tip once is proven against the real stores in ``test_tip_to_article.py``."""

from faststream.redis import TestRedisBroker
from prometheus_client import REGISTRY

from tests.support.events import sample
from xabar.contracts import SUBMISSIONS_STREAM, SubmissionReceived
from xabar.publisher.handlers import declare_channels
from xabar.runtime.bus import EventBus


class FakeInbox:
    def __init__(self) -> None:
        self.stored: dict[str, SubmissionReceived] = {}

    async def receive(self, event: SubmissionReceived) -> bool:
        if event.data.submission_id in self.stored:
            return False
        self.stored[event.data.submission_id] = event
        return True


def tips(outcome: str) -> float:
    return REGISTRY.get_sample_value("xabar_publisher_tips_total", {"outcome": outcome}) or 0.0


async def test_a_tip_reaches_the_inbox_once_and_its_duplicate_is_counted() -> None:
    bus = EventBus("redis://127.0.0.1:1/0", consumer_name="unit")
    declare_channels(bus)
    inbox = FakeInbox()
    bus.provide(inbox=inbox)
    tip = sample("submission.received")
    stored, duplicates = tips("stored"), tips("duplicate")
    async with TestRedisBroker(bus.broker) as broker:
        for _ in range(2):  # ingest's event, and the same again (a redelivery)
            await broker.publish(tip.model_dump_json().encode(), stream=SUBMISSIONS_STREAM)
    assert list(inbox.stored.values()) == [tip]
    assert (tips("stored"), tips("duplicate")) == (stored + 1, duplicates + 1)
