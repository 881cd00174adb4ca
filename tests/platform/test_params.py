"""Query and path parameters: ASCII digits only, bounded numbers and dates, 422 or 404 naming
the parameter, never a 500."""

from datetime import UTC, date, datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from xabar.runtime.http import error_handlers
from xabar.runtime.params import (
    BadParameter,
    calendar_day,
    choice,
    moment,
    path_int,
    query_choice,
    query_date,
    query_datetime,
    query_int,
    whole_number,
)


@pytest.mark.parametrize("raw", ["²", "٣", "１", "1.5", "1e3", " 1", "+1", "-1", "", "0x10"])
def test_only_ascii_digits_make_a_number(raw: str) -> None:
    with pytest.raises(BadParameter) as caught:
        whole_number(raw, "page", low=0, high=100)
    err = caught.value
    assert (err.status, err.code) == (422, "invalid_parameter")
    assert err.message == "page must be a whole number from 0 to 100"
    assert err.fields == [{"field": "page", "message": err.message, "type": "integer"}]


def test_numbers_are_bounded() -> None:
    assert whole_number("007", "page", low=1, high=10) == 7
    assert whole_number("-3", "offset", low=-5, high=5) == -3
    for raw in ("0", "11", "9" * 5000):
        with pytest.raises(BadParameter) as caught:
            whole_number(raw, "page", low=1, high=10)
        assert caught.value.fields is not None and caught.value.fields[0]["type"] == "range"


def test_moments_are_utc_and_in_range() -> None:
    assert moment("2024-03-01", "from") == datetime(2024, 3, 1, tzinfo=UTC)
    assert moment("2024-03-01", "to", day_end=True) == datetime(2024, 3, 2, tzinfo=UTC)
    assert moment("2024-03-01T10:00:00+05:00", "at") == datetime(2024, 3, 1, 5, tzinfo=UTC)
    assert moment("2024-03-01T10:00:00Z", "at") == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert moment("2024-03-01T10:00", "at") == datetime(2024, 3, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [
        "9999-12-31T23:59:59-14:00",  # past what a datetime holds once in UTC
        "0001-01-01T00:00:00+14:00",
        "9999-12-31",
        "1066-10-14",
        "2024-02-30",
        "2024-03-01T25:00",
        "２０２４-01-01",
        "x" * 1000,
        "yesterday",
    ],
)
def test_moments_out_of_form_or_range_are_422(raw: str) -> None:
    with pytest.raises(BadParameter) as caught:
        moment(raw, "to")
    assert caught.value.status == 422
    assert caught.value.message.startswith("to must be an ISO date")


def test_days_and_choices() -> None:
    assert calendar_day("2024-01-31", "day") == date(2024, 1, 31)
    for raw in ("2024-1-31", "31.01.2024", "2300-01-01"):
        with pytest.raises(BadParameter):
            calendar_day(raw, "day")
    assert choice("draft", "status", {"draft", "published"}) == "draft"
    with pytest.raises(BadParameter) as caught:
        choice("gone", "status", {"draft", "published"})
    assert caught.value.message == "status must be one of: draft, published"


async def _list(request: Request) -> Response:
    since = query_datetime(request, "from")
    until = query_datetime(request, "to", day_end=True)
    day = query_date(request, "day")
    return JSONResponse(
        {
            "page": query_int(request, "page", default=1, low=1, high=1000),
            "from": since and since.isoformat(),
            "to": until and until.isoformat(),
            "day": day and day.isoformat(),
            "status": query_choice(request, "status", {"draft", "published"}),
        }
    )


async def _revision(request: Request) -> Response:
    return JSONResponse({"n": path_int(request, "n", high=10_000, what="revision")})


async def test_requests_get_422_or_404_and_never_500() -> None:
    app = Starlette(
        routes=[Route("/items", _list), Route("/revisions/{n}", _revision)],
        exception_handlers=error_handlers(),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        ok = await c.get("/items", params={"page": "2", "to": "2024-01-01", "status": "draft"})
        assert ok.json() == {
            "page": 2,
            "from": None,
            "to": "2024-01-02T00:00:00+00:00",
            "day": None,
            "status": "draft",
        }
        assert (await c.get("/items?page=")).json()["page"] == 1
        for query in ("page=²", "page=0", "to=9999-12-31T23:59:59-14:00", "day=x", "status=y"):
            resp = await c.get(f"/items?{query}")
            assert resp.status_code == 422, query
            name = query.split("=")[0]
            assert resp.json()["error"]["fields"][0]["field"] == name
            assert resp.json()["error"]["message"].startswith(name)
        assert (await c.get("/revisions/12")).json() == {"n": 12}
        for raw in ("²", "0", "10001", "1844674407370955161600"):
            resp = await c.get(f"/revisions/{raw}")
            assert resp.status_code == 404, raw
            assert resp.json()["error"] == {"code": "not_found", "message": "no such revision"}
