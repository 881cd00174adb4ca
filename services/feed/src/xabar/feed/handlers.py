"""The event channels of the feed: ``article.*``, ``country_profile.*``, ``comment.*`` and
``poll.*`` into the read model.

All are batch subscriptions (``EventBus.subscribe_batch``): up to ``BATCH`` events per
XREADGROUP, each acked only once applied, one outcome per event (``Projector.handle_batch``). A
batch that large is what the projector needs to keep up with a backlog (a batch's documents take
one script call per bucket they fall in, of ``scripts.DOC_BUCKETS``); when the stream is quiet, a
read answers with what is there, so it costs no latency.
``declare_channels`` is what the service's bus (and its AsyncAPI document) is made of; ``wire``
adds the projector the handlers take from FastStream's context.
"""

from collections.abc import Sequence
from typing import Annotated

from faststream import Context

from xabar.contracts import ARTICLES_STREAM, COMMENTS_STREAM, GROUP_FEED, POLLS_STREAM
from xabar.feed.projector import ArticleEvent, CommentEvent, PollEvent, Projector
from xabar.feed.workers import trim_heap
from xabar.runtime.bus import EventBus, Outcomes

BATCH = 500  # entries per XREADGROUP and per handler call (two steps of the projector)
TRIM_AFTER = 250  # article events in a batch after which the heap is trimmed (workers.trim_heap)


async def on_articles(
    events: Sequence[ArticleEvent], projector: Annotated[Projector, Context("projector")]
) -> Outcomes:
    """Apply article events (and the countries' profiles, on the same stream) to the read
    model, version-gated per article (per country)."""
    outcomes = await projector.handle_batch(events)
    if len(events) >= TRIM_AFTER:  # a backlog: give back what the batch's objects took
        trim_heap()
    return outcomes


async def on_comments(
    events: Sequence[CommentEvent], projector: Annotated[Projector, Context("projector")]
) -> Outcomes:
    """Apply readers' comments as the newsroom approved or removed them, version-gated per
    comment; the article pages, lists and feeds show them and their count."""
    return await projector.handle_batch(events)


async def on_polls(
    events: Sequence[PollEvent], projector: Annotated[Projector, Context("projector")]
) -> Outcomes:
    """Apply poll events (state and tallies, each version-gated) to the read model."""
    return await projector.handle_batch(events)


def declare_channels(bus: EventBus) -> None:
    bus.subscribe_batch(ARTICLES_STREAM, GROUP_FEED, on_articles, batch=BATCH)
    bus.subscribe_batch(POLLS_STREAM, GROUP_FEED, on_polls, batch=BATCH)
    bus.subscribe_batch(COMMENTS_STREAM, GROUP_FEED, on_comments, batch=BATCH)


def wire(bus: EventBus, projector: Projector) -> None:
    declare_channels(bus)
    bus.provide(projector=projector)
