"""Rendered responses held as bytes: each body compressed once (gzip and brotli, from kept
libraries) when it is made, with its headers prebuilt, served per ``Accept-Encoding`` with
conditional GET.

A ``Rendered`` keeps one ``Variant`` per content coding: the body, its strong ETag (hash of the
body, plus the coding), the ASGI headers and the same headers as the bytes of a response head
(for ``xabar.runtime.fastprotocol.FastProtocol``). ``respond`` answers a request with the
variant it accepts, or a 304 when its validators still match (If-None-Match wins over
If-Modified-Since, RFC 9110 13.2.2). Services' page caches (the feed's, the polls' reader
pages) hold these.
"""

import gzip
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from hashlib import blake2b

import brotli  # type: ignore[import-untyped]
from starlette.background import BackgroundTask
from starlette.datastructures import Headers
from starlette.responses import Response
from uvicorn.protocols.http.httptools_impl import HEADER_RE, HEADER_VALUE_RE

NO_CACHE = "public, no-cache"


IDENTITY, GZIP, BR = 0, 1, 2
CODINGS = ("", "gzip", "br")
COMPRESSIBLE = ("text/", "application/")
MIN_COMPRESS = 256  # smaller bodies are sent as they are
GZIP_LEVEL = 6
BROTLI_QUALITY = 6  # ~1 ms for a 50 KB page; 11 would cost ~30 ms per render for 3 % less


@dataclass(slots=True, eq=False)
class Variant:
    """One representation of a page: the body in one content coding, its headers prebuilt (as
    ASGI headers, and as the bytes of the response head after the status line, for the fast
    protocol: ``xabar.runtime.fastprotocol.FastProtocol``)."""

    body: bytes
    etag: str
    headers: list[tuple[bytes, bytes]]
    not_modified_headers: list[tuple[bytes, bytes]]
    head: bytes = b""
    not_modified_head: bytes = b""

    def __post_init__(self) -> None:
        self.head = _header_lines(self.headers)
        self.not_modified_head = _header_lines(self.not_modified_headers)


