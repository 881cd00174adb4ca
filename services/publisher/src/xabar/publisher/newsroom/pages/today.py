"""«Сегодня»: the newsroom's home page, what the day needs attention for.

New tips (the tips' Redis index), drafts waiting for review, scheduled publications with their
times and the latest publications (the article list's Redis index: a few ``ZREVRANGE`` and
``HMGET``, whatever the number of articles), the news of the day site-wide and per country (the
few featured choices and their summaries), and alerts (``newsroom.alerts``: dead letters, lagging
consumers, poll anomalies; kept a few seconds).
"""

import asyncio
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.contracts import COUNTRIES
from xabar.publisher.domain import ArticleQuery, ArticleStatus, Page
from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.render import NavItem
from xabar.publisher.newsroom.web import PageRouter, current
from xabar.publisher.repositories.tips import TipQuery
from xabar.runtime.auth import Principal, Role

router = PageRouter(nav=[NavItem("Сегодня", "today", order=10)])

SHOWN = 10
SCHEDULED_READ = 200  # the most recently changed scheduled articles, shown soonest first
LATER = datetime.max.replace(tzinfo=UTC)


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def row(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": summary["article_id"],
        "title": summary["title"] or "Без заголовка",
        "countries": summary.get("countries") or [],
        "updated_at": _when(summary.get("updated_at")),
        "publish_at": _when(summary.get("publish_at")),
        "published_at": _when(summary.get("published_at")),
    }


async def featured(newsroom: Newsroom) -> list[dict[str, Any]]:
    """The news of the day: site-wide first, then each country that has one."""
    chosen = {k: v for k, v in (await newsroom.api.articles.featured()).items() if v}
    index = newsroom.api.articles.index
    titles = {s["article_id"]: s["title"] for s in await index.summaries(list(chosen.values()))}
    out = []
    for key, article_id in sorted(chosen.items(), key=lambda kv: (kv[0] != "site", kv[0])):
        country = COUNTRIES.get(key.rsplit(":", 1)[-1].upper())
        where = "на всём сайте" if country is None else country.name
        out.append({"where": where, "title": titles.get(article_id, "—"), "id": article_id})
    return out


async def articles_of(
    newsroom: Newsroom, who: Principal, status: ArticleStatus, n: int
) -> tuple[int, list[Any]]:
    """What ``who`` may see of the articles in ``status`` (a contributor: their own)."""
    page = await newsroom.api.articles.search(who, ArticleQuery(status=status.value, per_page=n))
    return page.total, [row(s) for s in page.items]


@router.page("GET", "/", "Today: what needs attention")
async def today(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    editor = session.role.at_least(Role.EDITOR)
    who = session.principal
    no_tips: Page[dict[str, Any]] = Page([], 0, 1, 5)
    # independent reads, at once (each is a few Redis round trips)
    (
        (review_total, in_review),
        (scheduled_total, scheduled),
        (_, published),
        tips,
    ) = await asyncio.gather(
        articles_of(newsroom, who, ArticleStatus.IN_REVIEW, SHOWN),
        articles_of(newsroom, who, ArticleStatus.SCHEDULED, SCHEDULED_READ),
        articles_of(newsroom, who, ArticleStatus.PUBLISHED, SHOWN),
        newsroom.tips.search(TipQuery(status="received", per_page=5))
        if editor
        else asyncio.sleep(0, no_tips),
    )
    scheduled = sorted(scheduled, key=lambda r: r["publish_at"] or LATER)[:SHOWN]
    return await newsroom.pages.render(
        request,
        "today.html",
        "Сегодня",
        {
            "name": session.name,
            "editor": editor,
            "tips": tips.items,
            "tips_total": tips.total,
            "in_review": in_review,
            "review_total": review_total,
            "scheduled": scheduled,
            "scheduled_total": scheduled_total,
            "published": published,
            "featured": await newsroom.featured.get(lambda: featured(newsroom)) if editor else [],
            "alerts": await newsroom.alerts.current(session.principal) if editor else [],
        },
    )
