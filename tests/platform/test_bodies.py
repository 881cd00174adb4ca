"""The runtime's body readers: what they take, and every refusal in our own words.

The parsing is pure (bytes in); the request readers are driven through a Starlette app in
process here, and through a real uvicorn server in ``test_server.py`` where streaming matters.
"""

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from xabar.runtime.bodies import (
    BodyError,
    Form,
    Limits,
    MultipartReader,
    nesting_exceeds,
    parse_body,
    parse_json,
    parse_urlencoded,
    read_bytes,
    read_form,
    read_json,
)
from xabar.runtime.http import error_handlers

BOUNDARY = "b0undary"
FORM_LIMITS = Limits(
    max_bytes=10_000,
    max_fields=4,
    max_field_bytes=100,
    max_files=2,
    max_file_bytes=1000,
    file_fields=frozenset({"photos"}),
)


def multipart(*parts: tuple[str, str | None, bytes], close: bool = True) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: image/png\r\n"
        out += b"\r\n" + data + b"\r\n"
    return out + (f"--{BOUNDARY}--\r\n".encode() if close else b"")


def read_multipart(body: bytes, limits: Limits = FORM_LIMITS, chunk: int = 7) -> Form:
    reader = MultipartReader(BOUNDARY.encode(), limits)
    for i in range(0, len(body), chunk):
        reader.feed(body[i : i + chunk])
    return reader.finish()


def refused(call: Callable[..., object], *args: Any, **kwargs: Any) -> BodyError:
    with pytest.raises(BodyError) as caught:
        call(*args, **kwargs)
    return caught.value


# --- JSON ----------------------------------------------------------------------------------------


def test_json_is_parsed_from_utf8() -> None:
    assert parse_json('{"город": ["Алматы", 1, null]}'.encode()) == {"город": ["Алматы", 1, None]}


@pytest.mark.parametrize(
    "body",
    [
        '{"a": "b"}'.encode("utf-16"),  # with its byte order mark
        '{"a": "b"}'.encode("utf-16-le"),  # without one
        '{"a": "b"}'.encode("utf-32"),
        b'{"a": "\xff"}',  # not UTF-8 at all
    ],
)
def test_json_in_another_encoding_is_refused_as_not_utf8(body: bytes) -> None:
    err = refused(parse_json, body)
    assert (err.status, err.code) == (400, "not_utf8")
    assert err.message == "send JSON encoded as UTF-8"


def test_a_utf8_byte_order_mark_is_refused() -> None:
    err = refused(parse_json, b'\xef\xbb\xbf{"a": 1}')
    assert (err.status, err.code) == (400, "malformed_json")


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_json_nested_past_the_bound_is_refused_without_recursion(depth: int) -> None:
    for body in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        err = refused(parse_json, body.encode())
        assert (err.status, err.code, err.limit) == (400, "too_deep", 32)
        assert "32 levels" in err.message


def test_json_at_the_bound_is_read() -> None:
    assert parse_json(("[" * 32 + "]" * 32).encode()) == parse_json(b"[" * 32 + b"]" * 32)
    assert parse_json(b"[" * 5 + b"]" * 5, max_depth=5) == [[[[[]]]]]


def test_brackets_inside_strings_are_no_nesting() -> None:
    text = json.dumps({"a": "[" * 500, "b": '\\"{' * 300, "c": [[1]]})
    assert not nesting_exceeds(text, 3)
    assert parse_json(text.encode(), max_depth=3)["a"] == "[" * 500
    assert nesting_exceeds(json.dumps([[["x"]]]), 2)


@pytest.mark.parametrize("body", [b"{", b'{"a": NaN}', b"[Infinity]", b"1" * 5000, b""])
def test_malformed_json_is_400_in_our_words(body: bytes) -> None:
    err = refused(parse_json, body)
    assert (err.status, err.code) == (400, "malformed_json")
    assert err.message.startswith("the body is not valid JSON")
    assert "Expecting" not in err.message and "Exceeds" not in err.message


# --- urlencoded ----------------------------------------------------------------------------------


