"""Polls for tests: a poll as its owner stores it, without going through the API."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from xabar.polls.domain import Poll, Visibility, make_options


def open_poll(
    poll_id: str,
    texts: Sequence[str],
    now: datetime,
    *,
    multiple: bool = False,
    results_visibility: Visibility = "always",
    version: int = 1,
) -> Poll:
    """A poll with the options ``texts``, open for everyone since an hour before ``now`` and
    without a closing time."""
    return Poll(
        poll_id=poll_id,
        question="Вопрос?",
        options=make_options(texts),
        multiple=multiple,
        results_visibility=results_visibility,
        opens_at=now - timedelta(hours=1),
        closes_at=None,
        closed_at=None,
        countries=(),
        status="open",
        version=version,
        created_at=now,
        updated_at=now,
    )
