"""The event channels of the publisher: what it publishes, and what readers send through ingest
on ``xabar.submissions``: ``submission.received`` (a tip, into the inbox), ``comment.submitted``
(into moderation) and ``letter.received`` (into the letters box), each landing once. Comments
and letters have consumer groups of their own on that stream (``publisher.comments``,
``publisher.letters``): each group takes its own events and skips the others, and a failing
comment never holds up a tip.

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
    CommentPublished,
    CommentRemoved,
    CommentSubmitted,
    CountryProfilePublished,
    LetterReceived,
    SubmissionReceived,
    SubmissionReceivedV2,
    SubmissionReviewed,
)
from xabar.publisher.comments import CommentService
from xabar.publisher.inbox import InboxService
from xabar.publisher.letters import LetterService
from xabar.runtime.bus import EventBus

log = logging.getLogger("xabar.publisher.handlers")

TIPS = Counter("xabar_publisher_tips_total", "submission.received events handled", ["outcome"])
READERS = Counter(
    "xabar_publisher_readers_input_total",
    "comment.submitted and letter.received events handled",
    ["kind", "outcome"],
)

PUBLISHES = (
    ArticlePublished,
    ArticleUpdated,
    ArticleUnpublished,
    SubmissionReviewed,
    CommentPublished,
    CommentRemoved,
    CountryProfilePublished,
)
GROUP_COMMENTS = f"{GROUP_PUBLISHER}.comments"
GROUP_LETTERS = f"{GROUP_PUBLISHER}.letters"


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


async def on_comment_submitted(
    event: CommentSubmitted, comments: Annotated[CommentService, Context("comments")]
) -> None:
    """Store the comment for moderation under its id: a redelivery or a duplicate finds it
    there and changes nothing. Errors propagate (the entry stays pending, delivered again)."""
    stored = await comments.receive(event)
    READERS.labels("comment", "stored" if stored else "duplicate").inc()


async def on_letter_received(
    event: LetterReceived, letters: Annotated[LetterService, Context("letters")]
) -> None:
    """Store the letter in the letters box under its id, once."""
    stored = await letters.receive(event)
    READERS.labels("letter", "stored" if stored else "duplicate").inc()


def declare_channels(bus: EventBus) -> None:
    bus.publishes(*PUBLISHES)
    bus.subscribe(SUBMISSIONS_STREAM, GROUP_PUBLISHER, on_submission_received)
    bus.subscribe(SUBMISSIONS_STREAM, GROUP_COMMENTS, on_comment_submitted)
    bus.subscribe(SUBMISSIONS_STREAM, GROUP_LETTERS, on_letter_received)


def wire(
    bus: EventBus, inbox: InboxService, comments: CommentService, letters: LetterService
) -> None:
    declare_channels(bus)
    bus.provide(inbox=inbox, comments=comments, letters=letters)
