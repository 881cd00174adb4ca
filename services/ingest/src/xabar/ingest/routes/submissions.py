"""The submissions API (JSON; errors as the JSON error body, messages in English).

- ``POST /api/v1/submissions``: a tip as JSON, or as multipart/form-data with photos. 202 with a
  receipt once durably accepted; 400 malformed JSON or Idempotency-Key, 413 over a limit (the
  limit named), 415 another content type, 422 invalid fields or an Idempotency-Key reused for
  another request, 429 over the rate limit (Retry-After), 503 storage unavailable (nothing
  stored: send again).
- ``GET /api/v1/receipt`` with ``X-Receipt-Code``: the status of the tip whose receipt code it is
  (the code alone finds it); 404 for a code no tip has.
- ``GET /api/v1/submissions/{id}`` with ``X-Receipt-Code`` (or ``?code=``): the same, by id and
  code; 404 for an unknown id and for a wrong code alike.

Look-ups are rate limited per client (429, Retry-After).
"""

from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.ingest.config import IngestSettings
from xabar.ingest.deps import Deps, correlation
from xabar.ingest.domain import (
    NewSubmission,
    Receipt,
    SubmissionStatusView,
    validate_submission,
)
from xabar.ingest.errors import InvalidSubmission, LimitExceeded, UnsupportedMedia
from xabar.ingest.forms import form_to_data
from xabar.ingest.routes.common import IDEMPOTENCY_KEY, idempotency_key
from xabar.runtime.bodies import (
    JSON,
    MULTIPART,
    BodyError,
    Limits,
    media_type,
    read_form,
    read_json,
)
from xabar.runtime.http import json_response
from xabar.runtime.openapi import ErrorBody
from xabar.runtime.routing import Router

router = Router(tags=["submissions"])


TIP_FIELDS = 40
PHOTOS = "photos"


@dataclass(frozen=True, slots=True)
class TipForm:
    """A tip's form: its text fields (each sent once) and its photos' bytes."""

    fields: dict[str, str]
    photos: list[bytes]


def tip_limits(settings: IngestSettings) -> Limits:
    return Limits(
        max_bytes=settings.max_multipart_bytes(),
        max_fields=TIP_FIELDS,
        max_field_bytes=settings.max_json_bytes,
        max_files=settings.max_photos,
        max_file_bytes=settings.max_photo_bytes,
        file_fields=frozenset({PHOTOS}),
    )


async def read_tip_form(request: Request, settings: IngestSettings) -> TipForm:
    """A tip's form (multipart, or urlencoded without photos) read by the runtime's reader
    within the tip's limits. Its photo limits keep the names the API has always answered with
    (``too_many_photos``, ``photo_too_large``); a field sent twice is refused."""
    try:
        form = await read_form(request, tip_limits(settings))
    except BodyError as exc:
        if exc.code == "too_many_files":
            raise LimitExceeded(
                "too_many_photos", f"at most {settings.max_photos} photos may be attached"
            ) from None
        if exc.code == "file_too_large":
            count = exc.message.split(" ", 2)[1]  # "file N is over ..."
            raise LimitExceeded(
                "photo_too_large",
                f"photo {count} is over the limit of {settings.max_photo_bytes} bytes per photo",
            ) from None
        if exc.code == "field_too_large":
            raise LimitExceeded(
                "payload_too_large", f"the field {exc.name} is over {exc.limit} bytes"
            ) from None
        raise
    fields: dict[str, str] = {}
    for name, value in form.items:
        if name in fields:
            raise InvalidSubmission(
                f"the field {name} was sent more than once",
                [{"field": name, "message": "sent more than once", "type": "duplicate"}],
            )
        fields[name] = value
    return TipForm(fields, [upload.data for upload in form.files_in(PHOTOS)])


async def read_submission(request: Request, settings: IngestSettings) -> tuple[Any, list[bytes]]:
    """The tip's fields (the JSON shape) and its photos' bytes, from JSON or multipart."""
    ctype = media_type(request.headers)
    if ctype == JSON:
        return await read_json(request, settings.max_json_bytes), []
    if ctype == MULTIPART:
        form = await read_tip_form(request, settings)
        return form_to_data(form.fields), form.photos
    raise UnsupportedMedia(f"send the submission as {JSON}, or as {MULTIPART} to attach photos")


@router.post(
    "/api/v1/submissions",
    "Send a tip (JSON here; multipart/form-data with the form's fields and `photos` files "
    "is accepted too). 202 means durably stored.",
    body=NewSubmission,
    responses={
        202: Receipt,
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
async def send_submission(request: Request) -> Response:
    deps = Deps.of(request)
    deps.origins.require(request)  # a browser's post from another site's page: 403
    key = idempotency_key(request)
    client = deps.client_hash(request)
    await deps.submit_limit.check(client)
    # a JSON body is small; one that may carry photos waits for room in the uploads' budget
    room: AbstractAsyncContextManager[None] = (
        nullcontext() if media_type(request.headers) == JSON else deps.upload(request)
    )
    async with room:
        data, photos = await read_submission(request, deps.settings)
        accepted = await deps.service.submit(
            validate_submission(data),
            photos,
            client_hash=client,
            idempotency_key=key,
            correlation_id=correlation(request),
        )
    headers = {"Location": accepted.receipt.status_url}
    if accepted.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(accepted.receipt, 202, headers)


RECEIPT_CODE = {
    "name": "X-Receipt-Code",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 64},
    "description": "the receipt code given when the tip was accepted",
}


@router.get(
    "/api/v1/receipt",
    "Status of the tip whose receipt code is sent in X-Receipt-Code (the code alone finds it)",
    responses={200: SubmissionStatusView, 404: ErrorBody, 429: ErrorBody},
    parameters=[RECEIPT_CODE],
)
async def receipt_status(request: Request) -> Response:
    deps = Deps.of(request)
    await deps.lookup_limit.check(deps.client_hash(request))
    view = await deps.service.receipt_status(request.headers.get("x-receipt-code"))
    return json_response(view, headers={"Cache-Control": "no-store"})


@router.get(
    "/api/v1/submissions/{submission_id}",
    "Status of a submission, for the holder of its receipt code",
    responses={200: SubmissionStatusView, 404: ErrorBody, 429: ErrorBody},
    parameters=[
        RECEIPT_CODE,
        {
            "name": "code",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "the receipt code, if it cannot be sent as X-Receipt-Code",
        },
    ],
)
async def submission_status(request: Request) -> Response:
    deps = Deps.of(request)
    code = request.headers.get("x-receipt-code") or request.query_params.get("code")
    await deps.lookup_limit.check(deps.client_hash(request))
    view = await deps.service.status(request.path_params["submission_id"], code)
    return json_response(view, headers={"Cache-Control": "no-store"})
