"""Letters to the editors, "Напишите нам" (never published): ``GET /letters`` the Russian form
(name, a way to answer, subject, text, a honeypot and a signed token bound to the client),
``POST /letters`` its post, ``POST /api/v1/letters`` a letter as JSON (``Idempotency-Key``).
Accepted durably as a tip is (``readers``); the way to answer is sealed to the newsroom's key."""

from dataclasses import dataclass

from pydantic import BaseModel, Field
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
from xabar.ingest.domain import check_idempotency_key
from xabar.ingest.errors import InvalidSubmission
from xabar.ingest.forms import russian_errors
from xabar.ingest.routes.html import Words, answer_errors_with, html, notice_for, pages_answer
from xabar.ingest.routes.submissions import IDEMPOTENCY_KEY
from xabar.runtime.bodies import FORM, MULTIPART, Limits, read_form, read_json
from xabar.runtime.http import json_response
from xabar.runtime.openapi import ErrorBody
from xabar.runtime.routing import ErrorMap, Router

router = Router(tags=["letters"])

LETTER_LIMITS = Limits(max_bytes=96 * 1024, max_fields=10, max_field_bytes=64 * 1024)
MAX_JSON = 96 * 1024
WORDS = Words("письмо", "писем")
SHOWN = ("name", "reply_to", "subject", "text")


class LetterForm(BaseModel):
    """The fields of the letter form (application/x-www-form-urlencoded)."""

    name: str
    reply_to: str | None = None
    subject: str
    text: str
    form_token: str = Field(description="the signed token served with the form")
    website: str | None = Field(default=None, description="honeypot: must stay empty")


@dataclass
class LetterPage:
    deps: Deps
    client: str
    values: dict[str, str] | None = None

    def form(
        self,
        status: int = 200,
        *,
        errors: dict[str, str] | None = None,
        notice: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        body = self.deps.pages.render(
            "letter.html",
            page_title="Напишите нам",
            form_token=self.deps.signer.issue(self.client),
            values={k: (self.values or {}).get(k, "") for k in SHOWN},
            errors=errors or {},
            notice=notice,
            limits={
                "name": LETTER_NAME_MAX,
                "reply_to": REPLY_TO_MAX,
                "subject": SUBJECT_MAX,
                "text": LETTER_MAX,
            },
        )
        return html(body, status, headers)

    def __call__(self, exc: Exception, spec: ErrorMap) -> Response:
        if isinstance(exc, InvalidSubmission):
            return self.form(spec.status, errors=russian_errors(exc.fields, LETTER_MESSAGES))
        shared = notice_for(exc, WORDS)
        if shared is not None:
            notice, headers = shared
            return self.form(spec.status, notice=notice, headers=headers)
        return self.form(spec.status, notice="Не удалось принять письмо. Попробуйте ещё раз.")


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
    answer_errors_with(request, page)
    deps.origins.require(request)
    form = await read_form(request, LETTER_LIMITS, accept=(FORM, MULTIPART))
    page.values = {name: value for name, value in form.items}
    check = deps.signer.check(page.values, page.client)
    await deps.letter_limit.check(deps.commenter_hash(request))
    await deps.readers.letter(
        validate_letter(form_fields(page.values, frozenset({"reply_to"}))),
        idempotency_key=f"form:{check.nonce}",
        correlation_id=correlation(request),
        form=True,
    )
    return html(deps.pages.render("letter_sent.html", page_title="Письмо получено"))


@router.post(
    "/api/v1/letters",
    "Send a letter to the editors (JSON). 202 means durably accepted.",
    body=NewLetter,
    responses={
        202: LetterAccepted,
        400: ErrorBody,
        403: ErrorBody,
        413: ErrorBody,
        415: ErrorBody,
        422: ErrorBody,
        429: ErrorBody,
        503: ErrorBody,
    },
    parameters=[IDEMPOTENCY_KEY],
)
async def send_letter(request: Request) -> Response:
    deps = Deps.of(request)
    deps.origins.require(request)
    raw_key = request.headers.get("idempotency-key")
    key = check_idempotency_key(raw_key) if raw_key is not None else None
    await deps.letter_limit.check(deps.commenter_hash(request))
    draft = validate_letter(await read_json(request, MAX_JSON))
    taken = await deps.readers.letter(
        draft, idempotency_key=key, correlation_id=correlation(request)
    )
    headers = {"Idempotent-Replayed": "true"} if taken.replayed else None
    return json_response(LetterAccepted(letter_id=taken.doc_id), 202, headers)