def test_urlencoded_fields_are_decoded_in_order() -> None:
    body = b"option=a&option=b&return_to=%2Fnews&name=%D0%90+%D0%91&e="
    form = parse_urlencoded(body, Limits(max_fields=5))
    assert form.getlist("option") == ["a", "b"]
    assert form.get("name") == "А Б"
    assert form.get("return_to") == "/news"
    assert form.get("e") == ""
    assert form.get("missing") is None


@pytest.mark.parametrize("body", [b"name=%FF%FE", b"%C3%28=x", "имя=x".encode("cp1251")])
def test_urlencoded_fields_that_are_not_utf8_are_refused(body: bytes) -> None:
    err = refused(parse_urlencoded, body, FORM_LIMITS)
    assert (err.status, err.code) == (400, "not_utf8")


def test_urlencoded_limits() -> None:
    err = refused(parse_urlencoded, b"a=1&" * 5, FORM_LIMITS)
    assert (err.status, err.code, err.limit) == (413, "too_many_fields", 4)
    err = refused(parse_urlencoded, b"a=" + b"x" * 101, FORM_LIMITS)
    assert (err.status, err.code, err.limit, err.name) == (413, "field_too_large", 100, "a")
    err = refused(parse_urlencoded, b"a=" + b"x" * 20_000, FORM_LIMITS)
    assert (err.status, err.code) == (413, "payload_too_large")


# --- multipart -----------------------------------------------------------------------------------


def test_multipart_fields_and_files_are_read_in_any_chunking() -> None:
    body = multipart(
        ("title", None, "Пожар".encode()),
        ("photos", "a.png", b"\x89PNG" + b"\x00" * 500),
        ("photos", "", b""),  # a file input left empty
        ("text", None, b"line\r\n--not the boundary"),
    )
    for chunk in (1, 7, 64, len(body)):
        form = read_multipart(body, chunk=chunk)
        assert form.items == (("title", "Пожар"), ("text", "line\r\n--not the boundary"))
        [photo] = form.files
        assert (photo.name, photo.filename, photo.content_type, photo.size) == (
            "photos",
            "a.png",
            "image/png",
            504,
        )


