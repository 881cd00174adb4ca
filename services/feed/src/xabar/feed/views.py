"""View models shared by the HTML pages, the feeds and the JSON API: what a reader sees of an
article or a poll, computed from the read model's documents at one moment ``now``."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from math import ceil
from urllib.parse import quote

from xabar.contracts import COUNTRIES, Country
from xabar.feed.config import FeedSettings
from xabar.feed.documents import ArticleDoc
from xabar.feed.repository import PollRead, ReadModel, Snapshot
from xabar.runtime.rendered import Rendered

PAGER_RADIUS = 4
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(eq=False)
class ReadModelView:
    """What the pages, the feeds and the JSON API answer from: the settings, the read model
    (``read``) and the clock that tells each answer its ``now``."""

    settings: FeedSettings
    read: ReadModel
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @staticmethod
    def rendered(
        body: bytes,
        media_type: str,
        snapshot: Snapshot,
        expires: float | None = None,
        *,
        status: int = 200,
        headers: dict[str, str],
    ) -> Rendered:
        """``body``, answered from ``snapshot`` (its revision and last change), fresh until
        ``expires`` (epoch seconds; None: until the revision moves)."""
        return Rendered(
            body,
            media_type,
            revision=snapshot.revision,
            last_modified=snapshot.last_modified,
            expires_at=expires,
            status=status,
            headers=headers,
        )


def article_path(slug: str) -> str:
    return "/news/" + quote(slug, safe="")


def comments_path(path: str, page: int) -> str:
    """Page ``page`` of an article's comments (page 1 is the article's own URL)."""
    return path if page == 1 else f"{path}?comments={page}"


class CommentsHref:
    """Links of the comments pager: the page, at the comments (or at one of them)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self, n: int, fragment: str = "comments") -> str:
        return f"{comments_path(self.path, n)}#{fragment}"


def last_page(total: int, size: int) -> int:
    """Number of the last page; an empty list still has page 1."""
    return max(1, ceil(total / size))


@dataclass(frozen=True, slots=True)
class PagerItem:
    kind: str  # "page", "current" or "gap"
    number: int = 0
    href: str = ""


def pager(current: int, last: int, href_of: Callable[[int], str]) -> list[PagerItem]:
    """Pages like "1 … 748 749 750 751 752 … 1039": first, last, and a window around current."""
    if last <= 1:
        return []
    numbers = sorted(
        {1, last, *range(max(1, current - PAGER_RADIUS), min(last, current + PAGER_RADIUS) + 1)}
    )
    items: list[PagerItem] = []
    previous = 0
    for n in numbers:
        if n - previous > 1:
            items.append(PagerItem("gap"))
        kind = "current" if n == current else "page"
        items.append(PagerItem(kind, n, href_of(n)))
        previous = n
    return items


class HrefOf:
    """URL of page ``n`` of a paged list at ``base`` (page 1 is ``first``, if given)."""

    def __init__(self, base: str, first: str | None = None) -> None:
        self.base = base
        self.first = first or base

    def __call__(self, n: int) -> str:
        return self.first if n == 1 else f"{self.base}?page={n}"


@dataclass(frozen=True, slots=True)
class OptionView:
    option_id: str
    text: str
    votes: int | None
    percent: int | None


@dataclass(frozen=True, slots=True)
class PollView:
    poll_id: str
    question: str
    options: list[OptionView]
    multiple: bool
    show_results: bool
    is_open: bool
    total_votes: int
    vote_url: str
    opens_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None
    results_visibility: str
    countries: tuple[str, ...]
    page_path: str  # the poll's own page
    dom_id: str  # safe in an HTML id
    voted: tuple[str, ...] = ()  # the texts of the options the reader just voted for
    tally_pending: bool = False  # the results shown do not include that vote yet


def chosen_texts(read: PollRead, options: tuple[str, ...]) -> tuple[str, ...] | None:
    """The texts of ``options`` of the poll, in the poll's order; None unless every one of
    them is an option of the poll (and several only where it takes several)."""
    texts = {o.option_id: o.text for o in read.poll.options}
    if not options or any(o not in texts for o in options):
        return None
    if len(options) > 1 and not read.poll.multiple:
        return None
    return tuple(o.text for o in read.poll.options if o.option_id in options)


def tally_version(read: PollRead) -> int:
    return read.tally.version if read.tally is not None else 0


def poll_view(
    read: PollRead,
    settings: FeedSettings,
    now: datetime,
    vote: "VotedView | None" = None,
) -> PollView:
    """What a reader sees of a poll; after they voted in it (``vote``), their choice and the
    results (those that are shown to voters) without the form."""
    poll, tally = read.poll, read.tally
    is_open = poll.closed_at is None and (poll.closes_at is None or poll.closes_at > now)
    voted = vote is not None and vote.poll_id == poll.poll_id
    show = poll.results_visibility == "always" or not is_open
    show = show or (voted and poll.results_visibility == "after_vote")
    counts = tally.counts if tally else {}
    percents = tally.percentages if tally else {}
    options = [
        OptionView(
            o.option_id,
            o.text,
            counts.get(o.option_id, 0) if show else None,
            percents.get(o.option_id, 0) if show else None,
        )
        for o in poll.options
    ]
    return PollView(
        poll_id=poll.poll_id,
        question=poll.question,
        options=options,
        multiple=poll.multiple,
        show_results=show,
        is_open=is_open,
        total_votes=tally.total_votes if tally else 0,
        vote_url=f"{settings.polls_public_url}/api/v1/polls/{quote(poll.poll_id, safe='')}/votes",
        opens_at=poll.opens_at,
        closes_at=poll.closes_at,
        closed_at=poll.closed_at,
        results_visibility=poll.results_visibility,
        countries=poll.countries,
        page_path=poll_path(poll.poll_id),
        dom_id=poll_dom_id(poll.poll_id),
        voted=vote.texts if vote is not None and voted else (),
        tally_pending=voted and show and vote is not None and tally_version(read) < vote.tally,
    )


@dataclass(frozen=True, slots=True)
class VotedView:
    """A vote the reader just cast, as a page shows it."""

    poll_id: str
    texts: tuple[str, ...]
    tally: int


def poll_dom_id(poll_id: str) -> str:
    return "poll-" + _NOT_ID.sub("-", poll_id)


def poll_path(poll_id: str) -> str:
    return "/polls/" + quote(poll_id, safe="")


def poll_expiry(read: PollRead | None, now: datetime) -> float | None:
    """When a shown poll closes by its clock (its form must disappear then), if in the future."""
    if read is None or read.poll.closed_at is not None or read.poll.closes_at is None:
        return None
    closes = read.poll.closes_at
    return closes.timestamp() if closes > now else None


def sections_of(doc: ArticleDoc) -> list[Country]:
    return [COUNTRIES[c] for c in doc.countries if c in COUNTRIES]


def earliest(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def tag_path(tag: str) -> str:
    return "/tags/" + quote(tag, safe="")
