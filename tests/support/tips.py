"""Tips for tests: a tip document as the publisher stores it, without going through ingest."""

from datetime import datetime
from typing import Any


def tip_doc(
    tip_id: str,
    received_at: datetime,
    *,
    version: int = 1,
    status: str = "received",
    country: str = "TJ",
) -> dict[str, Any]:
    """A tip ``tip_id`` in ``status``, received at ``received_at``, with a short submission
    from ``country``."""
    return {
        "_id": tip_id,
        "version": version,
        "status": status,
        "received_at": received_at,
        "submission": {"title": "Сигнал", "text": "Текст", "country": country},
    }