def test_a_multipart_body_without_its_closing_boundary_is_refused() -> None:
    whole = multipart(("title", None, b"x"), ("photos", "a.png", b"\x89PNG" * 10))
    for cut in (len(whole) - 4, len(whole) - 30, len(whole) // 2):
        err = refused(read_multipart, whole[:cut])
        assert (err.status, err.code) == (400, "malformed_form")
    err = refused(read_multipart, multipart(("title", None, b"x"), close=False))
    assert err.message == "the multipart body ends before its closing boundary"


def test_multipart_fields_and_file_names_must_be_utf8() -> None:
    err = refused(read_multipart, multipart(("title", None, "Пожар".encode("cp1251"))))
    assert (err.status, err.code, err.name) == (400, "not_utf8", "title")
    body = multipart(("photos", "x", b"data")).replace(b'filename="x"', b'filename="\xff.png"')
    err = refused(read_multipart, body)
    assert (err.status, err.code) == (400, "not_utf8")


def test_multipart_limits() -> None:
    cases = [
        (multipart(*[("f", None, b"1")] * 5), 413, "too_many_fields", 4),
        (multipart(("f", None, b"x" * 101)), 413, "field_too_large", 100),
        (multipart(*[("photos", "a.png", b"1")] * 3), 413, "too_many_files", 2),
        (multipart(("photos", "a.png", b"1" * 1001)), 413, "file_too_large", 1000),
        (multipart(("avatar", "a.png", b"1")), 400, "unexpected_file", None),
    ]
    for body, status, code, limit in cases:
        err = refused(read_multipart, body)
        assert (err.status, err.code, err.limit) == (status, code, limit), code
    two_photos = multipart(("photos", "a.png", b"1" * 900), ("photos", "b.png", b"2" * 900))
    err = refused(read_multipart, two_photos, Limits(max_bytes=1500, max_files=2))
    assert (err.status, err.code, err.limit) == (413, "payload_too_large", 1500)


def test_a_file_where_none_is_taken_is_refused() -> None:
    err = refused(read_multipart, multipart(("photos", "a.png", b"1")), Limits(max_bytes=1000))
    assert (err.status, err.code) == (400, "unexpected_file")


@pytest.mark.parametrize(
    "body",
    [
        b"garbage without any boundary",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode(),
        f"--{BOUNDARY}\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n".encode(),
    ],
)
def test_broken_multipart_is_400(body: bytes) -> None:
    err = refused(read_multipart, body)
    assert (err.status, err.code) == (400, "malformed_form")


# --- the request readers, in process -------------------------------------------------------------


class Vote(BaseModel):
    options: list[str]


async def _json(request: Request) -> Response:
    return JSONResponse({"data": await read_json(request, 1000)})


async def _model(request: Request) -> Response:
    return JSONResponse((await parse_body(request, Vote, 1000)).model_dump())


async def _form(request: Request) -> Response:
    form = await read_form(request, FORM_LIMITS)
    return JSONResponse({"items": form.items, "files": [f.size for f in form.files]})


async def _raw(request: Request) -> Response:
    data = await read_bytes(request, 100, accept={"image/png"})
    return JSONResponse({"size": len(data)})


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(
        routes=[
            Route("/json", _json, methods=["POST"]),
            Route("/model", _model, methods=["POST"]),
            Route("/form", _form, methods=["POST"]),
            Route("/raw", _raw, methods=["POST"]),
        ],
        exception_handlers=error_handlers(),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def test_json_requests(client: httpx.AsyncClient) -> None:
    assert (await client.post("/json", json={"a": [1]})).json() == {"data": {"a": [1]}}
    cases = [
        ({"content-type": "text/plain"}, b"{}", 415, "unsupported_media_type"),
        (
            {"content-type": "application/json; charset=utf-16"},
            b"{}",
            415,
            "unsupported_media_type",
        ),
        ({"content-type": "application/json"}, b"[" * 2000 + b"]" * 2000, 413, "payload_too_large"),
        ({"content-type": "application/json"}, b"[" * 400 + b"]" * 400, 400, "too_deep"),
        ({"content-type": "application/json"}, '{"a":1}'.encode("utf-16"), 400, "not_utf8"),
    ]
    for headers, body, status, code in cases:
        resp = await client.post("/json", content=body, headers=headers)
        assert (resp.status_code, resp.json()["error"]["code"]) == (status, code), code
    resp = await client.post("/model", json={"options": "x"})
    assert resp.status_code == 422
    assert resp.json()["error"]["fields"][0]["field"] == "options"
    assert (await client.post("/model", json=[1])).status_code == 422
    assert (await client.post("/model", json={"options": ["a"]})).json() == {"options": ["a"]}


async def test_form_requests(client: httpx.AsyncClient) -> None:
    resp = await client.post("/form", data={"a": "б"})
    assert resp.json() == {"items": [["a", "б"]], "files": []}
    resp = await client.post("/form", data={"a": "1"}, files={"photos": ("p.png", b"12345")})
    assert resp.json() == {"items": [["a", "1"]], "files": [5]}
    resp = await client.post("/form", content=b"{}", headers={"content-type": "application/json"})
    assert resp.status_code == 415
    resp = await client.post("/form", content=b"x", headers={"content-type": "multipart/form-data"})
    assert (resp.status_code, resp.json()["error"]["code"]) == (400, "malformed_form")
    truncated = multipart(("a", None, b"1"), ("photos", "p.png", b"123"), close=False)
    resp = await client.post(
        "/form",
        content=truncated,
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert (resp.status_code, resp.json()["error"]["code"]) == (400, "malformed_form")


async def test_raw_requests(client: httpx.AsyncClient) -> None:
    png = {"content-type": "image/png"}
    assert (await client.post("/raw", content=b"x" * 100, headers=png)).json() == {"size": 100}
    assert (await client.post("/raw", content=b"x" * 101, headers=png)).status_code == 413
    assert (
        await client.post("/raw", content=b"x", headers={"content-type": "x/y"})
    ).status_code == 415

    async def lying() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(10):
            yield b"x" * 20

    assert (await client.post("/raw", content=lying(), headers=png)).status_code == 413