def _header_lines(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The header lines, or b"" when one would not pass uvicorn's own checks (the page then
    goes out through uvicorn, which refuses it as it would any such header)."""
    if any(HEADER_RE.search(name) or HEADER_VALUE_RE.search(value) for name, value in headers):
        return b""
    return b"".join(name + b": " + value + b"\r\n" for name, value in headers)


@dataclass(slots=True, eq=False, weakref_slot=True)
class Rendered:
    """A response body with what conditional GET and the cache need, and its compressed
    variants (gzip and brotli, made once, when the page is rendered)."""

    body: bytes
    media_type: str
    revision: int
    last_modified: datetime
    expires_at: float | None = None  # epoch seconds; None = until the revision changes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    cache_control: str = NO_CACHE
    etag: str = ""
    lm_seconds: int = 0
    variants: tuple[Variant, ...] = ()
    size: int = 0  # bytes held by every variant
    route: str = "unmatched"  # the route template it was rendered for (metrics' label)
    # a page after a vote: the version of the voted poll's tally it shows (0: none yet);
    # None: the vote is not one this page shows (it was rendered as the page itself)
    vote_tally: int | None = None

    def __post_init__(self) -> None:
        self.etag = blake2b(self.body, digest_size=16).hexdigest()
        self.lm_seconds = int(self.last_modified.timestamp())
        compress = len(self.body) >= MIN_COMPRESS and self.media_type.startswith(COMPRESSIBLE)
        if compress:
            bodies = (
                self.body,
                gzip.compress(self.body, GZIP_LEVEL, mtime=0),
                brotli.compress(self.body, quality=BROTLI_QUALITY),
            )
        else:
            bodies = (self.body,) * 3
        self.variants = tuple(self._variant(b, c, compress) for c, b in enumerate(bodies))
        self.size = sum(len(b) for b in set(bodies)) + 1024
        self.etag = self.variants[IDENTITY].etag

    def _variant(self, body: bytes, coding: int, compressed: bool) -> Variant:
        suffix = f"-{CODINGS[coding]}" if compressed and coding else ""
        etag = f'"{self.etag}{suffix}"'
        validators = [
            (b"etag", etag.encode()),
            (b"last-modified", http_date(self.last_modified).encode()),
            (b"cache-control", self.cache_control.encode()),
        ]
        if compressed:
            validators.append((b"vary", b"Accept-Encoding"))
        extra = [(k.lower().encode(), v.encode("latin-1")) for k, v in self.headers.items()]
        if not any(name == b"x-content-type-options" for name, _ in extra):
            extra.append((b"x-content-type-options", b"nosniff"))
        headers = [
            (b"content-type", self.media_type.encode()),
            (b"content-length", str(len(body)).encode()),
            *validators,
            *extra,
        ]
        if compressed and coding:
            headers.append((b"content-encoding", CODINGS[coding].encode()))
        return Variant(body, etag, headers, validators)

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        return self.variants[IDENTITY].headers

    def fresh(self, revision: int, now: float) -> bool:
        return self.revision >= revision and (self.expires_at is None or now < self.expires_at)


class CachedResponse(Response):
    """A response whose headers were built once, when the page was rendered."""

    def __init__(self, status: int, body: bytes, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status
        self.body = body
        self.raw_headers = raw_headers
        self.background: BackgroundTask | None = None


_CHOICES: dict[str, int] = {}
_MAX_CHOICES = 512  # distinct Accept-Encoding values remembered (browsers send a handful)


def coding_for(accept_encoding: str | None) -> int:
    """The content coding to send for an ``Accept-Encoding`` (RFC 9110 12.5.3): brotli where
    it is accepted at least as much as gzip, else gzip, else the body as it is."""
    if not accept_encoding:
        return IDENTITY
    choice = _CHOICES.get(accept_encoding)
    if choice is None:
        choice = _parse_accept_encoding(accept_encoding)
        if len(_CHOICES) < _MAX_CHOICES:
            _CHOICES[accept_encoding] = choice
    return choice


def _parse_accept_encoding(value: str) -> int:
    weights: dict[str, float] = {}
    for part in value[:1000].lower().split(","):
        name, _, params = part.partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key == "q":
                try:
                    weight = min(1.0, max(0.0, float(number)))
                except ValueError:
                    weight = 0.0
        weights[name.strip()] = weight
    star = weights.get("*", 0.0)
    br = weights.get("br", star)
    gz = max(weights.get("gzip", star), weights.get("x-gzip", 0.0))
    if br > 0 and br >= gz:
        return BR
    return GZIP if gz > 0 else IDENTITY


def _etags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}


def not_modified(page: Rendered, if_none_match: str | None, if_modified_since: str | None) -> bool:
    """The validators still match ``page``. An ETag of any of its variants matches (a cache
    may hold the gzip variant and ask with its tag while accepting brotli now)."""
    if page.status != 200:
        return False
    if if_none_match is not None:
        tags = _etags(if_none_match)
        return "*" in tags or any(v.etag in tags for v in page.variants)
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            return False
        return page.lm_seconds <= int(since.timestamp())
    return False


def respond(page: Rendered, headers: Headers) -> Response:
    """``page`` in the coding the request accepts, or a 304 if its validators still match."""
    variant = page.variants[coding_for(headers.get("accept-encoding"))]
    if not_modified(page, headers.get("if-none-match"), headers.get("if-modified-since")):
        return CachedResponse(304, b"", variant.not_modified_headers)
    return CachedResponse(page.status, variant.body, variant.headers)


def http_date(value: datetime) -> str:
    """An HTTP date (RFC 9110 5.6.7): ``Wed, 02 Dec 2026 05:12:55 GMT``."""
    return format_datetime(value.astimezone(UTC), usegmt=True)
