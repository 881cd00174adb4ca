"""«Статьи»: the list (search, filters, pages) and the editor of one article.

The list reads the article index in Redis (``repositories.index``: sorted sets and a word index,
never a scan of FerretDB): search by words of the title, lead and text, filters by status,
country and author. The editor is a plain form (it works without JavaScript); ``articles.js``
adds autosave of drafts, the library's photos in the body, and the merge's choices.

Saving sends the whole content with the version the form was opened at. If someone saved since,
both edits are merged against that version (``ArticleService.edit_merging``): a clean merge is
saved and says who changed what; a merge with conflicts is shown with both texts and saved only
when the editor confirms it. Preview posts the form (unsaved) to the readers' site's preview and
shows the page it renders in a sandboxed frame.
"""

import html
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from xabar.contracts import COUNTRIES
from xabar.publisher.domain import Article, ArticleQuery, ArticleStatus, Doc
from xabar.publisher.errors import VersionConflict
from xabar.publisher.merge import Merged
from xabar.publisher.newsroom import editing
from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.render import NavItem, pager_values
from xabar.publisher.newsroom.web import PageRouter, current, posted, see_other
from xabar.runtime.auth import Role
from xabar.runtime.bodies import Limits, read_json
from xabar.runtime.errors import BadRequest
from xabar.runtime.http import json_response
from xabar.runtime.params import query_choice, query_int
from xabar.runtime.security import PagePolicy, origin_of

router = PageRouter(nav=[NavItem("Статьи", "articles", order=30)])

PER_PAGE = 30
MAX_QUERY = 200
# The article form: the body may be long (the API takes a million characters).
ARTICLE_FORM = Limits(max_bytes=1_200_000, max_fields=60, max_field_bytes=1_050_000)
FRAME_SRC = re.compile(r'<iframe\b[^>]*\bsrc="([^"]+)"')
PREVIEW_POLICY = PagePolicy().with_(script_src="'self'", connect_src="'self'")  # the newsroom's


# --- the list ---------------------------------------------------------------------------------


