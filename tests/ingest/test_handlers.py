"""Ingest's event handler on FastStream's in-memory ``TestRedisBroker`` (pure logic: no Redis,
no MongoDB): what reaches the service. The version rule itself is proven against the real
stores in ``test_receipts.py``."""

from faststream.redis import TestRedisBroker

from tests.support.events import sample
from xabar.contracts import REVIEWS_STREAM, SubmissionReviewed
from xabar.ingest.handlers import declare_channels
from xabar.runtime.bus import EventBus


class FakeService:
    def __init__(self) -> None:
        self.reviews: list[SubmissionReviewed] = []

    async def apply_review(self, event: SubmissionReviewed) -> bool:
        self.reviews.append(event)
        return True


async def test_a_review_on_the_reviews_stream_is_applied_through_the_service_as_its_type() -> None:
    bus = EventBus("redis://127.0.0.1:1/0", consumer_name="unit")
    declare_channels(bus)
    service = FakeService()
    bus.provide(ingest=service)
    review = sample("submission.reviewed", version=3)
    async with TestRedisBroker(bus.broker) as broker:
        await broker.publish(review.model_dump_json().encode(), stream=REVIEWS_STREAM)
        await broker.publish(b'{"type": "submission.archived"}', stream=REVIEWS_STREAM)
    assert service.reviews == [review]
    assert isinstance(service.reviews[0], SubmissionReviewed)
