"""The event channels of ingest: what it publishes, and ``submission.reviewed``, which keeps
receipt look-ups current.

``declare_channels`` is what the service's bus (and its AsyncAPI document) is made of;
``wire`` adds the collaborators the handlers take from FastStream's context.
"""

from typing import Annotated

from faststream import Context

from xabar.contracts import (
    GROUP_INGEST,
    REVIEWS_STREAM,
    CommentSubmitted,
    LetterReceived,
    SubmissionReceivedV2,
    SubmissionReviewed,
)
from xabar.ingest.service import IngestService
from xabar.runtime.bus import EventBus

PUBLISHES = (SubmissionReceivedV2, CommentSubmitted, LetterReceived)


async def on_submission_reviewed(
    event: SubmissionReviewed, ingest: Annotated[IngestService, Context("ingest")]
) -> None:
    """Apply a review to its submission when its version is newer than the one held (a
    version-conditional update): an old or duplicated event changes nothing. A storage error
    propagates: the entry stays pending."""
    await ingest.apply_review(event)


def declare_channels(bus: EventBus) -> None:
    bus.publishes(*PUBLISHES)
    bus.subscribe(REVIEWS_STREAM, GROUP_INGEST, on_submission_reviewed)


def wire(bus: EventBus, service: IngestService) -> None:
    declare_channels(bus)
    bus.provide(ingest=service)
