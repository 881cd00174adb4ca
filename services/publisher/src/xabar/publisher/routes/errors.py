"""The publisher's errors mapped to HTTP, once: ``exception_handlers`` of the app.

Status codes are chosen here and only here (see ``errors`` for the tree). Storage errors (the
drivers' ``PyMongoError`` and ``RedisError``, a document lock that stays busy) are 503 with
``Retry-After``: nothing was changed that a retry would not find; their text is logged, never
shown.
"""

import logging
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.errors import (
    BadMedia,
    EditorExists,
    InvalidCredentials,
    InvalidInput,
    InvalidTransition,
    MediaTooLarge,
    NotAllowed,
    NotFound,
    PreconditionRequired,
    PublisherError,
    StorageUnavailable,
    TooManyAttempts,
    UpstreamUnavailable,
    VersionConflict,
)
from xabar.publisher.routes.common import etag
from xabar.runtime.auth import AuthError, ForbiddenError
from xabar.runtime.errors import STORAGE_ERRORS
from xabar.runtime.http import error_response
from xabar.runtime.locks import LockBusy
from xabar.runtime.routing import ErrorMap, error_handlers

log = logging.getLogger("xabar.publisher.routes")

STORAGE_RETRY_S = 2


def _headers(**values: str) -> Callable[[Exception], Mapping[str, str]]:
    fixed = {k.replace("_", "-"): v for k, v in values.items()}
    return lambda _: fixed


def _conflict_headers(exc: Exception) -> Mapping[str, str]:
    return {"ETag": etag(exc.current_version)} if isinstance(exc, VersionConflict) else {}


def _retry_headers(exc: Exception) -> Mapping[str, str]:
    seconds = exc.retry_after_s if isinstance(exc, TooManyAttempts) else 1
    return {"Retry-After": str(seconds)}


_STORAGE = ErrorMap(503, "storage_unavailable", _headers(Retry_After=str(STORAGE_RETRY_S)))

ERRORS: dict[type[Exception], ErrorMap] = {
    PublisherError: ErrorMap(400, "bad_request"),
    NotFound: ErrorMap(404, "not_found"),
    InvalidInput: ErrorMap(422, "invalid"),
    NotAllowed: ErrorMap(403, "forbidden"),
    VersionConflict: ErrorMap(409, "version_conflict", _conflict_headers),
    PreconditionRequired: ErrorMap(428, "precondition_required"),
    InvalidTransition: ErrorMap(409, "invalid_transition"),
    InvalidCredentials: ErrorMap(401, "invalid_credentials"),
    TooManyAttempts: ErrorMap(429, "too_many_attempts", _retry_headers),
    EditorExists: ErrorMap(409, "editor_exists"),
    BadMedia: ErrorMap(422, "bad_media"),
    MediaTooLarge: ErrorMap(413, "media_too_large"),
    UpstreamUnavailable: ErrorMap(502, "upstream_unavailable"),
    StorageUnavailable: _STORAGE,
    AuthError: ErrorMap(401, "unauthorized", _headers(WWW_Authenticate='Bearer realm="xabar"')),
    ForbiddenError: ErrorMap(403, "forbidden"),
    LockBusy: ErrorMap(503, "busy", _headers(Retry_After="1")),
    **dict.fromkeys(STORAGE_ERRORS, _STORAGE),  # the drivers' errors (PyMongoError, RedisError)
}

# What is said for an error that is not the publisher's own (its text is not ours to show).
AUTH_MESSAGES = {
    "missing bearer token": "нужен токен: заголовок Authorization: Bearer <токен>",
    "token expired": "срок действия токена истёк; войдите снова",
    "token revoked": "токен отозван (выход из системы или изменения учётной записи); войдите снова",
}
MESSAGES = {
    "unauthorized": "токен недействителен; войдите снова",
    "forbidden": "недостаточно прав",
    "busy": "статью сейчас меняет кто-то другой; повторите через секунду",
    "storage_unavailable": "хранилище не отвечает; повторите через несколько секунд",
}


def _message(exc: Exception, spec: ErrorMap) -> str:
    if isinstance(exc, PublisherError):
        return exc.message
    if isinstance(exc, AuthError):
        return AUTH_MESSAGES.get(str(exc), MESSAGES["unauthorized"])
    return MESSAGES.get(spec.code, "запрос не выполнен")


def render(_: Request, exc: Exception, spec: ErrorMap) -> Response:
    if spec.status >= 500:
        log.warning(
            "request failed: %s", spec.code, extra={"error": repr(exc), "status": spec.status}
        )
    headers = dict(spec.headers(exc)) if spec.headers else None
    return error_response(spec.status, spec.code, _message(exc, spec), headers=headers)


def exception_handlers() -> dict[Any, Any]:
    return error_handlers(ERRORS, render)
