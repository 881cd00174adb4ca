"""The reader pages as bytes, rendered once per revision of what they show.

A page's revision is what it shows, read from the Redis mirror in one pipelined round trip
(``PollService.view`` / ``page``): for a poll, its version, its counted-vote sequence, its phase
and whether its results are shown; for the list, the same per poll listed and the number of
pages. Each revision is rendered once and compressed then with gzip and brotli
(``xabar.runtime.rendered.Rendered``: ETag, 304, the coding ``Accept-Encoding`` asks for).

Two stores:

- the public pages, by their URL (``/polls``, ``/polls?page=N``, ``/polls/ID``): what a reader
  without a voter cookie sees, ``Cache-Control: public, no-cache``. The server's protocol
  answers a request for one of these from here before any ASGI scope exists
  (``xabar.runtime.fastprotocol``, ``get``), unless it carries a voter's cookie. ``refresh``
  (a runtime ``Worker`` every ``XABAR_POLLS_PAGES_REFRESH_MS``, 100 ms by default) reads the
  revisions of the pages requested since, in one round trip for all the polls and one per list
  page, and renders again those that changed; pages not requested for ``IDLE_S`` are dropped.
  So a public page is at most one interval behind the counters.
- the variants a voter sees (voted: their results and "Вы уже проголосовали"; just voted: the
  choice they made, from the vote's one-shot cookie; a form with a ``return_to``), by what they
  show, at most ``max_variants``, least recently used first out. ``Cache-Control: private,
  no-cache``. They are picked with a fresh read of the poll and of whether this voter voted (one
  pipelined round trip), so a reader who voted sees their own state and the current results,
  never another voter's.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from xabar.polls.counter import Counts
from xabar.polls.domain import Phase, Poll
from xabar.polls.pages import Pages
from xabar.polls.service import PollService
from xabar.runtime.rendered import NO_CACHE, Rendered

HTML = "text/html; charset=utf-8"
PRIVATE = "private, no-cache"
LIST_ROUTE = "/polls"
POLL_ROUTE = "/polls/{poll_id}"
IDLE_S = 10.0  # a public page not requested for this long is dropped, not refreshed


@dataclass(frozen=True, slots=True)
class PollShown:
    """What a poll's page shows for one reader, and its revision."""

    poll: Poll
    counts: Counts
    phase: Phase
    voted: bool
    rows: list[tuple[str, str, int, int]] | None  # None: the results are not shown

    @classmethod
    def of(cls, poll: Poll, counts: Counts, voted: bool, now: datetime) -> PollShown:
        rows = None
        if poll.results_visible(now, voted=voted):
            rows = PollService.results(poll, counts)[0]
        return cls(poll, counts, poll.phase(now), voted, rows)

    @property
    def revision(self) -> Hashable:
        return (self.poll.version, self.counts.seq, self.phase, self.voted, self.rows is not None)


@dataclass(frozen=True, slots=True)
class ListShown:
    """What a page of the list shows for one reader, and its revision."""

    page: int
    pages: int
    items: list[tuple[Poll, int | None, Phase]]  # the total when it is shown

    @property
    def revision(self) -> Hashable:
        return (self.pages, tuple((p.poll_id, p.version, t, ph) for p, t, ph in self.items))


def poll_key(poll_id: str) -> str:
    return f"/polls/{poll_id}"


def list_key(page: int) -> str:
    return LIST_ROUTE if page == 1 else f"{LIST_ROUTE}?page={page}"


