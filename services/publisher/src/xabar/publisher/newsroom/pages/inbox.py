"""«Входящие»: citizen reporters' tips (editors and chiefs).

The list is filtered by status, country and the day received (days in the newsroom's time zone)
and read from the tips' Redis index (``repositories.tips``). A tip's page shows its text, place,
the reporter's contact and photo previews (fetched from ingest for a logged-in editor only,
never cached by a shared cache). Actions are form posts: take into review, accept into a draft,
reject with a reason the reporter will see. New tips appear without a reload: ``inbox.js`` asks
``/inbox/updates`` every few seconds for the rows received since the newest it shows.
"""

from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from xabar.contracts import COUNTRIES, SubmissionStatus
from xabar.publisher.domain import Period
from xabar.publisher.errors import InvalidInput, InvalidTransition, NotFound, VersionConflict
from xabar.publisher.inbox import STATUS_LABELS, reporter_contact
from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.render import NavItem, pager_values
from xabar.publisher.newsroom.web import PageRouter, current, posted, see_other
from xabar.publisher.repositories.queues import now_ms
from xabar.publisher.repositories.tips import TipQuery, detail_of, summary_of
from xabar.runtime.auth import Role
from xabar.runtime.http import json_response
from xabar.runtime.params import calendar_day, query_choice, query_int

router = PageRouter(nav=[NavItem("Входящие", "inbox", order=20, role=Role.EDITOR)])

PER_PAGE = 30
MAX_REASON = 1000
STATUSES = {s.value: STATUS_LABELS[s.value] for s in SubmissionStatus}
COUNTRY_NAMES = {code: c.name for code, c in COUNTRIES.items()}


def tip_id(request: Request) -> str:
    return str(request.path_params["submission_id"])[:100]


def filters(request: Request) -> dict[str, Any]:
    """The list's filters from the query (422 for a value out of its choices or range)."""
    zone = Newsroom.of(request).settings.newsroom_zone()
    days: dict[str, datetime | None] = {}
    for name in ("from", "to"):
        raw = request.query_params.get(name) or ""
        day = calendar_day(raw, name) if raw else None
        if day is not None and name == "to":
            day += timedelta(days=1)  # to the end of that day
        days[name] = datetime.combine(day, time(0), tzinfo=zone) if day else None
    return {
        "status": query_choice(request, "status", STATUSES),
        "country": query_choice(request, "country", COUNTRY_NAMES),
        "period": Period(days["from"], days["to"]),
        "raw": {k: request.query_params.get(k, "") for k in ("status", "country", "from", "to")},
    }


def matches(row: dict[str, Any], chosen: dict[str, Any]) -> bool:
    return (
        (chosen["status"] is None or row["status"] == chosen["status"])
        and (chosen["country"] is None or row["country"] == chosen["country"])
        and row["received_at"] in chosen["period"]
    )