@router.page("GET", "/articles", "Articles: search, filters, pages")
async def articles(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    text = (request.query_params.get("q") or "").strip()[:MAX_QUERY]
    people = {str(e["_id"]): e.get("name") or "" for e in await newsroom.api.editors.all()}
    owner = request.query_params.get("author") or None
    query = ArticleQuery(
        status=query_choice(request, "status", editing.STATUS_NAMES),
        country=query_choice(request, "country", editing.COUNTRY_NAMES),
        owner_id=owner if owner in people else None,
        text=text or None,
        page=query_int(request, "page", default=1, low=1, high=10_000),
        per_page=PER_PAGE,
    )
    found = await newsroom.api.articles.search(session.principal, query)
    chosen = {"q": text, "status": query.status, "country": query.country, "author": query.owner_id}
    kept = {k: v for k, v in chosen.items() if v}
    return await newsroom.pages.render(
        request,
        "articles/list.html",
        "Статьи",
        {
            "rows": [_row(s, people) for s in found.items],
            **pager_values(found),
            "exact": found.exact,
            "more": query.page * PER_PAGE < found.total or not found.exact,
            "chosen": chosen,
            "filters_query": urlencode(kept),
            "statuses": editing.STATUS_NAMES,
            "countries": editing.COUNTRY_NAMES,
            "people": sorted(people.items(), key=lambda kv: kv[1]),
            "me": session.principal.editor_id,
        },
    )


def _row(summary: dict[str, Any], people: dict[str, str]) -> dict[str, Any]:
    def when(name: str) -> datetime | None:
        value = summary.get(name)
        return datetime.fromisoformat(value) if isinstance(value, str) and value else None

    status = summary.get("status") or "draft"
    return {
        "id": summary["article_id"],
        "title": summary.get("title") or "Без заголовка",
        "status": status,
        "status_label": editing.STATUS_NAMES.get(status, status),
        "countries": [COUNTRIES[c].name for c in summary.get("countries") or [] if c in COUNTRIES],
        "author": people.get(summary.get("owner_id") or "", ""),
        "updated_at": when("updated_at"),
        "publish_at": when("publish_at"),
        "featured": bool(summary.get("featured")),
    }


# --- the editor -------------------------------------------------------------------------------


@router.page("GET", "/articles/new", "A new article")
async def new_article(request: Request) -> Response:
    values = editing.form_values({})
    return await editor_page(request, None, values, version=0)


@router.page("POST", "/articles/new", "Create the article", form=ARTICLE_FORM)
async def create_article(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    form = posted(request)
    try:
        given = editing.given_of(form)
    except BadRequest as exc:
        values = editing.form_values(_raw(form))
        return await editor_page(request, None, values, 0, errors=editing.messages_of(exc))
    article = await newsroom.api.articles.create(session.principal, given)
    await newsroom.sessions.flash(session, "Черновик создан.")
    return see_other(request, "article", article_id=article.article_id)


@router.page("GET", "/articles/{article_id}", "The editor of an article")
async def article(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    found = await newsroom.api.articles.read(
        current(request).principal, editing.article_id_of(request)
    )
    values = editing.form_values(found.values(editing.FIELD_LABELS.keys()))
    return await editor_page(request, found, values, found.version)


@router.page("POST", "/articles/{article_id}", "Save the article", form=ARTICLE_FORM)
async def save_article(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    form = posted(request)
    article_id = editing.article_id_of(request)
    base = editing.version_of(form)
    articles = newsroom.api.articles
    try:
        given = editing.given_of(form)
    except BadRequest as exc:
        found = await articles.read(session.principal, article_id)
        values = editing.form_values(_raw(form))
        return await editor_page(request, found, values, base, errors=editing.messages_of(exc))
    note = (form.get("correction_note") or "").strip()[:2000]
    if note:
        saved = await articles.correct(session.principal, article_id, note, given, base)
        await newsroom.sessions.flash(session, "Исправление опубликовано с заметкой для читателей.")
        return see_other(request, "article", article_id=saved.article_id)
    saved, merged = await articles.edit_merging(session.principal, article_id, given, base)
    if merged is not None and not merged.clean:
        values = editing.form_values(merged.values)
        return await editor_page(request, saved, values, saved.version, merged=merged, base=base)
    text = "Сохранено."
    if merged is not None:
        names = sorted({r.by.name for r in articles.changed_since(saved, base) if r.by.name})
        text = f"Пока вы писали, статью изменили ({', '.join(names)}); правки объединены."
    await newsroom.sessions.flash(session, text)
    return see_other(request, "article", article_id=saved.article_id)


@router.page("POST", "/articles/{article_id}/autosave", "Autosave a draft", form=None)
async def autosave_article(request: Request) -> Response:
    """The editor's form as JSON (``articles.js``, CSRF token in its header): saved as the next
    version if nobody saved since; else 409 and the editor saves by hand (and merges)."""
    newsroom = Newsroom.of(request)
    session = current(request)
    data = await read_json(request, ARTICLE_FORM.max_bytes)
    fields = data if isinstance(data, dict) else {}
    form = _Posted({str(k): v for k, v in fields.items()})
    try:
        base = editing.version_of(form)
        given = editing.given_of(form)
        saved = await newsroom.api.articles.edit(
            session.principal,
            editing.article_id_of(request),
            given,
            base,
            full=True,
            action="autosave",
        )
    except VersionConflict:
        return json_response({"saved": False, "conflict": True}, 409)
    except BadRequest as exc:
        return json_response({"saved": False, "errors": editing.messages_of(exc)}, 422)
    clock = newsroom.pages.dates.clock(datetime.now(UTC))
    return json_response({"saved": True, "version": saved.version, "at": clock})


class _Posted:
    """JSON fields read like a form's (strings, and lists for repeated fields)."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.fields.get(name, default)
        return value if isinstance(value, str) or value is None else str(value)

    def getlist(self, name: str) -> list[str]:
        value = self.fields.get(name)
        return [str(v) for v in value] if isinstance(value, list) else []


@router.page("POST", "/articles/new/preview", "Preview a new article", form=ARTICLE_FORM)
async def preview_new(request: Request) -> Response:
    return await _preview(request, None)


@router.page("POST", "/articles/{article_id}/preview", "Preview the article", form=ARTICLE_FORM)
async def preview_article(request: Request) -> Response:
    return await _preview(request, editing.article_id_of(request))


async def _preview(request: Request, article_id: str | None) -> Response:
    """The posted form (not saved) rendered by the readers' site, in a sandboxed frame: no
    script runs in it, and it cannot reach the newsroom."""
    newsroom = Newsroom.of(request)
    session = current(request)
    try:
        given = editing.given_of(posted(request))
    except BadRequest as exc:
        return await newsroom.pages.render(
            request,
            "articles/preview.html",
            "Предпросмотр",
            {"frame": None, "errors": editing.messages_of(exc), "article_id": article_id},
            status=422,
        )
    state = await newsroom.api.articles.preview_state(session.principal, article_id, given)
    page = await newsroom.api.preview.render(session.principal, state)
    site = origin_of(newsroom.settings.site_url) or ""
    media = origin_of(newsroom.settings.public_url) or ""
    framed = page.replace("<head>", f'<head><base href="{html.escape(site)}/">', 1)
    # the frame's document (srcdoc) lives under this page's policy: the site's styles and
    # images, its <base>, and nothing that runs (the frame is sandboxed without scripts)
    policy = PREVIEW_POLICY.with_(
        style_src=f"'self' {site}", img_src=f"'self' {site} {media} data:", base_uri=site
    )
    frames = {o for src in FRAME_SRC.findall(page) if (o := origin_of(html.unescape(src)))}
    if frames:  # the readers' comment form, as the site frames it (from ingest)
        policy = policy.with_(frame_src=" ".join(sorted(frames)))
    return await newsroom.pages.render(
        request,
        "articles/preview.html",
        "Предпросмотр",
        {"frame": framed, "errors": [], "article_id": article_id, "title_shown": state.title},
        headers=policy.headers(),
    )


def _raw(form: editing.Fields) -> Doc:
    """What a refused form said, to show it again as it was typed."""
    tags = [t.strip() for t in (form.get("tags") or "").split(",") if t.strip()]
    image = None
    if form.get("image_media_id") or form.get("image_url"):
        image = {
            "media_id": form.get("image_media_id") or None,
            "url": form.get("image_url") or "",
            "alt": form.get("image_alt") or "",
            "credit": form.get("image_credit") or "",
        }
    return {
        **{k: form.get(k) or "" for k in ("title", "lead", "body_html", "source", "source_url")},
        "author": form.get("author") or "",
        "countries": form.getlist("countries"),
        "tags": tags,
        "image": image,
    }


async def editor_page(
    request: Request,
    found: Article | None,
    values: dict[str, Any],
    version: int,
    *,
    errors: list[str] | None = None,
    merged: Merged | None = None,
    base: int | None = None,
) -> Response:
    newsroom = Newsroom.of(request)
    who = current(request).principal
    context: dict[str, Any] = {
        "article": found,
        "values": values,
        "version": version,
        "errors": errors or [],
        "countries": editing.COUNTRY_NAMES,
        "editable": found is None or editing.may_edit(who, found),
        "actions": editing.actions_for(who, found) if found else [],
        "featurable": found is not None and editing.may_feature(who, found),
        "status_label": editing.STATUS_NAMES[found.status] if found else "новая статья",
        "draft": found is not None and found.status == ArticleStatus.DRAFT,
        "published": found is not None and found.published,
        "conflicts": editing.conflicts_view(merged) if merged else [],
        "merged_with": [],
        "site_url": newsroom.settings.article_url(found.slug) if found and found.published else "",
        "editor_role": who.role.at_least(Role.EDITOR),
        "zone_label": newsroom.settings.newsroom_timezone,
    }
    if merged is not None and found is not None and base is not None:
        changes = newsroom.api.articles.changed_since(found, base)
        context["merged_with"] = sorted({r.by.name for r in changes if r.by.name})
    title = found.title if found and found.title else "Новая статья"
    status = 409 if merged else 422 if errors else 200
    return await newsroom.pages.render(
        request, "articles/editor.html", title, context, status=status
    )
