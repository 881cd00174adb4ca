"""The event channels of the publisher: what it publishes, and ``submission.received``, which
lands in the inbox, once.

``declare_channels`` is what the service's bus (and its AsyncAPI document) is made of;
``wire`` adds the collaborators the handlers take from FastStream's context. Commands that only
publish (imports, ``republish-all``) declare ``PUBLISHES``.
"""

import logging
from typing import Annotated

from faststream import Context
from prometheus_client import Counter

from xabar.contracts import (
    GROUP_PUBLISHER,
    SUBMISSIONS_STREAM,
    ArticlePublished,
    ArticleUnpublished,
    ArticleUpdated,
    SubmissionReceived,
    SubmissionReceivedV2,
    SubmissionReviewed,
)
from xabar.publisher.inbox import InboxService
from xabar.runtime.bus import EventBus

log = logging.getLogger("xabar.publisher.handlers")

TIPS = Counter("xabar_publisher_tips_total", "submission.received events handled", ["outcome"])

PUBLISHES = (ArticlePublished, ArticleUpdated, ArticleUnpublished, SubmissionReviewed)


async def on_submission_received(
    event: SubmissionReceived | SubmissionReceivedV2,
    inbox: Annotated[InboxService, Context("inbox")],
) -> None:
    """Store the tip in the inbox under its submission id: a redelivered or duplicated event
    finds it there (a unique ``_id``) and changes nothing. Version 2 carries the reporter's
    contact sealed to the newsroom's key; the inbox keeps it sealed. Errors propagate: the
    entry stays pending and is delivered again."""
    stored = await inbox.receive(event)
    TIPS.labels("stored" if stored else "duplicate").inc()
    if stored:
        log.info("tip received", extra={"submission_id": event.data.submission_id})


def declare_channels(bus: EventBus) -> None:
    bus.publishes(*PUBLISHES)
    bus.subscribe(SUBMISSIONS_STREAM, GROUP_PUBLISHER, on_submission_received)


def wire(bus: EventBus, inbox: InboxService) -> None:
    declare_channels(bus)
    bus.provide(inbox=inbox)
