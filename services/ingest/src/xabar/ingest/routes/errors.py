"""Ingest's errors as HTTP answers, mapped once (Starlette ``exception_handlers``).

The status of each class is chosen here and only here. The API answers with the JSON error body
``{"error": {"code", "message", "fields"?}}`` (messages in English, for programs and their
authors); an HTML endpoint names the Russian page that answers its errors (``html``), which
renders them with the same status.
"""

import logging
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.ingest.errors import (
    AttachmentDamaged,
    FormRejected,
    IdempotencyConflict,
    IngestError,
    InvalidIdempotencyKey,
    InvalidSubmission,
    LimitExceeded,
    MalformedBody,
    NotFound,
    Overloaded,
    RateLimited,
    StorageUnavailable,
    StoreDown,
    UnsupportedMedia,
)
from xabar.ingest.routes.html import error_page_of
from xabar.runtime.auth import AuthError, ForbiddenError
from xabar.runtime.errors import BadRequest
from xabar.runtime.http import error_response
from xabar.runtime.routing import ErrorMap, error_handlers

log = logging.getLogger("xabar.ingest.routes")


def _retry_after(seconds: int) -> Mapping[str, str]:
    return {"Retry-After": str(seconds)}


def _wait(exc: Exception) -> Mapping[str, str]:
    return _retry_after(exc.retry_after_s if isinstance(exc, RateLimited) else 1)


ERRORS: dict[type[Exception], ErrorMap] = {
    BadRequest: ErrorMap(400, "bad_request"),  # answered with its own status (``answered``)
    IngestError: ErrorMap(400, "ingest_error"),
    MalformedBody: ErrorMap(400, "malformed_body"),
    InvalidIdempotencyKey: ErrorMap(400, "invalid_idempotency_key"),
    AuthError: ErrorMap(401, "unauthorized", headers=lambda _: {"WWW-Authenticate": "Bearer"}),
    ForbiddenError: ErrorMap(403, "forbidden"),
    NotFound: ErrorMap(404, "not_found"),
    LimitExceeded: ErrorMap(413, "payload_too_large"),
    UnsupportedMedia: ErrorMap(415, "unsupported_media_type"),
    InvalidSubmission: ErrorMap(422, "validation_failed"),
    IdempotencyConflict: ErrorMap(422, "idempotency_key_reused"),
    FormRejected: ErrorMap(422, "form_rejected"),
    RateLimited: ErrorMap(429, "rate_limited", headers=_wait),
    AttachmentDamaged: ErrorMap(500, "attachment_damaged"),
    StorageUnavailable: ErrorMap(503, "storage_unavailable", headers=lambda _: _retry_after(5)),
    Overloaded: ErrorMap(503, "busy", headers=lambda _: _retry_after(5)),
    StoreDown: ErrorMap(503, "storage_unavailable", headers=lambda _: _retry_after(5)),
    Exception: ErrorMap(500, "internal_error"),
}


def answered(exc: Exception, spec: ErrorMap) -> ErrorMap:
    """How ``exc`` is answered: as mapped, or, for the runtime's ``BadRequest`` (bodies,
    parameters, origins), with the status and code it carries."""
    if isinstance(exc, BadRequest):
        return ErrorMap(exc.status, exc.code, headers=lambda _: exc.headers or {})
    return spec


def api_error(exc: Exception, spec: ErrorMap) -> Response:
    """The JSON error body of ``exc``: its own code and message, the fields at fault."""
    headers = dict(spec.headers(exc)) if spec.headers else None
    if isinstance(exc, BadRequest):
        return error_response(spec.status, exc.code, exc.message, exc.fields, headers)
    if isinstance(exc, IngestError):
        fields = exc.fields if isinstance(exc, InvalidSubmission) else None
        return error_response(spec.status, exc.code, exc.message, fields, headers)
    if spec.status >= 500:
        return error_response(
            spec.status, spec.code, "something went wrong on our side; try again", None, headers
        )
    return error_response(spec.status, spec.code, str(exc) or spec.code, None, headers)


def render(request: Request, exc: Exception, spec: ErrorMap) -> Response:
    spec = answered(exc, spec)
    if spec.status >= 500 and not isinstance(exc, IngestError):
        log.error("unhandled error", exc_info=exc)
    page = error_page_of(request)
    return page(exc, spec) if page is not None else api_error(exc, spec)


def exception_handlers() -> dict[Any, Any]:
    return error_handlers(ERRORS, render)
