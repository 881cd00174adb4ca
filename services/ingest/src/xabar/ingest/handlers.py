"""Event handlers of ingest: ``submission.reviewed`` keeps receipt look-ups current."""

from xabar.contracts import Event, SubmissionReviewed
from xabar.ingest.service import IngestService
from xabar.runtime.bus import Handler


def review_handler(service: IngestService) -> Handler:
    """Apply a review to its submission when its version is newer than the one held; an old or
    duplicated event changes nothing. A storage error propagates: the entry stays pending."""

    async def on_reviewed(event: Event) -> None:
        if isinstance(event, SubmissionReviewed):
            await service.apply_review(event)

    return on_reviewed
