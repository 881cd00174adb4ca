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
    validate_letter,
)
from xabar.ingest.deps import Deps
from xabar.ingest.routes.common import (
    IDEMPOTENCY_KEY,
    FormPage,
    SignedForm,
    accepted,
    api_answers,
    form_post,
    read_api_post,
    read_post,
)
from xabar.ingest.routes.html import Words, html, pages_answer
from xabar.runtime.bodies import Limits
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

    def sent(self) -> Response:
        return html(self.deps.pages.render("letter_sent.html", page_title="Письмо получено"))


@router.get(
    "/letters", "The letter form, «Напишите нам» (Russian HTML)", responses=pages_answer(200)
)
async def letter_form(request: Request) -> Response:
    return LetterPage.of(request).form()


@form_post(router, "/letters", "Send the letter form (Russian HTML)", LetterForm)
async def send_letter_form(request: Request) -> Response:
    page = LetterPage.of(request)
    sent = await read_post(request, page, LETTER_LIMITS, page.deps.letter_limit)
    await page.deps.readers.letter(validate_letter(sent.fields), via=sent.via)
    return page.sent()


@router.post(
    "/api/v1/letters",
    "Send a letter to the editors (JSON). 202 means durably accepted.",
    body=NewLetter,
    responses=API_ANSWERS,
    parameters=[IDEMPOTENCY_KEY],
)
async def send_letter(request: Request) -> Response:
    deps = Deps.of(request)
    sent = await read_api_post(request, deps.letter_limit, MAX_JSON)
    taken = await deps.readers.letter(validate_letter(sent.fields), via=sent.via)
    return accepted(LetterAccepted(letter_id=taken.doc_id), taken.replayed)
