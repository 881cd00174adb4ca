"""«Комментарии»: the moderation queue of readers' comments (editors and above).

The queue by status (pending oldest first, the others newest first), of all articles or of one;
each comment's name and text shown as the plain text they are (escaped, never markup); approve,
reject, spam, bulk approve, a passage edited out, the author's address blocked for a while, an
article's comments closed or opened again, and the blocks in force. Every action is a plain form
post answered with a 303 back to the list it came from (post/redirect/get), and a message.
"""

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from xabar.publisher.comments import REASONS, STATUS_LABELS, CommentStatus
from xabar.publisher.domain import ArticleQuery, ArticleStatus
from xabar.publisher.errors import InvalidInput, NotFound
from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.render import NavItem, queue_values
from xabar.publisher.newsroom.web import PageRouter, current, posted, safe_next, see_other
from xabar.publisher.routes.params import path_id, q_choice, q_int, q_str
from xabar.runtime.auth import Role

router = PageRouter(nav=[NavItem("Комментарии", "comments", order=50, role=Role.EDITOR)])

PER_PAGE = 30
RECENT_ARTICLES = 30
STATUSES = frozenset(s.value for s in CommentStatus)
BLOCK_FOR = {1: "на час", 24: "на сутки", 168: "на неделю", 720: "на 30 дней"}
DONE = {
    "approve": "Комментарий одобрен: читатели его видят.",
    "reject": "Комментарий отклонён.",
    "spam": "Комментарий отмечен как спам.",
}


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


