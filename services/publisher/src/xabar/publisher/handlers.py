"""Event handlers of the publisher: ``submission.received`` lands in the inbox, once."""

import logging

from prometheus_client import Counter

from xabar.contracts import Event, SubmissionReceived
from xabar.publisher.inbox import InboxService
from xabar.runtime.bus import Handler

log = logging.getLogger("xabar.publisher.handlers")

TIPS = Counter("xabar_publisher_tips_total", "submission.received events handled", ["outcome"])


def on_submission_received(inbox: InboxService) -> Handler:
    async def handle(event: Event) -> None:
        if not isinstance(event, SubmissionReceived):
            return
        # Errors propagate: the entry stays pending and is delivered again.
        stored = await inbox.receive(event)
        TIPS.labels("stored" if stored else "duplicate").inc()
        if stored:
            log.info("tip received", extra={"submission_id": event.data.submission_id})

    return handle