@router.page("GET", "/inbox", "Citizen reporters' tips", role=Role.EDITOR)
async def inbox(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    chosen = filters(request)
    page = query_int(request, "page", default=1, low=1, high=10_000)
    shown_at = now_ms()  # live updates bring what arrives from now on (inbox.js)
    query = TipQuery(
        status=chosen["status"],
        country=chosen["country"],
        received=chosen["period"],
        page=page,
        per_page=PER_PAGE,
    )
    found = await newsroom.tips.search(query)
    return await newsroom.pages.render(
        request,
        "inbox/list.html",
        "Входящие",
        {
            "tips": found.items,
            **pager_values(found),
            "chosen": chosen["raw"],
            "query": request.url.query,
            "filters_query": urlencode({k: v for k, v in chosen["raw"].items() if v}),
            "statuses": STATUSES,
            "countries": COUNTRY_NAMES,
            "newest": shown_at,
        },
    )


@router.page("GET", "/inbox/updates", "Tips received since (for inbox.js)", role=Role.EDITOR)
async def inbox_updates(request: Request) -> Response:
    """JSON for the page's script: the rows (HTML) of tips stored after ``after`` (epoch ms)
    that match the page's filters, and the time to ask from next."""
    newsroom = Newsroom.of(request)
    chosen = filters(request)
    after = query_int(request, "after", default=0, low=0, high=10**14)
    arrived, newest = await newsroom.tips.arrived_since(after)
    rows = [r for r in arrived if matches(r, chosen)]
    context = newsroom.pages.context(
        request, "", {"tips": rows, "statuses": STATUSES, "countries": COUNTRY_NAMES}
    )
    html = newsroom.pages.env.get_template("inbox/_rows.html").render(context) if rows else ""
    return json_response(
        {"count": len(rows), "html": html, "newest": newest},
        headers={"Cache-Control": "no-store"},
    )


async def indexed_tip(request: Request) -> dict[str, Any]:
    """The tip as its page shows it: from the tips' Redis index (FerretDB answers even an
    ``_id`` look-up with a scan), or from MongoDB when the index does not have it yet."""
    newsroom = Newsroom.of(request)
    found = await newsroom.tips.get(tip_id(request))
    if found is None or "detail" not in found:
        doc = await newsroom.api.inbox.get(tip_id(request))
        found = summary_of(doc) | {"detail": detail_of(doc)}
        found["received_at"] = doc["received_at"]
        found["detail"]["reviewed_at"] = doc.get("reviewed_at")
    return found


async def tip_page(
    request: Request, tip: dict[str, Any] | None = None, *, error: str = "", status: int = 200
) -> Response:
    newsroom = Newsroom.of(request)
    tip = tip or await indexed_tip(request)
    detail = dict(tip["detail"])
    contact = reporter_contact(detail, newsroom.settings.newsroom_key())
    detail["contact"] = None if contact is None else contact.model_dump()
    return await newsroom.pages.render(
        request,
        "inbox/tip.html",
        tip["title"] or "Сообщение",
        {
            "tip": tip,
            "detail": detail,
            "paragraphs": [p for p in detail["text"].split("\n") if p.strip()],
            "statuses": STATUSES,
            "countries": COUNTRY_NAMES,
            "open": tip["status"] in (SubmissionStatus.RECEIVED.value, "in_review"),
            "error": error,
        },
        status=status,
    )


@router.page("GET", "/inbox/{submission_id}", "One tip", role=Role.EDITOR)
async def inbox_tip(request: Request) -> Response:
    return await tip_page(request)


@router.page(
    "GET", "/inbox/{submission_id}/photos/{attachment_id}", "A tip's photo", role=Role.EDITOR
)
async def inbox_photo(request: Request) -> Response:
    tip = await indexed_tip(request)
    wanted = str(request.path_params["attachment_id"])
    refs = {a["attachment_id"]: a for a in tip["detail"]["attachments"]}
    if wanted not in refs:
        raise NotFound("у этого сообщения нет такого фото")
    data = await Newsroom.of(request).api.inbox.ingest.attachment(wanted)
    if data is None:
        raise NotFound("фото больше нет у сервиса приёма")
    return Response(
        data,
        media_type=refs[wanted]["content_type"],
        headers={"Cache-Control": "private, max-age=300", "Content-Disposition": "inline"},
    )


async def _after(request: Request, text: str, kind: str = "ok") -> Response:
    await Newsroom.of(request).sessions.flash(current(request), text, kind)
    return see_other(request, "inbox_tip", submission_id=tip_id(request))


@router.page("POST", "/inbox/{submission_id}/review", "Take a tip into review", role=Role.EDITOR)
async def inbox_review(request: Request) -> Response:
    inbox = Newsroom.of(request).api.inbox
    try:
        await inbox.start_review(current(request).principal, tip_id(request))
    except (InvalidTransition, VersionConflict) as exc:
        return await _after(request, exc.message, "error")
    return await _after(request, "Сообщение взято в работу.")


@router.page("POST", "/inbox/{submission_id}/accept", "Accept a tip into a draft", role=Role.EDITOR)
async def inbox_accept(request: Request) -> Response:
    inbox = Newsroom.of(request).api.inbox
    try:
        done = await inbox.accept(current(request).principal, tip_id(request))
    except (InvalidTransition, VersionConflict) as exc:
        return await _after(request, exc.message, "error")
    text = f"Принято: создан черновик «{done.article.title}»."
    if done.photos_missing:
        text += f" Фото не удалось забрать: {len(done.photos_missing)}."
    return await _after(request, text)


@router.page("POST", "/inbox/{submission_id}/reject", "Reject a tip", role=Role.EDITOR)
async def inbox_reject(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    reason = " ".join((posted(request).get("reason") or "").split())
    try:
        if not reason:
            raise InvalidInput("напишите причину: её увидит автор сообщения")
        if len(reason) > MAX_REASON:
            raise InvalidInput(f"причина — не длиннее {MAX_REASON} символов")
        await newsroom.api.inbox.reject(current(request).principal, tip_id(request), reason)
    except InvalidInput as exc:
        return await tip_page(request, error=exc.message, status=422)
    except (InvalidTransition, VersionConflict) as exc:
        return await _after(request, exc.message, "error")
    return await _after(request, "Сообщение отклонено; автор увидит причину.")
