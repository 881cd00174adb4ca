"""Request bodies read within limits: JSON, urlencoded forms and multipart, in one place.

A body is counted as it streams in and refused past its limit, whatever Content-Length says, so
memory per request is bounded by ``Limits.max_bytes``. Only UTF-8 is read: JSON in another
encoding, and form fields or file names that are not valid UTF-8, are refused (never stored as
mojibake). JSON nested deeper than ``max_depth`` is refused before it is parsed, so no recursion
limit is ever reached. A multipart body must end with its closing boundary: a truncated one is
refused, never read as if its last part were missing.

Every refusal is a ``BodyError`` (a ``BadRequest``) with a stable ``code``, an English
``message`` for the API, and the ``limit`` it broke where there is one, so a page can say it in
Russian::

    status  code                     when
    400     malformed_json           not JSON, or NaN/Infinity, or a UTF-8 byte order mark
    400     not_utf8                 JSON, a form field or a file name that is not UTF-8
    400     too_deep                 JSON nested deeper than ``max_depth``
    400     malformed_form           broken multipart or urlencoded data, or no closing boundary
    400     unexpected_file          a file in a field that takes none
    400     incomplete_body          the client closed the connection mid-body
    413     payload_too_large        the body is over ``max_bytes``
    413     field_too_large          a form field is over ``max_field_bytes``
    413     file_too_large           a file is over ``max_file_bytes``
    413     too_many_fields          more than ``max_fields`` form fields
    413     too_many_files           more than ``max_files`` files
    415     unsupported_media_type   another content type (or charset) than the reader takes

Use: ``await read_json(request, max_bytes)``, ``await parse_body(request, Model, max_bytes)``,
``await read_form(request, Limits(...))``, ``await read_bytes(request, max_bytes)``. The parsing
itself (``parse_json``, ``parse_urlencoded``, ``MultipartReader``) is pure and takes bytes.
"""

import json
import re
from collections.abc import AsyncGenerator, Collection, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote_plus

from pydantic import BaseModel, ValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import ClientDisconnect, Request

from xabar.runtime.errors import BadRequest

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"

M = TypeVar("M", bound=BaseModel)


class BodyError(BadRequest):
    """A body refused; ``limit`` is the bound it broke (bytes, fields, files or levels)."""

    def __init__(
        self, status: int, code: str, message: str, *, limit: int | None = None, name: str = ""
    ) -> None:
        fields = [{"field": name, "message": message, "type": code}] if name else None
        super().__init__(status, code, message, fields)
        self.limit = limit
        self.name = name


@dataclass(frozen=True, slots=True)
class Limits:
    """What one endpoint reads. ``max_files`` 0 takes no files; ``file_fields`` empty lets any
    field carry one; ``max_file_bytes`` 0 means the body's own limit."""

    max_bytes: int = 1_000_000
    max_depth: int = 32
    max_fields: int = 50
    max_field_bytes: int = 64 * 1024
    max_files: int = 0
    max_file_bytes: int = 0
    file_fields: frozenset[str] = frozenset()

    @property
    def file_limit(self) -> int:
        return self.max_file_bytes or self.max_bytes


@dataclass(frozen=True, slots=True)
class Upload:
    """One file of a multipart body, read whole (its size is bounded by ``Limits``)."""

    name: str
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True, slots=True)
class Form:
    """A form's text fields in the order sent (a name may repeat) and its files."""

    items: tuple[tuple[str, str], ...] = ()
    files: tuple[Upload, ...] = ()

    def get(self, name: str, default: str | None = None) -> str | None:
        return next((v for k, v in self.items if k == name), default)

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self.items if k == name]

    def files_in(self, name: str) -> list[Upload]:
        return [f for f in self.files if f.name == name]


# --- what every reader shares -------------------------------------------------------------------


def media_type(headers: Mapping[str, str]) -> str:
    """The content type without its parameters, lower-cased (``""`` when absent)."""
    return headers.get("content-type", "").split(";")[0].strip().lower()