async def titles(newsroom: Newsroom, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The article summaries of the index by id (for titles and links)."""
    found = await newsroom.api.articles.index.summaries(list(dict.fromkeys(ids)))
    return {str(s["article_id"]): s for s in found}


def back_to(request: Request) -> Response:
    """303 to the list the form was posted from (a path of the newsroom), else the queue."""
    target = safe_next(Newsroom.of(request).base, posted(request).get("back"))
    return RedirectResponse(target, status_code=303) if target else see_other(request, "comments")


async def article_box(newsroom: Newsroom, article_id: str, known: dict[str, Any] | None) -> Any:
    """The filtered article: its title and whether its comments are open (None if gone)."""
    try:
        article = await newsroom.api.articles.get(article_id)
    except NotFound:
        return None
    return {
        "id": article_id,
        "title": article.title or "Без заголовка",
        "open": article.comments_open,
        "url": newsroom.settings.article_url(article.slug) if article.published else None,
        "indexed": known is not None,
    }


@router.page("GET", "/comments", "Readers' comments: the moderation queue", role=Role.EDITOR)
async def comments(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    service = newsroom.api.comments
    status = CommentStatus(q_choice(request, "status", STATUSES) or "pending")
    article_id = q_str(request, "article_id", 100)
    page = q_int(request, "page", 1, 1, 100_000)
    found = await service.queue(status, article_id, page, PER_PAGE)
    counts = await service.counts(article_id)
    known = await titles(
        newsroom, [r["article_id"] for r in found.items] + ([article_id] if article_id else [])
    )
    rows = [
        {
            **r,
            "submitted_at": _when(r["submitted_at"]),
            "moderated_at": _when(r.get("moderated_at")),
            "article_title": (known.get(r["article_id"]) or {}).get("title") or "статья не найдена",
            "reason_label": REASONS.get(r.get("reason") or ""),
        }
        for r in found.items
    ]
    recent = await newsroom.api.articles.search(
        current(request).principal,
        ArticleQuery(status=ArticleStatus.PUBLISHED.value, per_page=RECENT_ARTICLES),
    )
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return await newsroom.pages.render(
        request,
        "comments/list.html",
        "Комментарии",
        {
            **queue_values(status, STATUS_LABELS, counts, rows, found),
            "article": await article_box(newsroom, article_id, known.get(article_id))
            if article_id
            else None,
            "article_id": article_id or "",
            "recent": [{"id": s["article_id"], "title": s["title"]} for s in recent.items],
            "blocks": await service.blocks(),
            "block_for": BLOCK_FOR,
            "back": here,
        },
    )


async def _moderate(request: Request, action: str) -> Response:
    newsroom = Newsroom.of(request)
    service = newsroom.api.comments
    session = current(request)
    comment_id = path_id(request, "comment_id")
    act = {"approve": service.approve, "reject": service.reject, "spam": service.mark_spam}
    await act[action](session.principal, comment_id)
    await newsroom.sessions.flash(session, DONE[action])
    return back_to(request)


@router.page("POST", "/comments/{comment_id}/approve", "Approve a comment", role=Role.EDITOR)
async def comment_approve(request: Request) -> Response:
    return await _moderate(request, "approve")


@router.page("POST", "/comments/{comment_id}/reject", "Reject a comment", role=Role.EDITOR)
async def comment_reject(request: Request) -> Response:
    return await _moderate(request, "reject")


@router.page("POST", "/comments/{comment_id}/spam", "Mark a comment as spam", role=Role.EDITOR)
async def comment_spam(request: Request) -> Response:
    return await _moderate(request, "spam")


@router.page("POST", "/comments/approve", "Approve the comments ticked", role=Role.EDITOR)
async def comments_bulk_approve(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    ids = posted(request).getlist("comment_id")
    if not ids:
        await newsroom.sessions.flash(session, "Отметьте комментарии, которые одобрить.", "error")
        return back_to(request)
    try:
        done = await newsroom.api.comments.approve_many(session.principal, ids)
    except InvalidInput as exc:
        await newsroom.sessions.flash(session, exc.message, "error")
        return back_to(request)
    failed = [o for o in done if o.error]
    approved = len(done) - len(failed)
    await newsroom.sessions.flash(session, f"Одобрено комментариев: {approved}.")
    if failed:
        await newsroom.sessions.flash(session, f"Не одобрено: {len(failed)}.", "error")
    return back_to(request)


@router.page("POST", "/comments/{comment_id}/edit", "Edit a passage out", role=Role.EDITOR)
async def comment_edit(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    passage = posted(request).get("passage") or ""
    comment_id = path_id(request, "comment_id")
    await newsroom.attempt(
        session,
        lambda: newsroom.api.comments.edit(session.principal, comment_id, passage),
        done="Отрывок убран: на его месте «[отредактировано]».",
        failed="Отрывок не убран",
    )
    return back_to(request)


@router.page("POST", "/comments/{comment_id}/block", "Block the author", role=Role.EDITOR)
async def comment_block(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    chosen = posted(request).get("hours") or ""
    hours = int(chosen) if chosen.isascii() and chosen.isdigit() else 0
    if hours not in BLOCK_FOR:
        await newsroom.sessions.flash(session, "Выберите срок блокировки.", "error")
        return back_to(request)
    until = await newsroom.api.comments.block_author(
        session.principal, path_id(request, "comment_id"), hours
    )
    when = newsroom.pages.dates.when(until)
    await newsroom.sessions.flash(
        session, f"Автор заблокирован до {when}: его новые комментарии отклоняются сразу."
    )
    return back_to(request)


@router.page("POST", "/comments/blocks/{client_hash}/lift", "Lift a block", role=Role.EDITOR)
async def comment_unblock(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    await newsroom.api.comments.unblock(session.principal, path_id(request, "client_hash"))
    await newsroom.sessions.flash(session, "Блокировка снята.")
    return back_to(request)


async def _set_open(request: Request, is_open: bool) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    await newsroom.api.comments.set_open(session.principal, path_id(request, "article_id"), is_open)
    said = "открыты" if is_open else "закрыты: новые комментарии к статье отклоняются сразу"
    await newsroom.sessions.flash(session, f"Комментарии к статье {said}.")
    return back_to(request)


@router.page(
    "POST", "/comments/article/{article_id}/close", "Close an article's comments", role=Role.EDITOR
)
async def comments_close(request: Request) -> Response:
    return await _set_open(request, False)


@router.page(
    "POST", "/comments/article/{article_id}/open", "Open an article's comments", role=Role.EDITOR
)
async def comments_open(request: Request) -> Response:
    return await _set_open(request, True)
