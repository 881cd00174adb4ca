"""HTTP conventions every service shares: JSON bodies in, one error shape out.

Error body: ``{"error": {"code": "validation_failed", "message": "...", "fields": [...]}}``.
Routes choose status codes; these helpers only build the responses.
"""

import json
import logging
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("xabar.http")

M = TypeVar("M", bound=BaseModel)


class BadRequest(Exception):
    """Raised by the helpers below; ``error_handlers`` turns it into the response."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields
        self.headers = headers


def error_response(
    status: int,
    code: str,
    message: str,
    fields: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as ``{"field": "contact.email", "message": "..."}`` a person can read."""
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"] if p != "__root__") or "body"
        out.append({"field": loc, "message": err["msg"], "type": err["type"]})
    return out


async def read_json(request: Request, max_bytes: int = 1_000_000) -> Any:
    """The request body as JSON: 415 for another content type, 413 over ``max_bytes``, 400 if
    malformed."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise BadRequest(415, "unsupported_media_type", "send the body as application/json")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise BadRequest(413, "payload_too_large", f"the body is over {max_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise BadRequest(413, "payload_too_large", f"the body is over {max_bytes} bytes")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(400, "malformed_json", f"the body is not valid JSON: {exc}") from exc


async def parse_body(request: Request, model: type[M], max_bytes: int = 1_000_000) -> M:
    data = await read_json(request, max_bytes)
    if not isinstance(data, dict):
        raise BadRequest(422, "validation_failed", "the body must be a JSON object")
    return validate(model, data)


def validate(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(
            422, "validation_failed", "some fields are invalid", field_errors(exc)
        ) from exc


async def _bad_request(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadRequest)
    return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)


async def _http_exception(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return error_response(exc.status_code, code, message, headers=dict(exc.headers or {}))


async def _unexpected(_: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "something went wrong on our side; try again")


def error_handlers() -> dict[Any, Any]:
    return {BadRequest: _bad_request, HTTPException: _http_exception, Exception: _unexpected}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON of a pydantic model or plain data, UTF-8 without escaping Cyrillic."""
    if isinstance(data, BaseModel):
        body = data.model_dump_json().encode()
    else:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)
