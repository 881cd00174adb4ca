"""«Письма»: readers' letters to the editors ("Напишите нам"), editors and above.

The box by status (new, handled; newest first), one letter with its way to answer opened with
the newsroom's private key for the editor reading it (never stored opened, never published), and
marking it handled or new again (plain form posts answered with a 303).
"""

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.letters import STATUS_LABELS, LetterStatus
from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.render import NavItem, queue_values
from xabar.publisher.newsroom.web import PageRouter, current, see_other
from xabar.publisher.routes.params import path_id, q_choice, q_int
from xabar.runtime.auth import Role

router = PageRouter(nav=[NavItem("Письма", "letters", order=70, role=Role.EDITOR)])

PER_PAGE = 30
STATUSES = frozenset(s.value for s in LetterStatus)


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


@router.page("GET", "/letters", "Readers' letters", role=Role.EDITOR)
async def letters(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    status = LetterStatus(q_choice(request, "status", STATUSES) or "new")
    page = q_int(request, "page", 1, 1, 100_000)
    found = await newsroom.api.letters.box(status, page, PER_PAGE)
    rows = [
        {**r, "received_at": _when(r["received_at"]), "handled_at": _when(r.get("handled_at"))}
        for r in found.items
    ]
    return await newsroom.pages.render(
        request,
        "letters/list.html",
        "Письма",
        queue_values(status, STATUS_LABELS, await newsroom.api.letters.counts(), rows, found),
    )


@router.page("GET", "/letters/{letter_id}", "One letter", role=Role.EDITOR)
async def letter(request: Request) -> Response:
    newsroom = Newsroom.of(request)
    service = newsroom.api.letters
    doc = await service.get(path_id(request, "letter_id"))
    return await newsroom.pages.render(
        request,
        "letters/letter.html",
        doc["subject"] or "Письмо",
        {
            "letter": doc,
            "letter_id": str(doc["_id"]),
            "reply_to": service.reply_to(doc),
            "sealed": bool(doc.get("reply_to_sealed")),
        },
    )


async def _mark(request: Request, handled: bool) -> Response:
    newsroom = Newsroom.of(request)
    session = current(request)
    letter_id = path_id(request, "letter_id")
    await newsroom.api.letters.mark(session.principal, letter_id, handled)
    said = "Письмо обработано." if handled else "Письмо снова в новых."
    await newsroom.sessions.flash(session, said)
    return (
        see_other(request, "letters")
        if handled
        else see_other(request, "letter", letter_id=letter_id)
    )


@router.page("POST", "/letters/{letter_id}/handled", "Mark a letter handled", role=Role.EDITOR)
async def letter_handled(request: Request) -> Response:
    return await _mark(request, True)


@router.page("POST", "/letters/{letter_id}/new", "Mark a letter new again", role=Role.EDITOR)
async def letter_unhandled(request: Request) -> Response:
    return await _mark(request, False)
