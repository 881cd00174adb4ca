"""«Сегодня»: the newsroom's home page, what the day needs attention for.

Drafts waiting for review, scheduled publications with their times and the latest publications
come from the article list's Redis index (``repositories.index``): a few ``ZREVRANGE`` and
``HMGET`` calls, whatever the number of articles.
"""

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.domain import ArticleQuery, ArticleStatus
from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.render import NavItem
from xabar.publisher.newsroom.web import PageRouter, current

router = PageRouter(nav=[NavItem("Сегодня", "today", order=10)])

SHOWN = 10
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


@router.page("GET", "/", "Today: what needs attention")
async def today(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    articles = newsroom.api.articles
    session = current(request)

    async def listed(status: ArticleStatus) -> tuple[int, list[dict[str, Any]]]:
        page = await articles.search(
            session.principal, ArticleQuery(status=status.value, per_page=SHOWN)
        )
        return page.total, [row(s) for s in page.items]

    review_total, in_review = await listed(ArticleStatus.IN_REVIEW)
    scheduled_total, scheduled = await listed(ArticleStatus.SCHEDULED)
    scheduled.sort(key=lambda r: r["publish_at"] or LATER)
    _, published = await listed(ArticleStatus.PUBLISHED)
    return await newsroom.pages.render(
        request,
        "today.html",
        "Сегодня",
        {
            "name": session.name,
            "in_review": in_review,
            "review_total": review_total,
            "scheduled": scheduled,
            "scheduled_total": scheduled_total,
            "published": published,
        },
    )