def too_large(limit: int) -> BodyError:
    return BodyError(413, "payload_too_large", f"the body is over {limit} bytes", limit=limit)


def unsupported(accepted: Collection[str]) -> BodyError:
    return BodyError(
        415, "unsupported_media_type", f"send the body as {' or '.join(sorted(accepted))}"
    )


async def stream(request: Request, max_bytes: int) -> AsyncGenerator[bytes, None]:
    """The body's chunks, refused (413) as soon as they add up to more than ``max_bytes``; a
    Content-Length over the limit is refused before anything is read."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise too_large(max_bytes)
    total = 0
    chunks = request.stream()
    while True:
        try:
            chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except ClientDisconnect:
            raise BodyError(400, "incomplete_body", "the connection closed mid-body") from None
        total += len(chunk)
        if total > max_bytes:
            raise too_large(max_bytes)
        if chunk:
            yield chunk


async def read_bytes(
    request: Request, max_bytes: int, *, accept: Collection[str] | None = None
) -> bytes:
    """The raw body (an image sent as itself, say), at most ``max_bytes``; with ``accept``,
    another content type is 415."""
    if accept is not None and media_type(request.headers) not in accept:
        raise unsupported(accept)
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) <= max_bytes:
        # the server hands over no more than the declared length: read it in one go
        try:
            return await request.body()
        except ClientDisconnect:
            raise BodyError(400, "incomplete_body", "the connection closed mid-body") from None
    body = bytearray()
    async with aclosing(stream(request, max_bytes)) as chunks:
        async for chunk in chunks:
            body.extend(chunk)
    return bytes(body)


# --- JSON ---------------------------------------------------------------------------------------

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)  # NaN, Infinity and -Infinity are not JSON


def nesting_exceeds(text: str, max_depth: int) -> bool:
    """Whether JSON ``text`` nests arrays and objects deeper than ``max_depth`` (brackets inside
    strings do not count). Linear, with no recursion whatever the depth."""
    if text.count("[") + text.count("{") <= max_depth:
        return False
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def parse_json(body: bytes, max_depth: int = 32) -> Any:
    """JSON from UTF-8 bytes, nested at most ``max_depth`` levels."""
    if b"\x00" in body:  # never in UTF-8 JSON text; always in UTF-16 or UTF-32
        raise BodyError(400, "not_utf8", "send JSON encoded as UTF-8")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError(400, "not_utf8", "send JSON encoded as UTF-8") from None
    if text.startswith("\ufeff"):
        raise BodyError(400, "malformed_json", "send JSON without a byte order mark")
    if nesting_exceeds(text, max_depth):
        raise BodyError(
            400,
            "too_deep",
            f"the body nests more than {max_depth} levels of arrays and objects",
            limit=max_depth,
        )
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})"
        raise BodyError(400, "malformed_json", "the body is not valid JSON" + where) from None
    except ValueError:  # NaN, Infinity, integers of over 4300 digits
        raise BodyError(400, "malformed_json", "the body is not valid JSON") from None


async def read_json(request: Request, max_bytes: int = 1_000_000, *, max_depth: int = 32) -> Any:
    """The body as JSON: 415 for another content type or charset, 413 over ``max_bytes``, 400 if
    it is not UTF-8 JSON nested at most ``max_depth`` levels."""
    if media_type(request.headers) != JSON:
        raise unsupported([JSON])
    _, params = parse_options_header(request.headers.get("content-type", ""))
    charset = params.get(b"charset", b"utf-8").decode("latin-1").lower()
    if charset not in ("utf-8", "utf8"):
        raise BodyError(415, "unsupported_media_type", "send JSON encoded as UTF-8")
    return parse_json(await read_bytes(request, max_bytes), max_depth)


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as ``{"field": "contact.email", "message": "..."}`` a person can read."""
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"] if p != "__root__") or "body"
        out.append({"field": loc, "message": err["msg"], "type": err["type"]})
    return out


