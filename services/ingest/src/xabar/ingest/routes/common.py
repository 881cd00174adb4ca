"""What ingest's endpoints share: a Russian form page that shows itself again with what was
typed and what to fix (``FormPage``), the first steps of every readers' post, a form's
(``read_post``) or the API's (``read_api_post``), and the API's ``Idempotency-Key`` and 202
answer."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from xabar.ingest.comments import form_fields
from xabar.ingest.deps import Deps, Throttle, correlation
from xabar.ingest.domain import check_idempotency_key
from xabar.ingest.errors import InvalidSubmission
from xabar.ingest.forms import russian_errors
from xabar.ingest.readers import Via
from xabar.ingest.routes.html import HTML, Words, answer_errors_with, html, notice_for
from xabar.runtime.bodies import FORM, MULTIPART, Limits, read_form, read_json
from xabar.runtime.http import json_response
from xabar.runtime.openapi import ErrorBody
from xabar.runtime.routing import ErrorMap, Router

REFUSALS = (400, 403, 413, 415, 422, 429, 503)  # what a readers' post may answer instead
FORM_ANSWERS = dict.fromkeys((200, *REFUSALS), HTML)  # a readers' form post: a page each
E = TypeVar("E", bound=Callable[..., Any])


def form_post(
    router: Router, path: str, summary: str, body: type[BaseModel], media: str = FORM
) -> Callable[[E], E]:
    """A readers' form post: ``body`` sent as ``media`` (urlencoded unless it carries files),
    each answer a page (``FORM_ANSWERS``)."""
    return router.post(path, summary, body=body, body_media=media, responses=FORM_ANSWERS)


def api_answers(accepted: type[BaseModel]) -> dict[int, type[BaseModel]]:
    """The answers of a readers' API post: 202 with ``accepted``, or one of ``REFUSALS``."""
    return {202: accepted, **dict.fromkeys(REFUSALS, ErrorBody)}


class SignedForm(BaseModel):
    """What every readers' form sends besides its own fields: its token and the honeypot."""

    form_token: str = Field(description="the signed token served with the form")
    website: str | None = Field(default=None, description="honeypot: must stay empty")


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "a retry with the same key and body returns the first response and "
    "stores nothing new; the same key with another body is refused (422). A key is "
    "remembered for XABAR_INGEST_IDEMPOTENCY_RETENTION_S (default 24 h) after its first "
    "request",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def idempotency_key(request: Request) -> str | None:
    """The request's ``Idempotency-Key``, checked (400 if it is not one), or None."""
    raw = request.headers.get("idempotency-key")
    return check_idempotency_key(raw) if raw is not None else None


def accepted(body: BaseModel, replayed: bool, headers: Mapping[str, str] | None = None) -> Response:
    """202: durably accepted (``Idempotent-Replayed`` when a retry got the first answer)."""
    out = dict(headers or {})
    if replayed:
        out["Idempotent-Replayed"] = "true"
    return json_response(body, 202, out or None)


@dataclass
class FormPage:
    """A form's page. Subclasses name the template, the fields it shows again, the Russian
    messages of its fields and the words its notices use; ``values`` holds what was typed once
    the post is read."""

    deps: Deps
    client: str  # what the form's token is bound to (``Deps.binding``)
    values: dict[str, str] | None = None

    template: ClassVar[str]
    title: ClassVar[str]
    shown: ClassVar[tuple[str, ...]]
    messages: ClassVar[Mapping[str, str]]
    words: ClassVar[Words]

    @classmethod
    def of(cls, request: Request, **fields: Any) -> Self:
        """The page of ``request``: its form's token bound to the request's client."""
        deps = Deps.of(request)
        return cls(deps, deps.binding(request), **fields)

    def context(self) -> dict[str, Any]:
        """What else the template needs."""
        return {}

    def took(self, values: dict[str, str]) -> None:
        """The post's fields, as read (before any check: a refused form shows them again)."""
        self.values = values

    def respond(self, body: str, status: int, headers: dict[str, str] | None) -> Response:
        return html(body, status, headers)

    def form(
        self,
        status: int = 200,
        *,
        errors: dict[str, str] | None = None,
        notice: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        body = self.deps.pages.render(
            self.template,
            page_title=self.title,
            form_token=self.deps.signer.issue(self.client),
            values={name: (self.values or {}).get(name, "") for name in self.shown},
            errors=errors or {},
            notice=notice,
            **self.context(),
        )
        return self.respond(body, status, headers)

    def __call__(self, exc: Exception, spec: ErrorMap) -> Response:
        """The form again, with what to fix (in Russian), under the status ``exc`` maps to."""
        if isinstance(exc, InvalidSubmission):
            return self.form(spec.status, errors=russian_errors(exc.fields, self.messages))
        shared = notice_for(exc, self.words)
        if shared is not None:
            notice, headers = shared
            return self.form(spec.status, notice=notice, headers=headers)
        notice = f"Не удалось принять {self.words.one}. Попробуйте ещё раз."
        return self.form(spec.status, notice=notice)


@dataclass(frozen=True, slots=True)
class Sent:
    """A readers' post (a comment, a letter) that passed its first steps, ready to be taken."""

    client: str  # the sender's address as the comments' keyed hash
    fields: Any  # the body in its JSON shape, not validated yet
    via: Via


async def read_post(request: Request, page: FormPage, limits: Limits, throttle: Throttle) -> Sent:
    """The first steps of a form post: its errors answered by ``page``, its Origin checked, its
    body read within ``limits`` (``page.values``: what was typed), its token checked (the
    nonce is the post's idempotency key), the sender's rate limit (``throttle``) checked."""
    answer_errors_with(request, page)
    deps = page.deps
    deps.origins.require(request)
    form = await read_form(request, limits, accept=(FORM, MULTIPART))
    values = dict(form.items)
    page.took(values)
    check = deps.signer.check(values, page.client)
    client = deps.commenter_hash(request)
    await throttle.check(client)
    fields = form_fields(page.values or {}, frozenset({"reply_to"}))  # optional in both kinds
    return Sent(client, fields, Via(f"form:{check.nonce}", correlation(request), form=True))


async def read_api_post(request: Request, throttle: Throttle, max_json: int) -> Sent:
    """The first steps of an API post: its Origin checked, its ``Idempotency-Key`` read, the
    sender's rate limit (``throttle``) checked, its JSON body read within ``max_json`` bytes."""
    deps = Deps.of(request)
    deps.origins.require(request)
    key = idempotency_key(request)
    client = deps.commenter_hash(request)
    await throttle.check(client)
    fields = await read_json(request, max_json)
    return Sent(client, fields, Via(key, correlation(request)))


__all__ = [
    "FORM_ANSWERS",
    "IDEMPOTENCY_KEY",
    "FormPage",
    "Sent",
    "accepted",
    "form_post",
    "idempotency_key",
    "read_api_post",
    "read_post",
]
