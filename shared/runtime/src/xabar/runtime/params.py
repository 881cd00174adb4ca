"""Query and path parameters read strictly: whole numbers of ASCII digits within bounds, dates
and date-times within a range, one of a set of choices.

A query parameter out of its form or range is 422 (``BadParameter``, code ``invalid_parameter``,
naming the parameter); a path id that cannot be one is 404 (``NoSuchItem``), as for an id that
is well formed but unknown. The messages are ours, never an exception's text::

    page = query_int(request, "page", default=1, low=1, high=10_000)
    since = query_datetime(request, "from")                       # None when absent
    until = query_datetime(request, "to", day_end=True)           # a date means its whole day
    revision = path_int(request, "number", high=1_000_000)        # 404 unless 1..1000000

Unicode digits (``"²"``, ``"٣"``) pass ``str.isdigit()`` but are no number here.
"""

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta

from starlette.requests import Request

from xabar.runtime.errors import BadRequest

EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)
_MAX_TEXT = 40  # longer than any ISO date-time


class BadParameter(BadRequest):
    """A query parameter refused (422)."""

    def __init__(self, name: str, message: str, kind: str = "invalid") -> None:
        super().__init__(
            422,
            "invalid_parameter",
            message,
            [{"field": name, "message": message, "type": kind}],
        )
        self.name = name


class NoSuchItem(BadRequest):
    """A path parameter that names nothing there can be (404)."""

    def __init__(self, message: str = "no such item") -> None:
        super().__init__(404, "not_found", message)


def is_digits(raw: str) -> bool:
    """Only the ASCII digits 0-9, at least one."""
    return raw.isascii() and raw.isdigit()


def whole_number(raw: str, name: str, *, low: int, high: int) -> int:
    """``raw`` as an integer from ``low`` to ``high``; ``BadParameter`` otherwise."""
    message = f"{name} must be a whole number from {low} to {high}"
    digits = raw[1:] if low < 0 and raw.startswith("-") else raw
    if not is_digits(digits):
        raise BadParameter(name, message, "integer")
    if len(digits) > _MAX_TEXT:  # out of range, and never handed to int() whole
        raise BadParameter(name, message, "range")
    value = int(raw)
    if not low <= value <= high:
        raise BadParameter(name, message, "range")
    return value


def moment(
    raw: str, name: str, *, low: date = EARLIEST, high: date = LATEST, day_end: bool = False
) -> datetime:
    """An ISO date (its start in UTC, or with ``day_end`` the next day's start) or an ISO
    date-time (``Z`` or an offset; without one, UTC), as an aware UTC datetime within
    ``low``..``high`` (whole days)."""
    message = (
        f"{name} must be an ISO date (YYYY-MM-DD) or date-time from "
        f"{low.isoformat()} to {high.isoformat()}"
    )
    if not raw.isascii() or len(raw) > _MAX_TEXT:
        raise BadParameter(name, message, "datetime")
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            if not low <= day <= high:
                raise BadParameter(name, message, "range")
            start = datetime.combine(day, time(), tzinfo=UTC)
            return start + timedelta(days=1) if day_end else start
        value = datetime.fromisoformat(raw)
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):  # not ISO, or past what a datetime holds in UTC
        raise BadParameter(name, message, "datetime") from None
    if not low <= value.date() <= high:
        raise BadParameter(name, message, "range")
    return value


def calendar_day(raw: str, name: str, *, low: date = EARLIEST, high: date = LATEST) -> date:
    """An ISO date (YYYY-MM-DD) within ``low``..``high``."""
    message = f"{name} must be an ISO date (YYYY-MM-DD) from {low.isoformat()} to {high}"
    try:
        if not raw.isascii() or len(raw) != 10:
            raise ValueError(raw)
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(name, message, "date") from None
    if not low <= day <= high:
        raise BadParameter(name, message, "range")
    return day


def choice(raw: str, name: str, allowed: Collection[str]) -> str:
    if raw not in allowed:
        raise BadParameter(name, f"{name} must be one of: {', '.join(sorted(allowed))}", "choice")
    return raw


# --- from a request -----------------------------------------------------------------------------


def _query(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name)
    return None if raw is None or raw == "" else raw


def query_int(request: Request, name: str, *, default: int, low: int = 0, high: int) -> int:
    """The query parameter ``name`` as an integer from ``low`` to ``high`` (``default`` when
    absent or empty)."""
    raw = _query(request, name)
    return default if raw is None else whole_number(raw, name, low=low, high=high)


def query_optional_int(request: Request, name: str, *, low: int = 0, high: int) -> int | None:
    """The query parameter ``name`` as an integer from ``low`` to ``high``, None when absent."""
    raw = _query(request, name)
    return None if raw is None else whole_number(raw, name, low=low, high=high)


def query_datetime(
    request: Request,
    name: str,
    *,
    low: date = EARLIEST,
    high: date = LATEST,
    day_end: bool = False,
) -> datetime | None:
    """The query parameter ``name`` as a UTC datetime (see ``moment``), None when absent."""
    raw = _query(request, name)
    return None if raw is None else moment(raw, name, low=low, high=high, day_end=day_end)


def query_date(
    request: Request, name: str, *, low: date = EARLIEST, high: date = LATEST
) -> date | None:
    raw = _query(request, name)
    return None if raw is None else calendar_day(raw, name, low=low, high=high)


def query_choice(request: Request, name: str, allowed: Collection[str]) -> str | None:
    raw = _query(request, name)
    return None if raw is None else choice(raw, name, allowed)


def path_int(request: Request, name: str, *, low: int = 1, high: int, what: str = "item") -> int:
    """The path parameter ``name`` as an integer from ``low`` to ``high``; 404 otherwise."""
    raw = str(request.path_params[name])
    try:
        return whole_number(raw, name, low=low, high=high)
    except BadParameter:
        raise NoSuchItem(f"no such {what}") from None


__all__ = [
    "BadParameter",
    "NoSuchItem",
    "calendar_day",
    "choice",
    "is_digits",
    "moment",
    "path_int",
    "query_choice",
    "query_date",
    "query_datetime",
    "query_int",
    "query_optional_int",
    "whole_number",
]
