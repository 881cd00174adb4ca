"""Bodies the HTTP API reads and writes (they also make the OpenAPI document)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from xabar.contracts import PollOption

Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]
OptionText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
OptionId = Annotated[str, StringConstraints(pattern=r"^o[0-9]{1,2}$")]
ArticleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Visibility = Literal["always", "after_vote", "after_close"]
Phase = Literal["scheduled", "open", "closed"]


def _in_range(value: datetime) -> datetime:
    """A date-time from 1900 to 2199 in UTC (9999-12-31 with a negative offset is past what a
    datetime holds once in UTC: refused here, not a 500 later)."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not 1900 <= utc.year <= 2199:
        raise PydanticCustomError("range", "дата и время — с 1900 по 2199 год")
    return utc


Moment = Annotated[AwareDatetime, AfterValidator(_in_range)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NewPoll(_In):
    """A poll an editor creates. Without ``opens_at`` it opens at once."""

    question: Question
    options: list[OptionText] = Field(min_length=2, max_length=20)
    multiple: bool = False
    opens_at: Moment | None = None
    closes_at: Moment | None = None
    results_visibility: Visibility = "always"
    countries: list[str] = Field(
        default_factory=list, max_length=10, description="country sections that show it"
    )
    front_page: bool = Field(default=True, description="shown on the front page")
    article_ids: list[ArticleId] = Field(
        default_factory=list, max_length=50, description="articles it is embedded in"
    )


class PollEdit(_In):
    """Changes to a poll that has not opened yet; absent fields stay as they are."""

    question: Question | None = None
    options: list[OptionText] | None = Field(default=None, min_length=2, max_length=20)
    multiple: bool | None = None
    opens_at: Moment | None = None
    closes_at: Moment | None = None
    results_visibility: Visibility | None = None
    countries: list[str] | None = Field(default=None, max_length=10)
    front_page: bool | None = None
    article_ids: list[ArticleId] | None = Field(default=None, max_length=50)


class Placement(_In):
    """Where a poll is shown; may change at any time, also while it is open or closed."""

    front_page: bool = Field(description="shown on the front page")
    countries: list[str] = Field(
        default_factory=list, max_length=10, description="country sections that show it"
    )
    article_ids: list[ArticleId] = Field(
        default_factory=list, max_length=50, description="articles it is embedded in"
    )


class VoteRequest(_In):
    """One option id (single choice) or several (multiple choice)."""

    options: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(
        min_length=1, max_length=20
    )


class VoteForm(BaseModel):
    """The HTML form's fields (application/x-www-form-urlencoded)."""

    option: list[str] = Field(description="an option id; repeated for multiple choice")
    return_to: str | None = Field(
        default=None, description="where to go after voting; only followed under the site URL"
    )


class OptionResult(BaseModel):
    option_id: str
    text: str
    votes: int
    percent: int


class Results(BaseModel):
    total_votes: int = Field(description="voters who voted (\u00abВсего голосов\u00bb)")
    options: list[OptionResult]


class PollView(BaseModel):
    poll_id: str
    question: str
    options: list[PollOption]
    multiple: bool
    results_visibility: Visibility
    opens_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None
    countries: list[str]
    front_page: bool
    article_ids: list[str]
    status: Phase
    version: int
    created_at: datetime
    voted: bool = Field(description="the caller's voter cookie has voted in this poll")
    results: Results | None = Field(description="null while the results are not visible")
    results_hidden_reason: str | None = None


class PollPage(BaseModel):
    items: list[PollView]
    page: int
    per_page: int
    total: int
    pages: int


class VoteReceipt(BaseModel):
    poll_id: str
    options: list[str]
    counted: Literal[True] = True
    flagged: list[str] = Field(
        default_factory=list, description="anomaly kinds the vote was flagged with, if any"
    )
    results: Results | None


class Anomaly(BaseModel):
    poll_id: str
    kind: Literal["address", "subnet"]
    key: str = Field(description="salted hash of the address or subnet")
    flagged_votes: int
    first_at: datetime
    last_at: datetime


class AnomalyList(BaseModel):
    items: list[Anomaly]


class PollResults(BaseModel):
    """What an editor sees of a poll: its results whatever the readers may see, and the bursts
    of votes flagged on it."""

    poll_id: str
    status: Phase
    results: Results
    anomalies: list[Anomaly]
