"""Bodies compressed once and served by Accept-Encoding (pure logic)."""

import gzip

import brotli
import pytest

from xabar.runtime.encodings import Encoded, EncodedCache, accepted, choose, respond


@pytest.mark.parametrize(
    ("header", "coding"),
    [
        ("gzip, deflate, br", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip;q=0.5", "gzip"),
        ("BR", "br"),
        ("*", "gzip"),
        ("", "identity"),
        ("identity", "identity"),
        ("gzip;q=0", "identity"),
        ("gzip;q=nonsense", "identity"),
    ],
)
def test_the_smallest_accepted_coding_is_chosen(header: str, coding: str) -> None:
    assert choose(header) == coding


def test_accepted_reads_q_values() -> None:
    assert accepted("gzip;q=1.0, br; q=0.8, compress;q=0") == {"gzip", "br"}


def test_each_coding_gives_back_the_body_and_says_so() -> None:
    body = ("<p>Всего голосов: 1492</p>" * 50).encode()
    encoded = Encoded.of(body)
    assert gzip.decompress(encoded.gzip) == body and brotli.decompress(encoded.br) == body
    assert len(encoded.br) < len(body) and len(encoded.gzip) < len(body)
    assert Encoded.of(body) == encoded  # the same bytes each time (no gzip timestamp)
    for header, coding, data in [
        ("br", "br", encoded.br),
        ("gzip", "gzip", encoded.gzip),
        ("", None, body),
    ]:
        response = respond(encoded, {"accept-encoding": header}, media_type="text/html")
        assert response.body == data
        assert response.headers.get("content-encoding") == coding
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.headers["etag"] == encoded.etag


def test_the_cache_keeps_one_revision_a_key_and_is_bounded() -> None:
    cache = EncodedCache(size=2)
    one, two = Encoded.of(b"1"), Encoded.of(b"2")
    cache.put("a", 1, one)
    assert cache.get("a", 1) is one and cache.get("a", 2) is None
    cache.put("a", 2, two)
    assert cache.get("a", 1) is None and cache.get("a", 2) is two
    cache.put("b", 1, one)
    cache.get("a", 2)  # "a" used last: "b" goes first
    cache.put("c", 1, one)
    assert cache.get("b", 1) is None and cache.get("a", 2) is two and cache.get("c", 1) is one
