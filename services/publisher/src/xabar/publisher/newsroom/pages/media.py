"""«Медиатека»: every image the newsroom has (editors' uploads, tips' photos, imports), newest
first, with its caption and credit; upload (a plain file field, and drag and drop with
``media.js``), describe, and reuse: as an article's photo (``?pick=<article>``: a form post per
image) or in an article's body (the editor's photo button asks ``/media-library/recent.json``).

Every upload is re-encoded without its metadata and made in the sizes readers get
(``images``); the list is the library's Redis index (``repositories.library``).
"""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.errors import VersionConflict
from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.render import NavItem, pager_values
from xabar.publisher.newsroom.web import PageRouter, current, posted, see_other
from xabar.runtime.auth import Role
from xabar.runtime.bodies import Limits
from xabar.runtime.http import json_response
from xabar.runtime.params import query_int

router = PageRouter(nav=[NavItem("Медиатека", "media_library", order=40)])

PER_PAGE = 24
UPLOAD = Limits(
    max_bytes=16 * 1024 * 1024 + 64 * 1024,
    max_fields=10,
    max_field_bytes=4096,
    max_files=1,
    max_file_bytes=16 * 1024 * 1024,  # the library's own limit (MAX_MEDIA_BYTES) is checked too
    file_fields=frozenset({"file"}),
)
MAX_TEXT = 500


def view(item: dict[str, Any], newsroom: Newsroom) -> dict[str, Any]:
    base = newsroom.settings.media_url(item["media_id"])
    return {
        **item,
        "url": base,
        "thumb_url": f"{base}/{item['thumb']}" if item.get("thumb") else base,
        "kb": max(1, round(int(item.get("size") or 0) / 1024)),
    }


def _pick(request: Request) -> str:
    return (request.query_params.get("pick") or "")[:64]


@router.page("GET", "/media-library", "The media library")
async def media_library(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    page = query_int(request, "page", default=1, low=1, high=10_000)
    found = await newsroom.api.library.browse(page, PER_PAGE)
    pick = _pick(request)
    picking = None
    if pick:
        picking = await newsroom.api.articles.read(session.principal, pick)
    return await newsroom.pages.render(
        request,
        "media/library.html",
        "Медиатека",
        {
            "items": [view(i, newsroom) for i in found.items],
            **pager_values(found),
            "picking": picking,
            "can_upload": session.role.at_least(Role.EDITOR),
        },
    )


@router.page("GET", "/media-library/recent.json", "The newest images, for the editor's picker")
async def media_recent(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    page = query_int(request, "page", default=1, low=1, high=10_000)
    found = await newsroom.api.library.browse(page, PER_PAGE)
    items = []
    for item in found.items:
        shown = view(item, newsroom)
        items.append(
            {
                "media_id": item["media_id"],
                "url": shown["url"],
                "thumb": shown["thumb_url"],
                "alt": item.get("alt") or "",
                "credit": item.get("credit") or "",
            }
        )
    return json_response({"items": items, "total": found.total, "page": page})


@router.page("POST", "/media-library", "Upload an image", role=Role.EDITOR, form=UPLOAD)
async def upload_media(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    form = posted(request)
    files = form.files_in("file")
    pick = (form.get("pick") or "")[:64]
    query = f"pick={pick}" if pick else ""
    if not files:
        await newsroom.sessions.flash(session, "Выберите файл с фотографией.", "error")
        return see_other(request, "media_library", query)
    alt, credit = _texts(form.get("alt"), form.get("credit"))
    stored = await newsroom.api.library.upload(
        session.principal, files[0].data, alt=alt, credit=credit
    )
    await newsroom.sessions.flash(
        session, f"Фото загружено ({stored.width}×{stored.height}), метаданные удалены."
    )
    return see_other(request, "media_library", query)


@router.page("POST", "/media-library/{media_id}", "Caption and credit", role=Role.EDITOR)
async def describe_media(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    form = posted(request)
    alt, credit = _texts(form.get("alt"), form.get("credit"))
    media_id = str(request.path_params["media_id"])[:64]
    await newsroom.api.library.describe(session.principal, media_id, alt=alt, credit=credit)
    await newsroom.sessions.flash(session, "Подпись сохранена.")
    return see_other(request, "media_library")


@router.page("POST", "/articles/{article_id}/photo", "Use a library image as the photo")
async def attach_photo(request: Request) -> Response:
    """The chosen image becomes the article's photo, with its caption and credit from the
    library (changed afterwards on the editor page as any field)."""
    newsroom = Newsroom.of(request)
    session = current(request)
    form = posted(request)
    article_id = str(request.path_params["article_id"])[:64]
    item = await newsroom.api.library.item((form.get("media_id") or "")[:64])
    articles = newsroom.api.articles
    found = await articles.read(session.principal, article_id)
    image = {"media_id": item["media_id"], "alt": item.get("alt"), "credit": item.get("credit")}
    try:
        await articles.edit(session.principal, article_id, {"image": image}, found.version)
    except VersionConflict:
        await newsroom.sessions.flash(
            session, "Статью только что изменили: выберите ещё раз.", "error"
        )
        return see_other(request, "media_library", f"pick={article_id}")
    await newsroom.sessions.flash(session, "Фото статьи выбрано.")
    return see_other(request, "article", article_id=article_id)


def _texts(alt: str | None, credit: str | None) -> tuple[str | None, str | None]:
    return ((alt or "").strip()[:MAX_TEXT] or None, (credit or "").strip()[:300] or None)
