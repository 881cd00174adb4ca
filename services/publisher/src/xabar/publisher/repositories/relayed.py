"""What the repositories of documents that carry their own events share: the collection, the
relay that publishes each document's ``outbox``, and the document locks it is written under."""

from xabar.publisher.domain import Doc
from xabar.publisher.errors import NotFound
from xabar.publisher.relay import MarkedRelay
from xabar.publisher.repositories.collections import Coll
from xabar.runtime.outbox import OUTBOX_FIELD


class RelayedRepository:
    def __init__(self, coll: Coll, relay: MarkedRelay) -> None:
        self.coll = coll
        self.relay = relay
        self.locks = relay.doc_locks

    async def get_doc(self, item_id: str, missing: str) -> Doc:
        """The document without its outbox; ``NotFound(missing)`` if there is none."""
        doc = await self.coll.find_one({"_id": item_id}, {OUTBOX_FIELD: 0})
        if doc is None:
            raise NotFound(missing)
        return doc
