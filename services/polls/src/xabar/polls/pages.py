"""The small Russian HTML pages of the polls service: one poll with its results, all polls."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from jinja2 import Environment, PackageLoader, select_autoescape

from xabar.polls.domain import Phase, Poll

NOTICES = {
    "ok": "Спасибо! Ваш голос учтён.",
}


class Pages:
    def __init__(self, *, timezone: str, public_url: str, site_url: str) -> None:
        self.tz = ZoneInfo(timezone)
        self.base = public_url
        self.site_url = site_url
        self.env = Environment(
            loader=PackageLoader("xabar.polls", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def when(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return format_datetime(value, "d MMMM y HH:mm", tzinfo=self.tz, locale="ru")

    def poll(
        self,
        poll: Poll,
        *,
        phase: Phase,
        rows: Sequence[tuple[str, str, int, int]] | None,
        total: int,
        voted: bool,
        notice: str | None = None,
        error: str | None = None,
        return_to: str | None = None,
        choice: Sequence[str] | None = None,
    ) -> str:
        return self.env.get_template("poll.html").render(
            choice=choice,
            base=self.base,
            site_url=self.site_url,
            poll=poll,
            phase=phase,
            rows=rows,
            total=total,
            voted=voted,
            can_vote=phase == "open" and not voted,
            hidden_reason=None if rows is not None else poll.hidden_reason(),
            notice=notice,
            error=error,
            return_to=return_to,
            opens_at=self.when(poll.opens_at),
            closes_at=self.when(poll.closes_at),
            closed_at=self.when(poll.closed_at),
        )

    def listing(
        self,
        items: Sequence[tuple[Poll, int | None, Phase]],
        *,
        page: int,
        pages: int,
    ) -> str:
        return self.env.get_template("list.html").render(
            base=self.base,
            site_url=self.site_url,
            items=[(p, total, phase, self.when(p.opens_at)) for p, total, phase in items],
            page=page,
            pages=pages,
            page_links=page_links(page, pages),
        )

    def message(self, title: str, message: str, *, return_to: str | None = None) -> str:
        return self.env.get_template("message.html").render(
            base=self.base,
            site_url=self.site_url,
            title=title,
            message=message,
            return_to=return_to,
        )


def page_links(page: int, pages: int, around: int = 5) -> list[int | None]:
    """1 ... 748 749 [750] 751 752 ... 1039 (None is an ellipsis)."""
    wanted = {1, pages, *range(max(1, page - around), min(pages, page + around) + 1)}
    out: list[int | None] = []
    last = 0
    for n in sorted(wanted):
        if n - last > 1:
            out.append(None)
        out.append(n)
        last = n
    return out
