"""Reading a request: query and path parameters, If-Match, the JSON body, each with a clear 4xx
in our own words (never a 500, never Python's text), and each declared for the OpenAPI document
next to its parser.

The body is read by the runtime's reader (``read_body``): the one line to change when the
runtime's body reader and parameter helpers land."""

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request

from xabar.publisher.domain import Doc, Period
from xabar.publisher.errors import NotFound, PreconditionRequired
from xabar.runtime.http import BadRequest, parse_body

M = TypeVar("M", bound=BaseModel)

MAX_PER_PAGE = 200
MAX_PAGE = 1_000_000
MAX_VERSION = 1_000_000_000
DIGITS = re.compile(r"[0-9]{1,12}")  # ASCII digits only: str.isdigit() also takes "²"
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, tzinfo=UTC)  # a day and any offset later is still a datetime


def query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """An optional query parameter, as the OpenAPI document declares it."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


PAGING = (
    query("page", f"page number, from 1 to {MAX_PAGE}", {"type": "integer", "minimum": 1}),
    query("per_page", f"items a page (1-{MAX_PER_PAGE})", {"type": "integer", "minimum": 1}),
)
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": True,
    "description": 'the ETag of the version being changed, e.g. "3"',
    "schema": {"type": "string"},
}
IF_MATCH_OPTIONAL = {**IF_MATCH, "required": False}
VERSION = {
    "name": "version",
    "in": "path",
    "required": True,
    "description": "a version of the article, from 1",
    "schema": {"type": "integer", "minimum": 1},
}


def invalid_query(message: str) -> BadRequest:
    return BadRequest(422, "invalid_query", message)


def q_str(request: Request, name: str, max_length: int = 200) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > max_length:
        raise invalid_query(f"{name}: не длиннее {max_length} символов")
    return raw


def q_optional_int(request: Request, name: str, lo: int, hi: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not DIGITS.fullmatch(raw) or not lo <= int(raw) <= hi:
        raise invalid_query(f"{name}: целое число от {lo} до {hi}")
    return int(raw)


def q_int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    value = q_optional_int(request, name, lo, hi)
    return default if value is None else value


def q_page(request: Request, per_page_default: int = 50) -> tuple[int, int]:
    """``page`` and ``per_page`` (see ``PAGING``)."""
    return (
        q_int(request, "page", 1, 1, MAX_PAGE),
        q_int(request, "per_page", per_page_default, 1, MAX_PER_PAGE),
    )


def q_choice(request: Request, name: str, allowed: set[str] | frozenset[str]) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise invalid_query(f"{name}: одно из {', '.join(sorted(allowed))}")
    return raw


def q_time(request: Request, name: str, *, end: bool = False) -> datetime | None:
    """An ISO date (a whole day: its start, or for ``end`` the next day's start) or date-time
    (without an offset: UTC), between the years 1900 and 9998."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    wrong = invalid_query(f"{name}: дата (ГГГГ-ММ-ДД) или дата и время ISO 8601, годы 1900-9998")
    try:
        if len(raw) == 10:
            value = datetime.combine(date.fromisoformat(raw), time(), tzinfo=UTC)
        else:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            value = value if value.tzinfo else value.replace(tzinfo=UTC)
        if not EARLIEST <= value <= LATEST:
            raise wrong
        value = value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise wrong from None
    return value + timedelta(days=1) if end and len(raw) == 10 else value


PERIOD = (
    query("from", "on or after (ISO date or date-time)"),
    query("to", "before (ISO date-time), or on or before (ISO date)"),
)


def q_period(request: Request) -> Period:
    """``from`` and ``to`` (see ``PERIOD``)."""
    return Period(q_time(request, "from"), q_time(request, "to", end=True))


def path_id(request: Request, name: str) -> str:
    value = str(request.path_params[name])
    if not 1 <= len(value) <= 100:
        raise NotFound("такого объекта нет")
    return value


def path_version(request: Request) -> int:
    raw = str(request.path_params["version"])
    if not DIGITS.fullmatch(raw):
        raise NotFound("такой версии нет")
    return int(raw)


def optional_if_match(request: Request) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    value = raw.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not DIGITS.fullmatch(value):
        raise BadRequest(400, "bad_if_match", 'If-Match — это ETag версии статьи, например "3"')
    return int(value)


def require_if_match(request: Request) -> int:
    value = optional_if_match(request)
    if value is None:
        raise PreconditionRequired(
            'пришлите If-Match с ETag версии, которую вы правите, например If-Match: "3"'
        )
    return value


async def read_body(request: Request, model: type[M], max_bytes: int) -> M:
    """The JSON body as ``model``: 415, 413, 400 or 422 otherwise."""
    return await parse_body(request, model, max_bytes=max_bytes)


def given_fields(model: BaseModel) -> Doc:
    """The fields a client actually sent, as plain data."""
    data = model.model_dump(mode="python")
    return {k: data[k] for k in model.model_fields_set}
