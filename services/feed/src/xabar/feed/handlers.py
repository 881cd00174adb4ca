"""The event channels of the feed: ``article.*`` and ``poll.*`` into the read model.

Both are batch subscriptions (``EventBus.subscribe_batch``): many events per Redis round trip,
each acked only once applied, one outcome per event (``Projector.handle_batch``).
``declare_channels`` is what the service's bus (and its AsyncAPI document) is made of; ``wire``
adds the projector the handlers take from FastStream's context.
"""

from collections.abc import Sequence
from typing import Annotated

from faststream import Context

from xabar.contracts import (
    ARTICLES_STREAM,
    GROUP_FEED,
    POLLS_STREAM,
    ArticlePublished,
    ArticleUnpublished,
    ArticleUpdated,
    PollClosed,
    PollOpened,
    PollTallied,
)
from xabar.feed.projector import Projector
from xabar.runtime.bus import EventBus, Outcomes

ArticleEvent = ArticlePublished | ArticleUpdated | ArticleUnpublished
PollEvent = PollOpened | PollClosed | PollTallied


async def on_articles(
    events: Sequence[ArticleEvent], projector: Annotated[Projector, Context("projector")]
) -> Outcomes:
    """Apply article events to the read model, version-gated per article."""
    return await projector.handle_batch(events)


async def on_polls(
    events: Sequence[PollEvent], projector: Annotated[Projector, Context("projector")]
) -> Outcomes:
    """Apply poll events (state and tallies, each version-gated) to the read model."""
    return await projector.handle_batch(events)


def declare_channels(bus: EventBus) -> None:
    bus.subscribe_batch(ARTICLES_STREAM, GROUP_FEED, on_articles)
    bus.subscribe_batch(POLLS_STREAM, GROUP_FEED, on_polls)


def wire(bus: EventBus, projector: Projector) -> None:
    declare_channels(bus)
    bus.provide(projector=projector)
