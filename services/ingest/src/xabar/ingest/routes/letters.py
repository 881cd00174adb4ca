"""Letters to the editors, "Напишите нам" (never published): ``GET /letters`` the Russian form
(name, a way to answer, subject, text, a honeypot and a signed token bound to the client),
``POST /letters`` its post, ``POST /api/v1/letters`` a letter as JSON (``Idempotency-Key``).
Accepted durably as a tip is (``readers``); the way to answer is sealed to the newsroom's key."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.ingest.comments import (
    LETTER_MAX,
    LETTER_MESSAGES,
    LETTER_NAME_MAX,
    REPLY_TO_MAX,
    SUBJECT_MAX,
    LetterAccepted,
    NewLetter,
    form_fields,
    validate_letter,
)
from xabar.ingest.deps import Deps, correlation
from xabar.ingest.routes.common import (
    IDEMPOTENCY_KEY,
    FormPage,
    SignedForm,
    accepted,
    api_answers,
    idempotency_key,
    read_post,
)
from xabar.ingest.routes.html import Words, html, pages_answer
from xabar.runtime.bodies import FORM, Limits, read_json
from xabar.runtime.routing import Router

router = Router(tags=["letters"])

LETTER_LIMITS = Limits(max_bytes=96 * 1024, max_fields=10, max_field_bytes=64 * 1024)
MAX_JSON = 96 * 1024
API_ANSWERS = api_answers(LetterAccepted)


class LetterForm(SignedForm):
    """The fields of the letter form (application/x-www-form-urlencoded)."""

    name: str
    reply_to: str | None = None
    subject: str
    text: str


class LetterPage(FormPage):
    template = "letter.html"
    title = "Напишите нам"
    shown = ("name", "reply_to", "subject", "text")
    messages = LETTER_MESSAGES
    words = Words("письмо", "писем")

    def context(self) -> dict[str, Any]:
        limits = {"name": LETTER_NAME_MAX, "reply_to": REPLY_TO_MAX, "subject": SUBJECT_MAX}
        return {"limits": {**limits, "text": LETTER_MAX}}


@router.get(
    "/letters", "The letter form, «Напишите нам» (Russian HTML)", responses=pages_answer(200)
)
async def letter_form(request: Request) -> Response:
    deps = Deps.of(request)
    return LetterPage(deps, deps.binding(request)).form()


@router.post(
    "/letters",
    "Send the letter form (Russian HTML)",
    body=LetterForm,
    body_media=FORM,
    responses=pages_answer(200, 400, 403, 413, 415, 422, 429, 503),
)
async def send_letter_form(request: Request) -> Response:
    deps = Deps.of(request)
    page = LetterPage(deps, deps.binding(request))
    check = await read_post(request, page, LETTER_LIMITS)
    await deps.letter_limit.check(deps.commenter_hash(request))
    await deps.readers.letter(
        validate_letter(form_fields(page.values or {}, frozenset({"reply_to"}))),
        idempotency_key=f"form:{check.nonce}",
        correlation_id=correlation(request),
        form=True,
    )
    return html(deps.pages.render("letter_sent.html", page_title="Письмо получено"))


@router.post(
    "/api/v1/letters",
    "Send a letter to the editors (JSON). 202 means durably accepted.",
    body=NewLetter,
    responses=API_ANSWERS,
    parameters=[IDEMPOTENCY_KEY],
)
async def send_letter(request: Request) -> Response:
    deps = Deps.of(request)
    deps.origins.require(request)
    key = idempotency_key(request)
    await deps.letter_limit.check(deps.commenter_hash(request))
    draft = validate_letter(await read_json(request, MAX_JSON))
    taken = await deps.readers.letter(
        draft, idempotency_key=key, correlation_id=correlation(request)
    )
    return accepted(LetterAccepted(letter_id=taken.doc_id), taken.replayed)
