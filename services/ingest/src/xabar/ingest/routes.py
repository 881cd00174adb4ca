"""HTTP routes of the ingest service. Status codes are chosen here and only here.

API (JSON; error messages in English, body ``{"error": {"code", "message", "fields"?}}``):

- ``POST /api/v1/submissions``: a tip as JSON, or as multipart/form-data with photos. 202 with a
  receipt once stored; 400 malformed JSON or Idempotency-Key, 413 over a limit (the limit named),
  415 another content type, 422 invalid fields or an Idempotency-Key reused for another request,
  429 over the rate limit (Retry-After), 503 storage unavailable (nothing stored: send again).
- ``GET /api/v1/submissions/{id}`` with ``X-Receipt-Code`` (or ``?code=``): the status; 404 for
  an unknown id and for a wrong code alike.
- ``GET /api/v1/attachments/{id}``: a stored photo, for a bearer token of role contributor or
  higher (the publisher's editors' tokens). 401 without a valid token.

HTML (Russian): ``GET /report`` the form, ``POST /report`` its submission (receipt page),
``GET|POST /report/status`` a receipt look-up.
"""

import logging
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import BaseModel, Field
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from xabar.ingest.bodies import JSON, MULTIPART, read_form
from xabar.ingest.config import IngestSettings
from xabar.ingest.domain import (
    NewSubmission,
    Receipt,
    SubmissionStatusView,
    check_idempotency_key,
    is_id,
    validate_submission,
)
from xabar.ingest.errors import (
    FormRejected,
    IdempotencyConflict,
    IngestError,
    InvalidIdempotencyKey,
    InvalidSubmission,
    LimitExceeded,
    MalformedBody,
    NotFound,
    StorageUnavailable,
    UnsupportedMedia,
)
from xabar.ingest.forms import (
    FIELD_MESSAGES,
    LIMIT_MESSAGES,
    REJECTION_MESSAGES,
    FormSigner,
    form_to_data,
    russian_field_errors,
)
from xabar.ingest.media import CorruptAttachment
from xabar.ingest.pages import Pages
from xabar.ingest.service import IngestService
from xabar.runtime.auth import AuthError, ForbiddenError, Role, TokenCodec
from xabar.runtime.clients import Network, client_address, hash_address
from xabar.runtime.http import error_response, json_response, read_json
from xabar.runtime.openapi import ErrorBody, OpenAPI
from xabar.runtime.ratelimit import RateLimiter

log = logging.getLogger("xabar.ingest.routes")

_CORRELATION = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
_MIB = 1024 * 1024

HTML_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_API_STATUS: dict[type[IngestError], int] = {
    InvalidSubmission: 422,
    IdempotencyConflict: 422,
    LimitExceeded: 413,
    UnsupportedMedia: 415,
    MalformedBody: 400,
    InvalidIdempotencyKey: 400,
    NotFound: 404,
    StorageUnavailable: 503,
}


@dataclass(frozen=True)
class RouteDeps:
    settings: IngestSettings
    service: IngestService
    pages: Pages
    signer: FormSigner
    submit_limiter: RateLimiter
    lookup_limiter: RateLimiter
    codec: TokenCodec

    def client_hash(self, request: Request) -> str:
        address = client_address(request.scope, self.trusted)
        return hash_address(address, self.settings.address_salt.get_secret_value())

    @cached_property
    def trusted(self) -> tuple[Network, ...]:
        return self.settings.trusted_networks()  # parsed once, not on every request


# --- documentation-only models --------------------------------------------------------------------


class ReportForm(BaseModel):
    """The fields of the HTML form (multipart/form-data)."""

    title: str
    text: str
    country: str
    location: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    consent: str = Field(description='"on" when checked')
    anonymous: str | None = Field(default=None, description='"on" when checked')
    photos: list[bytes] = Field(default_factory=list, json_schema_extra={"format": "binary"})
    form_token: str = Field(description="the signed timestamp served with the form")
    website: str | None = Field(default=None, description="honeypot: must stay empty")


class StatusLookup(BaseModel):
    id: str
    code: str


