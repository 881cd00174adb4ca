"""The polls' errors over HTTP, mapped once (Starlette ``exception_handlers``): the JSON error
body for the API, a Russian page for the reader pages and the vote form. Status codes of the
polls service are chosen here and only here.

A request that made a new voter (``request.state.voter``) gets the voter cookie with its error
too, as with its success: the voter it was told about is the one it keeps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from xabar.polls.deps import Deps
from xabar.polls.errors import (
    UNAVAILABLE,
    AlreadyVoted,
    ConcurrentChange,
    InvalidChoice,
    InvalidPoll,
    PollClosed,
    PollNotEditable,
    PollNotFound,
    PollNotOpen,
    PollsError,
    TooManyVotes,
    UnknownOption,
)
from xabar.runtime.auth import AuthError, ForbiddenError
from xabar.runtime.errors import BadRequest
from xabar.runtime.http import error_handlers as runtime_handlers
from xabar.runtime.http import error_response
from xabar.runtime.routing import ErrorMap, error_handlers
from xabar.runtime.security import ForeignOrigin

log = logging.getLogger("xabar.polls.http")

UNAVAILABLE_MESSAGE = "Сервис временно недоступен, повторите попытку через несколько секунд"
FORM = "application/x-www-form-urlencoded"


def _retry_after(exc: Exception) -> Mapping[str, str]:
    return {"Retry-After": str(exc.retry_after_s if isinstance(exc, TooManyVotes) else 2)}


def _polls(cls: type[PollsError], status: int, **kw: Any) -> tuple[type[Exception], ErrorMap]:
    return cls, ErrorMap(status, cls.code, **kw)


ERRORS: dict[type[Exception], ErrorMap] = dict(
    [
        _polls(PollsError, 400),
        _polls(PollNotFound, 404),
        _polls(PollClosed, 409),
        _polls(PollNotOpen, 409),
        _polls(AlreadyVoted, 409),
        _polls(PollNotEditable, 409),
        _polls(ConcurrentChange, 409),
        _polls(UnknownOption, 422),
        _polls(InvalidChoice, 422),
        _polls(InvalidPoll, 422),
        _polls(TooManyVotes, 429, headers=_retry_after),
        (AuthError, ErrorMap(401, "unauthorized", lambda _: {"WWW-Authenticate": "Bearer"})),
        (ForbiddenError, ErrorMap(403, "forbidden")),
        # Redis or MongoDB is down for a moment: a clear 503, not a stack trace. (A vote answered
        # so may still have been counted if the connection broke after the script ran: voting
        # again then answers "already voted".)
        *((cls, ErrorMap(503, "unavailable", _retry_after)) for cls in UNAVAILABLE),
    ]
)

PAGE_TITLES = {
    403: "Голос не принят",
    404: "Опрос не найден",
    409: "Голос не принят",
    422: "Голос не принят",
    429: "Слишком много голосов",
    503: "Сервис временно недоступен",
}


# a page says a refused request's body or parameter in Russian (the API keeps the runtime's words)
PAGE_MESSAGES = {
    "payload_too_large": "Слишком большой запрос",
    "field_too_large": "Слишком длинное поле формы",
    "too_many_fields": "Слишком много полей в форме",
    "too_many_files": "Форма отправлена в неверном виде",
    "malformed_form": "Форма отправлена в неверном виде",
    "unexpected_file": "Форма отправлена в неверном виде",
    "not_utf8": "Форма отправлена в неверном виде",
    "incomplete_body": "Форма пришла не полностью; отправьте её ещё раз",
    "unsupported_media_type": "Форма отправлена в неверном виде",
    "invalid_parameter": "Неверный адрес страницы",
    "foreign_origin": "Голосовать можно только на страницах нашего сайта",
}


def wants_page(request: Request) -> bool:
    """The reader pages and the vote form are answered with pages; everything else with JSON."""
    path = request.url.path
    if path == "/polls" or path.startswith("/polls/"):
        return True
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return request.method == "POST" and ctype == FORM


def _message(exc: Exception, status: int) -> str:
    if status == 503:
        log.warning("storage unavailable", extra={"error": repr(exc)})
        return UNAVAILABLE_MESSAGE
    return str(getattr(exc, "message", None) or exc)


def _answer(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None,
    fields: list[dict[str, Any]] | None = None,
) -> Response:
    response: Response
    if wants_page(request):
        deps = Deps.of(request)
        html = deps.pages.message(
            PAGE_TITLES.get(status, "Голос не принят"),
            message,
            return_to=getattr(request.state, "return_to", None),
        )
        response = HTMLResponse(html, status, headers=dict(headers or {}))
    else:
        response = error_response(status, code, message, fields, dict(headers or {}) or None)
    voter = getattr(request.state, "voter", None)
    if voter is not None and voter.is_new:
        Deps.of(request).identities.cookies.issue(response, voter.voter_id)
    return response


def _render(request: Request, exc: Exception, spec: ErrorMap) -> Response:
    headers = spec.headers(exc) if spec.headers else None
    return _answer(request, spec.status, spec.code, _message(exc, spec.status), headers)


async def _bad_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadRequest)
    if isinstance(exc, ForeignOrigin):
        log.warning("a post from another site refused", extra={"reason": exc.reason})
    message = exc.message
    if wants_page(request):
        message = PAGE_MESSAGES.get(exc.code, "Запрос не принят")
    return _answer(request, exc.status, exc.code, message, exc.headers, exc.fields)


def exception_handlers() -> dict[Any, Callable[..., Any]]:
    """Starlette ``exception_handlers`` of the polls app: the runtime's, with bad requests
    answered as pages where pages are asked for, and the polls' own errors."""
    base = {**runtime_handlers(), BadRequest: _bad_request}
    return error_handlers(ERRORS, _render, base=base)
