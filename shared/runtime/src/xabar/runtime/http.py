"""HTTP conventions every service shares: JSON bodies in, one error shape out.

Error body: ``{"error": {"code": "validation_failed", "message": "...", "fields": [...]}}``.
Routes choose status codes; these helpers only build the responses.
"""

import json
import logging
from typing import Any

from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

# the body readers and the request error live in their own modules; named here too, where the
# routes have always found them
from xabar.runtime.bodies import field_errors, parse_body, read_json, validate
from xabar.runtime.errors import BadRequest

log = logging.getLogger("xabar.http")


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


__all__ = [
    "BadRequest",
    "error_handlers",
    "error_response",
    "field_errors",
    "json_response",
    "parse_body",
    "read_json",
    "validate",
]
