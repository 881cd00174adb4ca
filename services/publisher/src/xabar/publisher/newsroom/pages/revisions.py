"""An article's history: every version (who, when, what), two versions side by side, and
restoring one (its content becomes the next version; nothing is lost, the history only grows).

The revisions live inside the article's own document, so this reads one document by ``_id``.
"""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.domain import Doc
from xabar.publisher.errors import VersionConflict
from xabar.publisher.merge import blocks, side_by_side
from xabar.publisher.newsroom import editing
from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.web import PageRouter, current, posted, see_other
from xabar.runtime.params import path_int, query_int

router = PageRouter()

MAX_VERSION = 1_000_000
TEXT_FIELDS = ("title", "lead", "source", "source_url", "author")


@router.page("GET", "/articles/{article_id}/revisions", "An article's versions")
async def article_history(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    who = current(request).principal
    article_id = editing.article_id_of(request)
    rows = await newsroom.api.articles.revisions(who, article_id)
    article = await newsroom.api.articles.read(who, article_id, history=True)
    items = [
        {
            "version": r.version,
            "at": r.at,
            "by": r.by.name,
            "action": editing.ACTION_NAMES.get(r.action, r.action),
            "changed": [editing.FIELD_LABELS.get(f, f) for f in r.changed],
            "note": r.note,
            "restored_from": r.restored_from,
        }
        for r in reversed(rows)
    ]
    return await newsroom.pages.render(
        request,
        "articles/revisions.html",
        f"История: {article.title}",
        {"article": article, "items": items, "editable": editing.may_edit(who, article)},
    )


@router.page("GET", "/articles/{article_id}/diff", "Two versions side by side")
async def compare_versions(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    who = current(request).principal
    article_id = editing.article_id_of(request)
    article = await newsroom.api.articles.read(who, article_id, history=True)
    newer = query_int(request, "to", default=article.version, low=1, high=MAX_VERSION)
    older = query_int(request, "from", default=max(newer - 1, 1), low=1, high=MAX_VERSION)
    a, b, changes = await newsroom.api.articles.diff(who, article_id, older, newer)
    fields = [_field(c) for c in changes if c["field"] in editing.FIELD_LABELS]
    return await newsroom.pages.render(
        request,
        "articles/diff.html",
        f"Сравнение версий: {article.title}",
        {"article": article, "older": a, "newer": b, "fields": fields},
    )


def _field(change: Doc) -> dict[str, Any]:
    name = change["field"]
    before, after = change.get("before"), change.get("after")
    out: dict[str, Any] = {"label": editing.FIELD_LABELS[name], "html": name == "body_html"}
    if name == "body_html":
        out["rows"] = side_by_side(blocks(before or ""), blocks(after or ""))
    else:
        out["rows"] = [
            {"before": _plain(name, before), "after": _plain(name, after), "kind": "changed"}
        ]
    return out


def _plain(name: str, value: Any) -> str:
    if name == "image":
        return (value or {}).get("url") or "без фото"
    if name == "corrections":
        return "; ".join(c.get("note", "") for c in value or [])
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    if value is None or value == "":
        return "—"
    if name == "status":
        return editing.STATUS_NAMES.get(str(value), str(value))
    return str(value)


@router.page("POST", "/articles/{article_id}/revisions/{version}/restore", "Restore a version")
async def restore_version(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    article_id = editing.article_id_of(request)
    version = path_int(request, "version", high=MAX_VERSION, what="version")
    current_version = editing.version_of(posted(request))
    try:
        await newsroom.api.articles.restore(session.principal, article_id, version, current_version)
    except VersionConflict:
        await newsroom.sessions.flash(
            session, "Статью только что изменили: посмотрите историю ещё раз.", "error"
        )
        return see_other(request, "article_history", article_id=article_id)
    await newsroom.sessions.flash(session, f"Восстановлена версия {version} (как новая версия).")
    return see_other(request, "article", article_id=article_id)
