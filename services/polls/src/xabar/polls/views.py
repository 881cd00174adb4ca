"""What the HTTP API answers about polls: the domain's polls and counts as the documented bodies
(``schemas``), and the vote receipt rendered from parts kept per version of a poll."""

from __future__ import annotations

import json
from datetime import datetime

from xabar.polls.counter import AnomalyRow, Counts
from xabar.polls.domain import Poll, from_epoch_ms, percentages
from xabar.polls.schemas import Anomaly, OptionResult, PollView, Results
from xabar.polls.service import PollService, VoteResult


def results_of(poll: Poll, counts: Counts) -> Results:
    rows, total = PollService.results(poll, counts)
    return Results(
        total_votes=total,
        options=[OptionResult(option_id=o, text=t, votes=v, percent=p) for o, t, v, p in rows],
    )


def view_of(
    poll: Poll, counts: Counts, voted: bool, now: datetime, *, editor: bool = False
) -> PollView:
    visible = editor or poll.results_visible(now, voted=voted)
    return PollView(
        poll_id=poll.poll_id,
        question=poll.question,
        options=list(poll.options),
        multiple=poll.multiple,
        results_visibility=poll.results_visibility,
        opens_at=poll.opens_at,
        closes_at=poll.closes_at,
        closed_at=poll.closed_at,
        countries=list(poll.countries),
        front_page=poll.front_page,
        article_ids=list(poll.article_ids),
        status=poll.phase(now),
        version=poll.version,
        created_at=poll.created_at,
        voted=voted,
        results=results_of(poll, counts) if visible else None,
        results_hidden_reason=None if visible else poll.hidden_reason(),
    )


def anomaly_of(row: AnomalyRow) -> Anomaly:
    return Anomaly(
        poll_id=row.poll_id,
        kind=row.kind,
        key=row.key,
        flagged_votes=row.flagged_votes,
        first_at=from_epoch_ms(row.first_ms),
        last_at=from_epoch_ms(row.last_ms),
    )


class Receipts:
    """The answer to a counted vote, a ``VoteReceipt`` as compact UTF-8 JSON, written from parts
    rendered once per version of a poll: per vote only the numbers are written (this is the hot
    path: no model is built per vote)."""

    def __init__(self) -> None:
        self._parts: dict[str, tuple[Poll, str, list[tuple[str, str]]]] = {}

    def render(self, result: VoteResult, now: datetime) -> bytes:
        poll = result.poll
        cached = self._parts.get(poll.poll_id)
        if cached is None or cached[0] is not poll:
            cached = self._parts[poll.poll_id] = (poll, *_parts_of(poll))
        _, head, rows = cached
        options = ",".join(f'"{o}"' for o in result.options)  # ids the counter took: [a-z0-9]
        flagged = ",".join(f'"{f}"' for f in result.flags)  # "address", "subnet"
        results = "null"
        if poll.results_visible(now, voted=True):
            counts = [result.counts.options.get(o.option_id, 0) for o in poll.options]
            shares = percentages(counts)
            items = ",".join(
                f"{before}{votes}{between}{share}}}"
                for (before, between), votes, share in zip(rows, counts, shares, strict=True)
            )
            results = f'{{"total_votes":{result.counts.total},"options":[{items}]}}'
        return (
            f'{head}"options":[{options}],"counted":true,"flagged":[{flagged}],'
            f'"results":{results}}}'
        ).encode()


def _parts_of(poll: Poll) -> tuple[str, list[tuple[str, str]]]:
    def dump(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    head = f'{{"poll_id":{dump(poll.poll_id)},'
    rows = [
        (f'{{"option_id":{dump(o.option_id)},"text":{dump(o.text)},"votes":', ',"percent":')
        for o in poll.options
    ]
    return head, rows