def validate(model: type[M], data: Any) -> M:
    """``data`` as ``model``, or 422 naming each field that is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(
            422, "validation_failed", "some fields are invalid", field_errors(exc)
        ) from exc


async def parse_body(
    request: Request, model: type[M], max_bytes: int = 1_000_000, *, max_depth: int = 32
) -> M:
    """A JSON object body validated as ``model`` (see ``read_json``; 422 if it does not fit)."""
    data = await read_json(request, max_bytes, max_depth=max_depth)
    if not isinstance(data, dict):
        raise BadRequest(422, "validation_failed", "the body must be a JSON object")
    return validate(model, data)


# --- forms --------------------------------------------------------------------------------------


def _field_too_large(name: str, limit: int) -> BodyError:
    return BodyError(
        413, "field_too_large", f"the field {name} is over {limit} bytes", limit=limit, name=name
    )


def _too_many_fields(limit: int) -> BodyError:
    return BodyError(413, "too_many_fields", f"the form has more than {limit} fields", limit=limit)


def _not_utf8(name: str) -> BodyError:
    return BodyError(400, "not_utf8", f"the field {name} is not UTF-8 text", name=name)


def parse_urlencoded(body: bytes, limits: Limits) -> Form:
    """An ``application/x-www-form-urlencoded`` body (percent-encoded UTF-8)."""
    if len(body) > limits.max_bytes:
        raise too_large(limits.max_bytes)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError(400, "not_utf8", "the form is not UTF-8 text") from None
    pairs = [p for p in text.split("&") if p]
    if len(pairs) > limits.max_fields:
        raise _too_many_fields(limits.max_fields)
    items: list[tuple[str, str]] = []
    for pair in pairs:
        raw_name, _, raw_value = pair.partition("=")
        try:
            name = unquote_plus(raw_name, errors="strict")
        except UnicodeDecodeError:
            raise _not_utf8("?") from None
        try:
            value = unquote_plus(raw_value, errors="strict")
        except UnicodeDecodeError:
            raise _not_utf8(_printable(name)) from None
        if len(value.encode()) > limits.max_field_bytes:
            raise _field_too_large(_printable(name), limits.max_field_bytes)
        items.append((name, value))
    return Form(tuple(items))


def _printable(name: str) -> str:
    return name if name.isascii() and name.isprintable() and len(name) <= 64 else "?"


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    content_type: str = ""
    data: bytearray = field(default_factory=bytearray)


class MultipartReader:
    """A ``multipart/form-data`` body fed in chunks (``feed``), then ``finish``ed into a
    ``Form``. Every limit is checked as the data arrives."""

    def __init__(self, boundary: bytes, limits: Limits) -> None:
        self.limits = limits
        self._size = 0
        self._fields = 0
        self._files: list[Upload] = []
        self._items: list[tuple[str, str]] = []
        self._part = _Part()
        self._header_name = bytearray()
        self._header_value = bytearray()
        try:
            self._parser = MultipartParser(
                boundary,
                {
                    "on_part_begin": self._begin,
                    "on_header_field": self._header_field,
                    "on_header_value": self._header_data,
                    "on_header_end": self._header_end,
                    "on_headers_finished": self._headers_done,
                    "on_part_data": self._data,
                    "on_part_end": self._end,
                },
            )
        except FormParserError:
            raise BodyError(400, "malformed_form", "the multipart boundary is invalid") from None

    @classmethod
    def for_content_type(cls, content_type: str, limits: Limits) -> "MultipartReader":
        _, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if not boundary:
            raise BodyError(400, "malformed_form", "the multipart content type has no boundary")
        return cls(boundary, limits)

    def feed(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self.limits.max_bytes:
            raise too_large(self.limits.max_bytes)
        try:
            self._parser.write(chunk)
        except FormParserError:
            raise BodyError(400, "malformed_form", "the multipart body could not be read") from None

    def finish(self) -> Form:
        if self._parser.state != MultipartState.END:
            raise BodyError(
                400, "malformed_form", "the multipart body ends before its closing boundary"
            )
        return Form(tuple(self._items), tuple(self._files))

    def close(self) -> None:
        """Let go of the parser and what was read. The parser's callbacks are this reader's
        methods, a reference cycle: without this, every byte of the body (the files too)
        would stay in memory until Python's cycle collector ran, long after the request."""
        self._parser = None  # type: ignore[assignment]
        self._files = []
        self._items = []
        self._part = _Part()

    # parser callbacks

    def _begin(self) -> None:
        self._part = _Part()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._part.headers[bytes(self._header_name).lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def _headers_done(self) -> None:
        part, limits = self._part, self.limits
        disposition, options = parse_options_header(part.headers.get(b"content-disposition"))
        if disposition != b"form-data" or b"name" not in options:
            raise BodyError(400, "malformed_form", "a part of the form has no field name")
        part.name = _text(options[b"name"], "?")
        part.content_type = _text(part.headers.get(b"content-type", b""), _printable(part.name))
        if b"filename" not in options:
            self._fields += 1
            if self._fields > limits.max_fields:
                raise _too_many_fields(limits.max_fields)
            return
        part.filename = _text(options[b"filename"], _printable(part.name))
        if limits.max_files == 0 or (limits.file_fields and part.name not in limits.file_fields):
            raise BodyError(
                400,
                "unexpected_file",
                f"the field {_printable(part.name)} takes no file",
                name=part.name,
            )
        if part.filename:
            self._count_file()

    def _count_file(self) -> None:
        if len(self._files) + 1 > self.limits.max_files:
            raise BodyError(
                413,
                "too_many_files",
                f"at most {self.limits.max_files} files may be sent",
                limit=self.limits.max_files,
            )

    def _data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        part.data += data[start:end]
        if part.filename is None:
            if len(part.data) > self.limits.max_field_bytes:
                raise _field_too_large(_printable(part.name), self.limits.max_field_bytes)
        elif len(part.data) > self.limits.file_limit:
            raise BodyError(
                413,
                "file_too_large",
                f"file {len(self._files) + 1} is over {self.limits.file_limit} bytes",
                limit=self.limits.file_limit,
                name=part.name,
            )

    def _end(self) -> None:
        part = self._part
        if part.filename is None:
            self._items.append((part.name, _text(bytes(part.data), _printable(part.name))))
            return
        if not part.filename and not part.data:
            return  # a file input left empty
        if not part.filename:
            self._count_file()
        self._files.append(Upload(part.name, part.filename, part.content_type, bytes(part.data)))


def _text(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _not_utf8(name) from None


async def read_form(
    request: Request, limits: Limits, *, accept: Collection[str] = (MULTIPART, FORM)
) -> Form:
    """A form body: multipart or urlencoded (those in ``accept``), within ``limits``."""
    ctype = media_type(request.headers)
    if ctype not in accept:
        raise unsupported(accept)
    if ctype == FORM:
        return parse_urlencoded(await read_bytes(request, limits.max_bytes), limits)
    reader = MultipartReader.for_content_type(request.headers.get("content-type", ""), limits)
    try:
        async with aclosing(stream(request, limits.max_bytes)) as chunks:
            async for chunk in chunks:
                reader.feed(chunk)
        return reader.finish()
    finally:
        reader.close()


__all__ = [
    "FORM",
    "JSON",
    "MULTIPART",
    "BodyError",
    "Form",
    "Limits",
    "MultipartReader",
    "Upload",
    "field_errors",
    "media_type",
    "nesting_exceeds",
    "parse_body",
    "parse_json",
    "parse_urlencoded",
    "read_bytes",
    "read_form",
    "read_json",
    "stream",
    "validate",
]
