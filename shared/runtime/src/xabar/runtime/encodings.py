"""Bodies compressed once and served by ``Accept-Encoding``.

A page rendered once per change is compressed once too (``Encoded.of``: gzip and brotli, from
kept libraries), and each request gets the smallest encoding it accepts (``respond``)::

    encoded = cache.get(key, revision) or cache.put(key, revision, Encoded.of(html.encode()))
    return respond(encoded, request.headers, media_type="text/html; charset=utf-8")

``EncodedCache`` keeps a bounded number of them, each with the revision it was made from.
"""

import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import brotli  # type: ignore[import-untyped]  # no stubs; compress(bytes) -> bytes
from starlette.responses import Response

GZIP_LEVEL = 6
BROTLI_QUALITY = 5  # a page changes often (a poll with every vote): fast, still smaller than gzip


@dataclass(frozen=True, slots=True)
class Encoded:
    identity: bytes
    gzip: bytes
    br: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> "Encoded":
        return cls(
            identity=body,
            gzip=gzip.compress(body, GZIP_LEVEL, mtime=0),
            br=brotli.compress(body, quality=BROTLI_QUALITY),
            etag='"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"',
        )


def accepted(header: str) -> set[str]:
    """The content codings an ``Accept-Encoding`` header accepts (q > 0), lower-cased."""
    out: set[str] = set()
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name and q > 0:
            out.add(name.strip().lower())
    return out


def choose(header: str) -> str:
    """``br``, ``gzip`` or ``identity``: the smallest coding ``header`` accepts."""
    codings = accepted(header)
    if "br" in codings:
        return "br"
    if "gzip" in codings or "*" in codings:
        return "gzip"
    return "identity"


def respond(
    encoded: Encoded,
    request_headers: Mapping[str, str],
    *,
    media_type: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The response of ``encoded`` in the coding the request accepts (``Vary`` says so)."""
    coding = choose(request_headers.get("accept-encoding", ""))
    body = {"br": encoded.br, "gzip": encoded.gzip}.get(coding, encoded.identity)
    out = {**(headers or {}), "Vary": "Accept-Encoding", "ETag": encoded.etag}
    if coding != "identity":
        out["Content-Encoding"] = coding
    return Response(body, status, out, media_type=media_type)


class EncodedCache:
    """At most ``size`` encoded bodies, each kept with the revision it was made from (the least
    recently used goes first)."""

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, tuple[Hashable, Encoded]] = OrderedDict()

    def get(self, key: Hashable, revision: Hashable) -> Encoded | None:
        found = self._items.get(key)
        if found is None or found[0] != revision:
            return None
        self._items.move_to_end(key)
        return found[1]

    def put(self, key: Hashable, revision: Hashable, encoded: Encoded) -> Encoded:
        self._items[key] = (revision, encoded)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return encoded


__all__ = ["Encoded", "EncodedCache", "accepted", "choose", "respond"]
