"""The outbox relay of ingest: the runtime's ``OutboxRelay``, reading markers.

A submission stored without Redis carries its ``submission.received`` in its outbox, and a
marker in ``outbox_pending`` (``{"_id", "created_at"}``, written before the document; see
``repository``). The relay's timer reads the markers, not every submission with an outbox (a
full scan on FerretDB's SQLite backend, over submissions that pile up forever). A marker goes as
soon as its document's events are published; a marker younger than ``settle`` is left to the
kick after its write, after the first pass; one whose document never came is dropped after
``orphan_after``. Stopping lets the passes in progress finish (see ``xabar.runtime.workers``).
"""

from datetime import timedelta

from xabar.runtime.mongo import Collection
from xabar.runtime.outbox import Markers, OutboxRelay, Publish


class SubmissionRelay(OutboxRelay):
    def __init__(
        self,
        submissions: Collection,
        pending: Collection,
        publish: Publish,
        *,
        sweep_interval: float = 5.0,
        orphan_after: timedelta = timedelta(minutes=2),
        settle: timedelta | None = None,
    ) -> None:
        markers = Markers(
            pending,
            at_field="created_at",
            grace=timedelta(0),
            settle=settle or timedelta(seconds=max(2.0, 2 * sweep_interval)),
            orphan_after=orphan_after,
        )
        super().__init__(submissions, publish, markers=markers, sweep_interval=sweep_interval)
