"""Reading a request: query and path parameters, If-Match, the JSON body, each with a clear 4xx
in our own words (never a 500, never Python's text), and each declared for the OpenAPI document
next to its parser. Numbers, dates and choices are read by the runtime (``xabar.runtime.params``:
ASCII digits only, bounded; 422 naming the parameter, 404 for a path number), bodies by its body
reader (``xabar.runtime.bodies``: only UTF-8, nesting and size bounded)."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request

from xabar.publisher.domain import Doc, Period
from xabar.publisher.errors import NotFound, PreconditionRequired
from xabar.runtime.bodies import parse_body
from xabar.runtime.errors import BadRequest
from xabar.runtime.params import (
    BadParameter,
    is_digits,
    path_int,
    query_choice,
    query_datetime,
    query_int,
    query_optional_int,
)

M = TypeVar("M", bound=BaseModel)

MAX_PER_PAGE = 200
MAX_PAGE = 1_000_000
MAX_VERSION = 1_000_000_000
MAX_DIGITS = 12  # of an ETag


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


def q_str(request: Request, name: str, max_length: int = 200) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > max_length:
        raise BadParameter(name, f"{name}: не длиннее {max_length} символов", "length")
    return raw


def q_optional_int(request: Request, name: str, lo: int, hi: int) -> int | None:
    return query_optional_int(request, name, low=lo, high=hi)


def q_int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    return query_int(request, name, default=default, low=lo, high=hi)


def q_page(request: Request, per_page_default: int = 50) -> tuple[int, int]:
    """``page`` and ``per_page`` (see ``PAGING``)."""
    return (
        q_int(request, "page", 1, 1, MAX_PAGE),
        q_int(request, "per_page", per_page_default, 1, MAX_PER_PAGE),
    )


def q_choice(request: Request, name: str, allowed: set[str] | frozenset[str]) -> str | None:
    return query_choice(request, name, allowed)


PERIOD = (
    query("from", "on or after (ISO date or date-time)"),
    query("to", "before (ISO date-time), or on or before (ISO date)"),
)


def q_period(request: Request) -> Period:
    """``from`` and ``to`` (see ``PERIOD``): an ISO date means its whole day; a date-time
    without an offset is UTC; 1900 to 2199."""
    return Period(query_datetime(request, "from"), query_datetime(request, "to", day_end=True))


@dataclass(frozen=True, slots=True)
class Filter:
    """A filter of a list: its query parameters as the document declares them, and how it is
    read (the value of the list query's field ``field``)."""

    field: str
    parameters: tuple[dict[str, Any], ...]
    read: Callable[[Request], Any]


def text_filter(name: str, description: str, max_length: int = 200, field: str = "") -> Filter:
    return Filter(field or name, (query(name, description),), lambda r: q_str(r, name, max_length))


def choice_filter(
    name: str, description: str, allowed: set[str] | frozenset[str], field: str = ""
) -> Filter:
    return Filter(field or name, (query(name, description),), lambda r: q_choice(r, name, allowed))


def period_filter(field: str) -> Filter:
    """``from`` and ``to`` (``PERIOD``), as the ``Period`` of the list query's ``field``."""
    return Filter(field, PERIOD, q_period)


def filter_parameters(filters: Iterable[Filter]) -> list[dict[str, Any]]:
    """The query parameters of a list: its filters', then the page's (``PAGING``)."""
    return [*(p for f in filters for p in f.parameters), *PAGING]


def q_filters(request: Request, filters: Iterable[Filter]) -> dict[str, Any]:
    """The fields of a list query: the page (read first, ``q_page``), then each filter's."""
    page, per_page = q_page(request)
    return {**{f.field: f.read(request) for f in filters}, "page": page, "per_page": per_page}


def path_id(request: Request, name: str) -> str:
    value = str(request.path_params[name])
    if not 1 <= len(value) <= 100:
        raise NotFound("такого объекта нет")
    return value


def path_version(request: Request) -> int:
    return path_int(request, "version", high=MAX_VERSION, what="version")


def optional_if_match(request: Request) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    value = raw.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not is_digits(value) or len(value) > MAX_DIGITS:
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
