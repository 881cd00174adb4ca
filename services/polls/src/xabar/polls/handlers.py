"""The event channels of the polls service: it publishes ``poll.*`` and consumes nothing.

``declare_channels`` is what the service's bus (and its AsyncAPI document) is made of.
"""

from xabar.contracts import PollClosed, PollOpened, PollTallied
from xabar.runtime.bus import EventBus

PUBLISHES = (PollOpened, PollClosed, PollTallied)


def declare_channels(bus: EventBus) -> None:
    bus.publishes(*PUBLISHES)