def api_routes(api: OpenAPI, deps: RouteDeps) -> list[BaseRoute]:
    settings = deps.settings
    service = deps.service

    def api_error(exc: IngestError) -> Response:
        status = next((s for cls, s in _API_STATUS.items() if isinstance(exc, cls)), 400)
        fields = exc.fields if isinstance(exc, InvalidSubmission) else None
        headers = {"Retry-After": "5"} if status == 503 else None
        return error_response(status, exc.code, exc.message, fields, headers)

    async def limited(limiter: RateLimiter, client: str) -> int | None:
        """Seconds to wait if ``client`` is over the limit. Fails open when Redis is down: the
        submission is stored in MongoDB and published once Redis is back."""
        try:
            verdict = await limiter.hit(client)
        except RedisError:
            log.warning("rate limiter unavailable; letting the request through")
            return None
        return None if verdict.allowed else verdict.retry_after_s

    def correlation(request: Request) -> str | None:
        value = request.headers.get("x-correlation-id") or request.headers.get("x-request-id")
        return value if value and _CORRELATION.match(value) else None

    async def read_submission(request: Request) -> tuple[Any, list[bytes]]:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == JSON:
            return await read_json(request, settings.max_json_bytes), []
        if ctype == MULTIPART:
            form = await read_form(
                request,
                max_bytes=settings.max_multipart_bytes(),
                max_field_bytes=settings.max_json_bytes,
                max_photos=settings.max_photos,
                max_photo_bytes=settings.max_photo_bytes,
            )
            return form_to_data(form.fields), form.photos
        raise UnsupportedMedia(f"send the submission as {JSON}, or as {MULTIPART} to attach photos")

    # --- API ------------------------------------------------------------------------------------

    async def submit(request: Request) -> Response:
        try:
            raw_key = request.headers.get("idempotency-key")
            key = check_idempotency_key(raw_key) if raw_key is not None else None
            client = deps.client_hash(request)
            wait = await limited(deps.submit_limiter, client)
            if wait is not None:
                return error_response(
                    429,
                    "rate_limited",
                    f"too many submissions from your address; try again in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
            data, photos = await read_submission(request)
            draft = validate_submission(data)
            accepted = await service.submit(
                draft,
                photos,
                client_hash=client,
                idempotency_key=key,
                correlation_id=correlation(request),
            )
        except IngestError as exc:
            return api_error(exc)
        headers = {"Location": accepted.receipt.status_url}
        if accepted.replayed:
            headers["Idempotent-Replayed"] = "true"
        return json_response(accepted.receipt, 202, headers)

    async def submission_status(request: Request) -> Response:
        code = request.headers.get("x-receipt-code") or request.query_params.get("code")
        wait = await limited(deps.lookup_limiter, deps.client_hash(request))
        if wait is not None:
            return error_response(
                429,
                "rate_limited",
                f"too many look-ups from your address; try again in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        try:
            view = await service.status(request.path_params["submission_id"], code)
        except IngestError as exc:
            return api_error(exc)
        return json_response(view, headers={"Cache-Control": "no-store"})

    async def attachment(request: Request) -> Response:
        try:
            deps.codec.authenticate(request, Role.CONTRIBUTOR)
        except ForbiddenError as exc:
            return error_response(403, "forbidden", str(exc))
        except AuthError as exc:
            return error_response(
                401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"}
            )
        try:
            photo = await service.attachment(request.path_params["attachment_id"])
        except IngestError as exc:
            return api_error(exc)
        except CorruptAttachment:
            log.exception("a stored attachment is damaged")
            return error_response(500, "attachment_damaged", "the stored photo is damaged")
        extension = photo.content_type.split("/")[1].replace("jpeg", "jpg")
        return Response(
            photo.data,
            media_type=photo.content_type,
            headers={
                "ETag": f'"{photo.sha256}"',
                "Cache-Control": "private, max-age=3600",
                "Content-Disposition": f'inline; filename="{photo.attachment_id}.{extension}"',
                "Content-Security-Policy": "default-src 'none'; sandbox",
                "X-Content-Type-Options": "nosniff",
            },
        )

    # --- HTML -----------------------------------------------------------------------------------

    limit_params = {
        "max_photos": settings.max_photos,
        "max_photo_mb": _mb(settings.max_photo_bytes),
        "max_megapixels": _mb(settings.max_photo_pixels, 1_000_000),
        "max_total_mb": _mb(settings.max_multipart_bytes()),
    }

    def html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return HTMLResponse(body, status_code=status, headers={**HTML_HEADERS, **(headers or {})})

    def form_page(
        status: int,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        notice: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        shown = {
            name: (values or {}).get(name, "")
            for name in (
                "title",
                "text",
                "country",
                "location",
                "contact_name",
                "contact_email",
                "contact_phone",
                "consent",
                "anonymous",
            )
        }
        body = deps.pages.render(
            "report.html",
            page_title="Напишите нам",
            form_token=deps.signer.issue(),
            values=shown,
            errors=errors or {},
            known_fields={*(k.replace("contact.", "contact_") for k in FIELD_MESSAGES), "photos"},
            notice=notice,
            max_photos=settings.max_photos,
            max_photo_mb=limit_params["max_photo_mb"],
        )
        return html(body, status, headers)

    def message_page(status: int, title: str, message: str) -> Response:
        return html(deps.pages.render("message.html", page_title=title, message=message), status)

    def limit_notice(exc: LimitExceeded) -> str:
        return LIMIT_MESSAGES.get(exc.code, LIMIT_MESSAGES["payload_too_large"]).format(
            **limit_params
        )

    async def report_form(_: Request) -> Response:
        return form_page(200)

    async def report_post(request: Request) -> Response:
        client = deps.client_hash(request)
        try:
            form = await read_form(
                request,
                max_bytes=settings.max_multipart_bytes(),
                max_field_bytes=settings.max_json_bytes,
                max_photos=settings.max_photos,
                max_photo_bytes=settings.max_photo_bytes,
            )
        except LimitExceeded as exc:
            return form_page(413, notice=limit_notice(exc))
        except UnsupportedMedia:
            return message_page(415, "Неверный формат", "Отправьте сообщение через форму.")
        except MalformedBody:
            return message_page(400, "Неверный запрос", "Форма повреждена. Отправьте её ещё раз.")
        except InvalidSubmission as exc:
            return form_page(422, errors=russian_field_errors(exc.fields))
        values = form.fields
        photos_note = " Прикрепите фото заново." if form.photos else ""
        try:
            check = deps.signer.check(values)
        except FormRejected as exc:
            return form_page(422, values, notice=REJECTION_MESSAGES[exc.reason] + photos_note)
        key = f"form:{check.nonce}"
        try:
            wait = await limited(deps.submit_limiter, client)
            if wait is not None:
                minutes = max(1, -(-wait // 60))
                return form_page(
                    429,
                    values,
                    notice=f"Слишком много сообщений с вашего адреса. "
                    f"Попробуйте через {minutes} мин.",
                    headers={"Retry-After": str(wait)},
                )
            draft = validate_submission(form_to_data(values))
            accepted = await service.submit(
                draft,
                form.photos,
                client_hash=client,
                idempotency_key=key,
                correlation_id=correlation(request),
                form=True,
            )
        except InvalidSubmission as exc:
            notice = "Проверьте поля, отмеченные ниже." + photos_note
            return form_page(422, values, russian_field_errors(exc.fields), notice)
        except LimitExceeded as exc:
            return form_page(413, values, notice=limit_notice(exc))
        except IdempotencyConflict:
            return form_page(
                422,
                values,
                notice="Эта форма уже была отправлена с другим текстом. "
                "Проверьте сообщение и отправьте его ещё раз." + photos_note,
            )
        except StorageUnavailable:
            return form_page(
                503,
                values,
                notice="Не удалось сохранить сообщение из-за технической неполадки. "
                "Отправьте форму ещё раз через минуту." + photos_note,
                headers={"Retry-After": "60"},
            )
        receipt = accepted.receipt
        return html(
            deps.pages.render(
                "receipt.html",
                page_title="Сообщение получено",
                submission_id=receipt.submission_id,
                receipt_code=receipt.receipt_code,
            )
        )

    def status_page(
        status: int, submission_id: str = "", view: Any = None, notice: str | None = None
    ) -> Response:
        body = deps.pages.render(
            "status.html",
            page_title="Статус сообщения",
            submission_id=submission_id,
            view=view,
            notice=notice,
        )
        return html(body, status)

    async def status_form(request: Request) -> Response:
        submission_id = request.query_params.get("id", "")
        return status_page(200, submission_id if is_id(submission_id) else "")

    async def status_post(request: Request) -> Response:
        wait = await limited(deps.lookup_limiter, deps.client_hash(request))
        if wait is not None:
            return html(
                deps.pages.render(
                    "message.html",
                    page_title="Слишком много запросов",
                    message="Слишком много проверок с вашего адреса. Попробуйте позже.",
                ),
                429,
                {"Retry-After": str(wait)},
            )
        try:
            form = await read_form(
                request,
                max_bytes=8192,
                max_field_bytes=1024,
                max_photos=0,
                max_photo_bytes=0,
            )
            submission_id = form.fields.get("id", "").strip()
            view = await service.status(submission_id, form.fields.get("code", ""))
        except NotFound:
            return status_page(
                404,
                notice="Сообщение не найдено: проверьте номер и код.",
            )
        except StorageUnavailable:
            return status_page(503, notice="Сервис временно недоступен. Попробуйте позже.")
        except IngestError:
            return status_page(400, notice="Неверный запрос. Заполните номер и код.")
        return status_page(200, view=view)

    # --- OpenAPI ----------------------------------------------------------------------------------

    tags_api, tags_html = ["submissions"], ["form"]
    idem_param = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "a retry with the same key and body returns the first response and "
        "stores nothing new; the same key with another body is refused (422). A key is "
        "remembered for XABAR_INGEST_IDEMPOTENCY_RETENTION_S (default 24 h) after its first "
        "request",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    }
    api.operation(
        "POST",
        "/api/v1/submissions",
        "Send a tip (JSON here; multipart/form-data with the form's fields and `photos` files "
        "is accepted too). 202 means durably stored.",
        body=NewSubmission,
        responses={
            202: Receipt,
            400: ErrorBody,
            413: ErrorBody,
            415: ErrorBody,
            422: ErrorBody,
            429: ErrorBody,
            503: ErrorBody,
        },
        parameters=[idem_param],
        tags=tags_api,
    )
    api.operation(
        "GET",
        "/api/v1/submissions/{submission_id}",
        "Status of a submission, for the holder of its receipt code",
        responses={200: SubmissionStatusView, 404: ErrorBody, 429: ErrorBody},
        parameters=[
            {"name": "submission_id", "in": "path", "required": True, "schema": {"type": "string"}},
            {
                "name": "X-Receipt-Code",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            },
            {
                "name": "code",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "the receipt code, if it cannot be sent as X-Receipt-Code",
            },
        ],
        tags=tags_api,
    )
    api.operation(
        "GET",
        "/api/v1/attachments/{attachment_id}",
        "A stored photo (metadata stripped), for editors: bearer token, role contributor or up",
        responses={200: "image/*", 404: ErrorBody},
        secured=True,
        parameters=[
            {"name": "attachment_id", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        tags=tags_api,
    )
    api.operation(
        "GET",
        "/report",
        "The reporters' form (Russian HTML)",
        responses={200: "text/html"},
        tags=tags_html,
    )
    api.operation(
        "POST",
        "/report",
        "Send the form; answers with the receipt page, or the form again with what to fix",
        body=ReportForm,
        body_media=MULTIPART,
        responses={
            200: "text/html",
            400: "text/html",
            413: "text/html",
            415: "text/html",
            422: "text/html",
            429: "text/html",
            503: "text/html",
        },
        tags=tags_html,
    )
    api.operation(
        "GET",
        "/report/status",
        "Receipt look-up form (Russian HTML)",
        responses={200: "text/html"},
        parameters=[{"name": "id", "in": "query", "required": False, "schema": {"type": "string"}}],
        tags=tags_html,
    )
    api.operation(
        "POST",
        "/report/status",
        "Look up a submission's status with its receipt code (Russian HTML)",
        body=StatusLookup,
        body_media="application/x-www-form-urlencoded",
        responses={200: "text/html", 400: "text/html", 404: "text/html", 429: "text/html"},
        tags=tags_html,
    )

    return [
        Route("/api/v1/submissions", submit, methods=["POST"]),
        Route("/api/v1/submissions/{submission_id}", submission_status, methods=["GET"]),
        Route("/api/v1/attachments/{attachment_id}", attachment, methods=["GET"]),
        Route("/report", report_form, methods=["GET"]),
        Route("/report", report_post, methods=["POST"]),
        Route("/report/status", status_form, methods=["GET"]),
        Route("/report/status", status_post, methods=["POST"]),
    ]


class HealthBody(BaseModel):
    status: str


class ReadinessBody(BaseModel):
    status: str


def declare_standard_routes(api: OpenAPI) -> None:
    """Document the routes every service has (served by ``xabar.runtime``)."""
    api.operation(
        "GET", "/healthz", "The process is alive", responses={200: HealthBody}, tags=["ops"]
    )
    api.operation(
        "GET",
        "/readyz",
        "Redis and MongoDB answer",
        responses={200: ReadinessBody, 503: ReadinessBody},
        tags=["ops"],
    )
    api.operation(
        "GET", "/openapi.json", "This document", responses={200: "application/json"}, tags=["ops"]
    )


def _mb(value: int, unit: int = _MIB) -> str:
    number = value / unit
    return f"{number:.0f}" if number == int(number) else f"{number:.1f}"
