"""The outbox relay of the publisher: the runtime's ``OutboxRelay`` with a Redis sent set,
markers and the document locks, for how FerretDB v1.24 (SQLite) really behaves.

Measured on the FerretDB the tests and ``make run`` use: an ``_id`` lookup is a table scan (about
20-40 ms with 7,000 articles, and an update does it twice), so any "one update per document" pass
over thousands of articles takes many minutes; and concurrent updates of one document are not
atomic (see ``xabar.runtime.locks``). So:

- sent events are recorded in the Redis set ``SENT_KEY`` in the same MULTI/EXEC as their XADDs
  (``SentSet``): removing them from the document is housekeeping, and bulk imports publish
  thousands of events without rewriting thousands of documents (``relay_docs``);
- writers mark a document in its ``*_pending`` collection before their change and kick the relay
  after it; the periodic sweep reads the markers only, and every outbox once, at start, as
  insurance (``scan_at_start``); a marker is dropped, under the document's lock, when its outbox
  holds nothing unsent and the marker is older than ``marker_grace`` and unchanged;
- every write of an article or a tip, and every pass of the relay over it, holds the document's
  lock (``relay.hold(doc_id)``).
"""

from datetime import timedelta

from xabar.publisher.repositories.collections import Coll
from xabar.runtime.bus import EventBus
from xabar.runtime.locks import DocLocks
from xabar.runtime.outbox import Markers, OutboxRelay, SentSet

SENT_KEY = "xabar:publisher:outbox:sent"


class MarkedRelay(OutboxRelay):
    doc_locks: DocLocks

    def __init__(
        self,
        collection: Coll,
        pending: Coll,
        bus: EventBus,
        locks: DocLocks,
        *,
        sweep_interval: float = 5.0,
        marker_grace: timedelta = timedelta(seconds=30),
        enabled: bool = True,
        sent_key: str = SENT_KEY,
    ) -> None:
        super().__init__(
            collection,
            SentSet(bus, sent_key),
            markers=Markers(pending, grace=marker_grace),
            locks=locks,
            sweep_interval=sweep_interval,
            scan_at_start=True,
            enabled=enabled,
        )
        self.sent_key = sent_key
