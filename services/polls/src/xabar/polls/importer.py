"""``import-poll``: a poll with its historical results, through the same code as live votes.

The file::

    {"import_key": "eaeu-2015", "question": "...", "multiple": false,
     "options": [{"text": "...", "votes": 463}, ...],
     "opens_at": "2015-01-01T00:00:00+00:00", "results_visibility": "always"}

The poll is created and opened by the domain service (so ``poll.opened`` goes through the
outbox), then ``votes`` synthetic voters per option (``import:<key>:<n>``, numbered across the
options in order) are counted by the counting script, so the vote log, the counters and
``poll.tallied`` are all real. Running it again with the same file changes nothing: the poll id
comes from the key, and voters already counted are refused by the script.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from xabar.polls.bootstrap import Polls
from xabar.polls.domain import utc_now
from xabar.polls.errors import BadImportFile
from xabar.polls.schemas import NewPoll

BATCH = 500


class ImportOption(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=300)
    votes: int = Field(default=0, ge=0, le=10_000_000)


class ImportFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    import_key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:/\-]{1,100}$")]
    question: str = Field(min_length=3, max_length=500)
    options: list[ImportOption] = Field(min_length=2, max_length=20)
    multiple: bool = False
    opens_at: AwareDatetime | None = None
    closes_at: AwareDatetime | None = None
    results_visibility: Literal["always", "after_vote", "after_close"] = "always"
    countries: list[str] = Field(default_factory=list)


def poll_id_for(import_key: str) -> str:
    return "imp-" + hashlib.sha256(import_key.encode()).hexdigest()[:16]


async def import_poll(polls: Polls, data: ImportFile) -> dict[str, Any]:
    service = polls.service
    now: datetime = utc_now()
    if data.opens_at is not None and data.opens_at > now:
        raise BadImportFile("opens_at of an imported poll must not be in the future")
    new = NewPoll(
        question=data.question,
        options=[o.text for o in data.options],
        multiple=data.multiple,
        opens_at=data.opens_at,
        closes_at=data.closes_at,
        results_visibility=data.results_visibility,
        countries=data.countries,
    )
    poll_id = poll_id_for(data.import_key)
    poll, created = await service.create(
        new, editor="import", poll_id=poll_id, import_key=data.import_key
    )
    if poll.import_key != data.import_key or len(poll.options) != len(data.options):
        raise BadImportFile(f"poll {poll_id} exists and was not imported from this file")
    await service.relay_events(poll_id)  # poll.opened now, not at the next sweep

    planned: list[tuple[str, list[str]]] = []
    for option, spec in zip(poll.options, data.options, strict=True):
        for _ in range(spec.votes):
            planned.append((f"import:{data.import_key}:{len(planned)}", [option.option_id]))
    counted = already = 0
    for i in range(0, len(planned), BATCH):
        outcomes = await service.cast_unaddressed(poll_id, planned[i : i + BATCH])
        for outcome in outcomes:
            if outcome.status == "ok":
                counted += 1
            elif outcome.status == "voted":
                already += 1
            else:
                raise BadImportFile(f"the poll refused the imported votes: {outcome.status}")
    await polls.writer.drain()
    await polls.tallier.publish_one(poll_id)
    counts = await service.counter.counts(poll_id)
    return {
        "poll_id": poll_id,
        "created": created,
        "counted": counted,
        "already_counted": already,
        "total_votes": counts.total if counts else 0,
    }