class ReaderPages:
    def __init__(
        self,
        renderer: Pages,
        service: PollService,
        *,
        headers: Mapping[str, str],
        per_page: int = 20,
        max_public: int = 256,
        max_variants: int = 2048,
    ) -> None:
        self.renderer = renderer
        self.service = service
        self.headers = dict(headers)  # the security headers of an HTML answer
        self.per_page = per_page
        self.max_public = max_public
        self.max_variants = max_variants
        self._public: OrderedDict[str, tuple[Hashable, Rendered]] = OrderedDict()
        self._used: dict[str, float] = {}  # public key -> when last requested (monotonic)
        self._variants: OrderedDict[Hashable, Rendered] = OrderedDict()

    # --- the protocol's look-up -------------------------------------------------------------

    def get(self, key: str) -> Rendered | None:
        """The public page under a request target's key, or None (a dict look-up)."""
        found = self._public.get(key)
        if found is None:
            return None
        self._used[key] = time.monotonic()
        return found[1]

    def __len__(self) -> int:
        return len(self._public)

    # --- the endpoints' ---------------------------------------------------------------------

    async def poll_page(
        self,
        poll_id: str,
        voter_id: str | None,
        *,
        choice_cookie: str | None = None,
        notice: str | None = None,
        return_to: str | None = None,
    ) -> Rendered:
        """The poll's page for this reader (``PollNotFound`` if there is no such poll)."""
        poll, counts, voted = await self.service.view(poll_id, voter_id)
        shown = PollShown.of(poll, counts, voted, self.service.clock())
        choice = _choice_of(choice_cookie, poll) if voted else None
        if not voted and notice is None and return_to is None:
            return self._public_poll(shown)
        key = ("poll", poll_id, shown.revision, choice, notice, return_to)
        page = self._variants.get(key)
        if page is None:
            page = self._variant(key, self._render_poll(shown, choice, notice, return_to))
        self._variants.move_to_end(key)
        return page

    async def list_page(self, page: int, voter_id: str | None) -> Rendered:
        shown = await self._list_shown(page, voter_id)
        key = list_key(page)
        found = self._public.get(key)
        if found is not None and found[0] == shown.revision:  # what anyone sees: public
            self._used[key] = time.monotonic()
            return found[1]
        if voter_id is None:
            return self._put_public(key, shown.revision, self._render_list(shown, public=True))
        variant = ("list", page, shown.revision)
        rendered = self._variants.get(variant)
        if rendered is None:
            rendered = self._variant(variant, self._render_list(shown, public=False))
        return rendered

    # --- the refresher's --------------------------------------------------------------------

    async def refresh(self) -> None:
        """Render again the public pages requested lately whose revision moved; drop the others
        (and those whose poll is gone: the endpoint answers them)."""
        now = time.monotonic()
        for key in [k for k in self._public if now - self._used.get(k, 0.0) > IDLE_S]:
            self._drop(key)
        polls = [k for k in self._public if not k.startswith(LIST_ROUTE + "?") and k != LIST_ROUTE]
        if polls:
            ids = [k.removeprefix(LIST_ROUTE + "/") for k in polls]
            views = await self.service.views(ids, None)
            clock = self.service.clock()
            for key, view in zip(polls, views, strict=True):
                if view is None:
                    self._drop(key)
                elif key in self._public:
                    self._public_poll(PollShown.of(*view, clock))
        for key in [k for k in self._public if k.startswith(LIST_ROUTE + "?") or k == LIST_ROUTE]:
            page = int(key.partition("=")[2] or 1)
            shown = await self._list_shown(page, None)
            if key in self._public and self._public[key][0] != shown.revision:
                self._put_public(key, shown.revision, self._render_list(shown, public=True))

    # --- inside -----------------------------------------------------------------------------

    def _public_poll(self, shown: PollShown) -> Rendered:
        key = poll_key(shown.poll.poll_id)
        found = self._public.get(key)
        if found is not None and found[0] == shown.revision:
            self._used[key] = time.monotonic()
            return found[1]
        return self._put_public(key, shown.revision, self._render_poll(shown, None, None, None))

    async def _list_shown(self, page: int, voter_id: str | None) -> ListShown:
        views, total = await self.service.page(page, self.per_page, voter_id)
        now = self.service.clock()
        items = []
        for poll, counts, voted in views:
            shown = counts.total if poll.results_visible(now, voted=voted) else None
            items.append((poll, shown, poll.phase(now)))
        return ListShown(page, max(1, -(-total // self.per_page)), items)

    def _render_poll(
        self,
        shown: PollShown,
        choice: Sequence[str] | None,
        notice: str | None,
        return_to: str | None,
    ) -> Rendered:
        html = self.renderer.poll(
            shown.poll,
            phase=shown.phase,
            rows=shown.rows,
            total=shown.counts.total,
            voted=shown.voted,
            notice=notice,
            return_to=return_to,
            choice=choice,
        )
        return self._rendered(html, POLL_ROUTE, public=not shown.voted)

    def _render_list(self, shown: ListShown, *, public: bool) -> Rendered:
        html = self.renderer.listing(shown.items, page=shown.page, pages=shown.pages)
        return self._rendered(html, LIST_ROUTE, public=public)

    def _rendered(self, html: str, route: str, *, public: bool) -> Rendered:
        return Rendered(
            html.encode(),
            HTML,
            0,
            datetime.now(UTC),
            headers=self.headers,
            cache_control=NO_CACHE if public else PRIVATE,
            route=route,
        )

    def _put_public(self, key: str, revision: Hashable, page: Rendered) -> Rendered:
        self._public[key] = (revision, page)
        self._public.move_to_end(key)
        self._used.setdefault(key, time.monotonic())
        while len(self._public) > self.max_public:
            self._drop(next(iter(self._public)))
        return page

    def _drop(self, key: str) -> None:
        self._public.pop(key, None)
        self._used.pop(key, None)

    def _variant(self, key: Hashable, page: Rendered) -> Rendered:
        self._variants[key] = page
        while len(self._variants) > self.max_variants:
            self._variants.popitem(last=False)
        return page


def _choice_of(cookie: str | None, poll: Poll) -> tuple[str, ...] | None:
    """The texts of the options the reader just chose in this poll (the vote's cookie:
    ``<poll id>.<option>-<option>``)."""
    poll_id, _, options = (cookie or "").partition(".")
    texts = {o.option_id: o.text for o in poll.options}
    chosen = tuple(texts[o] for o in options.split("-") if o in texts)
    return chosen if poll_id == poll.poll_id and chosen else None
