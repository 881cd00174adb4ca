"""Pure logic of the feed: pager, Russian dates, sanitizing, JSON in <script>, conditional GET,
comments as text, the pages after a vote."""

import asyncio
import gzip
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import brotli  # type: ignore[import-untyped]
import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError
from pydantic_core import to_json

from tests.feed.factory import article_state, image, published
from xabar.contracts import Correction
from xabar.feed.cache import PageCache
from xabar.feed.comments import comment_html
from xabar.feed.config import FeedSettings
from xabar.feed.dates import Dates, rfc822, rfc3339
from xabar.feed.documents import ArticleDoc, article_doc, article_fields, unpack_article
from xabar.feed.fastpath import FastPath
from xabar.feed.pages import json_for_script
from xabar.feed.projector import script_args
from xabar.feed.sanitize import absolute_urls, clean_html, clean_text, excerpt_html, safe_url
from xabar.feed.views import HrefOf, last_page, pager
from xabar.feed.votes import Vote, split_vote
from xabar.runtime.fastprotocol import Hits
from xabar.runtime.rendered import BR, GZIP, IDENTITY, Rendered, coding_for, not_modified

ALMATY = Dates(ZoneInfo("Asia/Almaty"))
NOW = datetime(2026, 2, 17, 5, 0, tzinfo=UTC)  # 10:00 in Almaty (UTC+5)


def _pager_text(current: int, last: int) -> str:
    return " ".join(
        "…" if p.kind == "gap" else (f"[{p.number}]" if p.kind == "current" else str(p.number))
        for p in pager(current, last, HrefOf("/news"))
    )


def test_the_pager_shows_first_last_and_a_window_around_the_current_page() -> None:
    assert _pager_text(750, 1039) == "1 … 746 747 748 749 [750] 751 752 753 754 … 1039"
    assert _pager_text(1, 1039) == "[1] 2 3 4 5 … 1039"
    assert _pager_text(1039, 1039) == "1 … 1035 1036 1037 1038 [1039]"
    assert _pager_text(3, 6) == "1 2 [3] 4 5 6"
    assert _pager_text(1, 1) == ""


def test_pager_links_send_page_one_to_the_bare_list() -> None:
    items = pager(2, 3, HrefOf("/news"))
    assert [i.href for i in items] == ["/news", "/news?page=2", "/news?page=3"]


def test_an_empty_list_still_has_page_one_and_pages_round_up() -> None:
    assert last_page(0, 6) == 1
    assert last_page(6, 6) == 1
    assert last_page(6234, 6) == 1039
    assert last_page(6235, 6) == 1040


def test_the_date_header_is_russian_from_babel() -> None:
    assert ALMATY.header(NOW) == "вторник, 17 февраля 2026"


def test_stamps_say_today_and_yesterday_in_the_sites_time_zone() -> None:
    assert ALMATY.stamp(datetime(2026, 2, 17, 2, 58, tzinfo=UTC), NOW) == "Сегодня\xa007:58"
    assert ALMATY.stamp(datetime(2026, 2, 16, 13, 20, tzinfo=UTC), NOW) == "Вчера\xa018:20"
    # 18:59 UTC on the 16th is already the 17th in Almaty
    assert ALMATY.stamp(datetime(2026, 2, 16, 19, 1, tzinfo=UTC), NOW) == "Сегодня\xa000:01"
    older = datetime(2013, 9, 24, 10, 37, tzinfo=UTC)  # Almaty was UTC+6 in 2013
    assert ALMATY.stamp(older, NOW) == "24\xa0сентября\xa02013\xa016:37"


def test_the_time_zone_setting_moves_the_day_boundary() -> None:
    utc = Dates(ZoneInfo("UTC"))
    at = datetime(2026, 2, 16, 19, 1, tzinfo=UTC)
    assert utc.stamp(at, NOW) == "Вчера\xa019:01"
    assert utc.day_end(NOW) == datetime(2026, 2, 18, tzinfo=UTC).timestamp()
    assert ALMATY.day_end(NOW) == datetime(2026, 2, 17, 19, 0, tzinfo=UTC).timestamp()


def test_machine_dates_are_rfc822_and_rfc3339() -> None:
    assert rfc822(NOW) == "Tue, 17 Feb 2026 05:00:00 GMT"
    assert rfc3339(NOW) == "2026-02-17T05:00:00Z"


def test_clean_text_drops_what_xml_cannot_carry_and_keeps_the_rest() -> None:
    assert clean_text("a\x00b\x08c\x0bd\x1fe\ud800f\tg\nh") == "abcdef\tg\nh"
    assert clean_text("<script>") == "<script>"  # escaping is the templates' job


def test_body_html_keeps_article_markup_and_loses_everything_active() -> None:
    dirty = (
        '<p onclick="x()">Текст <a href="javascript:alert(1)">ссылка</a> '
        '<a href="https://example.org/a">источник</a></p><script>alert(1)</script>'
        '<img src="x" onerror="alert(1)"><iframe src="https://evil"></iframe><h2>Заголовок</h2>'
        "<style>body{}</style>"
    )
    clean = clean_html(dirty)
    assert "<script" not in clean and "onerror" not in clean and "onclick" not in clean
    assert "javascript:" not in clean and "<iframe" not in clean and "<style" not in clean
    assert '<a href="https://example.org/a" rel="noopener noreferrer nofollow">' in clean
    assert "<h2>Заголовок</h2>" in clean


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://example.org/a.jpg", True),
        ("http://127.0.0.1:8082/media/m-1", True),
        ("/media/m-1", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("data:image/svg+xml;base64,xxx", False),
        ("vbscript:x", False),
        ("//evil.example/x", False),
        ("https://a b", False),
        ("", False),
        (None, False),
    ],
)
def test_only_http_and_site_relative_urls_are_kept(url: str | None, kept: bool) -> None:
    assert (safe_url(url) is not None) is kept


def test_the_excerpt_ends_after_whole_paragraphs_never_on_a_heading() -> None:
    body = "<h2>А</h2><p>1</p><p>2</p><h2>Б</h2><p>3</p><p>4</p>"
    assert excerpt_html(body, 3) == ("<h2>А</h2><p>1</p><p>2</p><h2>Б</h2><p>3</p>", True)
    assert excerpt_html("<p>1</p><p>2</p>", 3) == ("<p>1</p><p>2</p>", False)
    assert excerpt_html("<p>1 <b>x</b></p><ul><li>a</li></ul><p>2</p>", 2) == (
        "<p>1 <b>x</b></p><ul><li>a</li></ul>",
        True,
    )


def test_json_for_script_cannot_close_the_script_element() -> None:
    data = {"headline": "</script><script>alert(1)</script> & \u2028"}
    text = str(json_for_script(data))
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == data


def _page(body: bytes = b"x") -> Rendered:
    return Rendered(
        body=body,
        media_type="text/plain",
        revision=1,
        last_modified=datetime(2026, 2, 17, 5, 0, 30, tzinfo=UTC),
    )


def test_if_none_match_wins_over_if_modified_since() -> None:
    page = _page()
    later = "Tue, 17 Feb 2026 06:00:00 GMT"
    assert not_modified(page, page.etag, None)
    assert not_modified(page, f'"other", W/{page.etag}', None)
    assert not_modified(page, "*", None)
    assert not not_modified(page, '"other"', later)  # a mismatching ETag is not overruled
    assert not_modified(page, None, later)
    assert not_modified(page, None, "Tue, 17 Feb 2026 05:00:30 GMT")
    assert not not_modified(page, None, "Tue, 17 Feb 2026 05:00:29 GMT")
    assert not not_modified(page, None, "not a date")


def test_a_cached_page_is_stale_once_the_revision_moves_or_its_day_ends() -> None:
    clock = [1000.0]
    cache = PageCache(clock=lambda: clock[0])
    page = _page()
    page.expires_at = 2000.0
    cache.put("k", page)
    assert cache.get("k") is page
    clock[0] = 2000.0
    assert cache.get("k") is None
    clock[0] = 1000.0
    cache.observe(2)
    assert cache.get("k") is None


def test_the_page_cache_keeps_at_most_its_size() -> None:
    cache = PageCache(max_entries=16)
    for n in range(40):
        cache.put(n, _page(str(n).encode()))
    assert len(cache) == 16
    assert cache.get(39) is not None and cache.get(0) is None


def test_settings_refuse_an_unknown_time_zone_and_trim_base_urls() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        FeedSettings(timezone="Mars/Olympus")
    settings = FeedSettings(site_url="https://xabar.example/")
    assert settings.site_url == "https://xabar.example"
    assert settings.page_size == 6 and settings.feed_items == 20 and settings.port == 8080
    assert settings.timezone == "Asia/Almaty"


def test_the_projector_stores_exactly_the_json_of_the_article_document() -> None:
    """The projector serializes ``article_fields`` without building an ``ArticleDoc``: the
    bytes it stores are the model's own JSON, and they read back as the same document."""
    states = [
        article_state(1),
        article_state(
            2,
            countries=("KZ", "XX", "TJ", "KZ"),
            featured=True,
            featured_countries=("TJ",),
            tags=(" экономика ", "", "газ\x00"),
            image=image(credit="Фото: пресс-служба", alt="Душанбе", width=640, height=480),
            source="ТАСС",
            source_url="javascript:alert(1)",
            corrections=(
                Correction(note="Исправлена дата", corrected_at=datetime(2026, 1, 2, tzinfo=UTC)),
            ),
            body_html='<p onclick="x()">Текст <script>alert(1)</script><a href="/x">ссылка</a></p>',
            comment_count=7,
        ),
        article_state(3, image=image(url="data:text/html,x")),
    ]
    for state in states:
        doc = article_doc(state, 4)
        stored = to_json(article_fields(state, 4))
        assert stored == doc.model_dump_json().encode()
        assert ArticleDoc.model_validate_json(stored) == doc
        args = script_args(published(state, 4))
        assert args is not None and unpack_article(args[1]) == stored


def test_feed_content_keeps_only_urls_a_reader_can_follow() -> None:
    """Issue 12: no protocol-relative or path-relative URL, no img without src, no dead link."""
    clean = clean_html(
        '<p><a href="//evil.example/x">один</a> <a href="javascript:alert(1)">два</a> '
        '<a href="relative/page">три</a> <a href="/news/x">четыре</a> '
        '<a href="mailto:news@example.org">пять</a></p>'
        '<img alt="без адреса"><img src="//evil.example/p.jpg" alt="x"><img src="/media/m-1">'
        '<blockquote cite="//evil.example">цитата</blockquote>'
    )
    assert "evil.example" not in clean and "relative/page" not in clean
    assert "<p>один два три " in clean  # the links whose href went are their text now
    assert '<a href="/news/x" rel="noopener noreferrer nofollow">четыре</a>' in clean
    assert '<a href="mailto:news@example.org"' in clean
    assert clean.count("<img") == 1 and '<img src="/media/m-1" alt="">' in clean
    assert "<blockquote>цитата</blockquote>" in clean
    feed = absolute_urls(clean, "https://xabar.example")
    assert 'href="https://xabar.example/news/x"' in feed
    assert 'src="https://xabar.example/media/m-1"' in feed


def test_urls_are_percent_encoded_where_they_cannot_hold_a_character() -> None:
    assert (
        safe_url("https://img.example/a.jpg?a=1&b=<x>") == "https://img.example/a.jpg?a=1&b=%3Cx%3E"
    )
    assert safe_url("/tags/тема") == "/tags/%D1%82%D0%B5%D0%BC%D0%B0"
    assert safe_url("https://x.example/a%20b") == "https://x.example/a%20b"


def test_body_headings_never_skip_a_level() -> None:
    assert clean_html("<h4>а</h4><p>б</p><h4>в</h4><h2>г</h2><h4>д</h4>") == (
        "<h2>а</h2><p>б</p><h3>в</h3><h2>г</h2><h3>д</h3>"
    )


def test_rfc3339_gives_at_most_milliseconds() -> None:
    """HTML's datetime takes at most three fraction digits (the publisher's stamps had six)."""
    assert rfc3339(datetime(2026, 2, 17, 7, 58, 15, 199_000, tzinfo=UTC)) == (
        "2026-02-17T07:58:15.199Z"
    )
    assert rfc3339(datetime(2026, 2, 17, 7, 58, 15, 123_456, tzinfo=UTC)) == (
        "2026-02-17T07:58:15.123Z"
    )


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        (None, IDENTITY),
        ("", IDENTITY),
        ("gzip, deflate, br", BR),
        ("gzip", GZIP),
        ("br;q=0, gzip", GZIP),
        ("gzip;q=1.0, br;q=0.5", GZIP),
        ("*", BR),
        ("identity", IDENTITY),
        ("br;q=x", IDENTITY),
        ("x-gzip", GZIP),
    ],
)
def test_the_coding_follows_accept_encoding(accept: str | None, coding: int) -> None:
    assert coding_for(accept) == coding


def test_a_page_is_compressed_once_and_each_variant_has_its_own_etag() -> None:
    body = ("<p>Новости Центральной Азии</p>" * 200).encode()
    page = Rendered(body=body, media_type="text/html; charset=utf-8", revision=1, last_modified=NOW)
    identity, gz, br = page.variants
    assert gzip.decompress(gz.body) == body and brotli.decompress(br.body) == body
    assert len(br.body) < len(gz.body) < len(body) // 10
    assert len({identity.etag, gz.etag, br.etag}) == 3
    assert (b"content-encoding", b"br") in br.headers
    assert (b"vary", b"Accept-Encoding") in identity.headers
    assert not_modified(page, gz.etag, None) and not_modified(page, br.etag, None)
    tiny = Rendered(body=b"ok", media_type="text/plain", revision=1, last_modified=NOW)
    assert tiny.variants[BR].body == b"ok" and (b"vary", b"Accept-Encoding") not in tiny.raw_headers


def test_the_page_cache_is_bounded_by_bytes_too() -> None:
    cache = PageCache(100, max_bytes=50_000)
    for n in range(10):
        page = Rendered(
            body=bytes(range(256)) * 40, media_type="image/png", revision=1, last_modified=NOW
        )
        cache.put(f"/p{n}", page)
    assert cache.bytes <= 50_000 and len(cache) == 4
    assert cache.get("/p9") is not None and cache.get("/p0") is None


def test_the_apply_script_gets_an_articles_tags_and_updated_at_in_its_header() -> None:
    """APPLY never looks inside the (compressed) document: the header carries the tags (joined
    by RS) and updated_at as the document says it, however the tags and title read."""
    state = article_state(tags=('тег "с кавычками"', '],"image":'), title='"tags":["x"]')
    header, doc = script_args(published(state))  # type: ignore[misc]
    fields = str(header).split("\x1f")
    assert fields[9].split("\x1e") == list(state.tags)
    raw = json.loads(unpack_article(doc))
    assert fields[10] == raw["updated_at"]
    assert len(doc) < len(to_json(raw))  # stored compressed


async def test_the_fast_path_answers_any_cached_url_without_routing() -> None:
    """An article, a deep page, a tag page: once rendered under its URL, the next request is
    answered before routing, in the coding asked for; a miss goes down to the app."""
    cache = PageCache()
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    body = ("<p>Статья</p>" * 100).encode()
    for key in ("/news/novost-1", "/news?page=1039", "/tags/%D0%B3%D0%B0%D0%B7"):
        cache.put(key, Rendered(body=body, media_type="text/html", revision=0, last_modified=NOW))
    fast = FastPath(app, cache)
    for path, query in (
        ("/news/novost-1", b""),
        ("/news", b"page=1039"),
        ("/tags/%D0%B3%D0%B0%D0%B7", b""),
    ):
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)  # noqa: B023 - consumed within the iteration

        scope = {
            "type": "http",
            "method": "GET",
            "path": path,
            "query_string": query,
            "headers": [(b"accept-encoding", b"gzip, br")],
        }
        await fast(scope, None, send)
        assert sent[0]["status"] == 200 and (b"content-encoding", b"br") in sent[0]["headers"]
        assert brotli.decompress(sent[1]["body"]) == body
    assert reached == []
    await fast({**scope, "path": "/news/other", "query_string": b""}, None, send)
    assert reached == ["/news/other"]


def test_a_comment_is_escaped_text_with_its_urls_linked_for_user_content() -> None:
    html = comment_html(
        "Смотрите https://example.org/a?b=1&c=<x>. И (https://ru.wikipedia.org/wiki/Ош_(город)),"
        " https://x.example/path!\nстрока\n\n<script>alert(1)</script> javascript:alert(1)"
        " http://  https://",
        edited=False,
    )
    assert html == (
        '<p>Смотрите <a href="https://example.org/a?b=1&amp;c=" rel="nofollow ugc noopener">'
        "https://example.org/a?b=1&amp;c=</a>&lt;x&gt;. И (<a href="
        '"https://ru.wikipedia.org/wiki/%D0%9E%D1%88_(%D0%B3%D0%BE%D1%80%D0%BE%D0%B4)" '
        'rel="nofollow ugc noopener">https://ru.wikipedia.org/wiki/Ош_(город)</a>), '
        '<a href="https://x.example/path" rel="nofollow ugc noopener">https://x.example/path</a>!'
        "<br>строка</p><p>&lt;script&gt;alert(1)&lt;/script&gt; javascript:alert(1) http://  "
        "https://</p>"
    )
    assert comment_html("Слово [отредактировано] тут", edited=False) == (
        "<p>Слово [отредактировано] тут</p>"  # a reader's own brackets are no moderator's mark
    )
    assert comment_html("Слово [отредактировано] тут", edited=True) == (
        '<p>Слово <span class="edited">[отредактировано]</span> тут</p>'
    )
    assert comment_html("Без отметки", edited=True) == (
        '<p>Без отметки</p><p><span class="edited">[отредактировано]</span></p>'
    )


def test_the_query_of_a_page_after_a_vote_names_a_variant_per_page_poll_and_choice() -> None:
    found = split_vote("/news", "page=2&voted=poll-1.o3-o1&tally=1493")
    assert found == (("/news?page=2", "poll-1", ("o1", "o3")), Vote("poll-1", ("o1", "o3"), 1493))
    assert (
        split_vote("/", "voted=poll-1.o1&tally=7")[0]
        == split_vote(  # type: ignore[index]
            "/", "tally=9&voted=poll-1.o1"
        )[0]
    )  # one variant whatever tally the reader brings
    for query in (
        "",
        "page=2",
        "voted=poll-1.o1",
        "voted=poll-1.o1&tally=",
        "voted=poll-1.x1&tally=3",
        "voted=poll-1.o1-o1&tally=3",
        "voted=poll.1.o1&tally=3",
        "voted=%3Cb%3E.o1&tally=3",
        "voted=poll-1.o1&tally=-3",
        "voted=poll-1.o1&tally=1234567890123456",
    ):
        assert split_vote("/", query) is None, query


def test_revision_waiters_wake_when_it_moves_and_not_before() -> None:
    async def scenario() -> None:
        cache = PageCache()
        cache.observe(5)
        assert await cache.moved_past(4, 10)  # already past: no wait
        started = asyncio.get_running_loop().time()
        assert not await cache.moved_past(5, 0.05)
        assert asyncio.get_running_loop().time() - started >= 0.05
        waiter = asyncio.create_task(cache.moved_past(5, 10))
        await asyncio.sleep(0)
        cache.observe(5)  # not a move
        await asyncio.sleep(0.01)
        assert not waiter.done()
        cache.observe(6)
        assert await asyncio.wait_for(waiter, 1)

    asyncio.run(scenario())


async def test_the_fast_path_answers_a_page_after_a_vote_once_it_shows_that_tally() -> None:
    cache = PageCache()
    reached: list[bytes] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["query_string"])

    body = ("<p>Ваш голос учтён</p>" * 50).encode()
    page = Rendered(body=body, media_type="text/html", revision=0, last_modified=NOW)
    page.vote_tally = 20
    key, _ = split_vote("/", "voted=poll-1.o2&tally=20")  # type: ignore[misc]
    cache.put_variant(key, page)
    fast = FastPath(app, cache)
    for query, answered in (
        (b"voted=poll-1.o2&tally=19", True),
        (b"voted=poll-1.o2&tally=21", False),
    ):
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)  # noqa: B023 - consumed within the iteration

        scope = {"type": "http", "method": "GET", "path": "/", "query_string": query, "headers": []}
        await fast(scope, None, send)
        assert bool(sent) is answered, query
        if answered:
            assert sent[0]["status"] == 200 and sent[1]["body"] == body
    assert reached == [b"voted=poll-1.o2&tally=21"]  # a newer vote: the endpoint waits for it
    assert cache.variant_count == 1 and cache.get("/") is None  # a variant, not the page


async def test_batched_hits_reach_the_metrics_as_one_observation_each_would() -> None:
    """The protocol's request counts and latencies, added up and passed on at the flush, give
    the counter and every histogram bucket what one observation per request gives."""
    latencies = [0.0002, 0.0009, 0.001, 0.003, 0.03, 0.7, 4.0, 0.0004]
    one_by_one, batched = Hits(), Hits(batched=True)
    for seconds in latencies:
        one_by_one.count("GET", "/units/hits/single", 200, seconds)
        batched.count("GET", "/units/hits/batched", 200, seconds)
    batched.count("HEAD", "/units/hits/batched", 304, 0.0001)

    def sample(name: str, route: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"method": "GET", "route": route, **labels})

    assert sample("xabar_http_request_seconds_count", "/units/hits/batched") is None
    batched.flush()
    for name, labels in [
        ("xabar_http_requests_total", {"status": "200"}),
        ("xabar_http_request_seconds_count", {}),
        ("xabar_http_request_seconds_sum", {}),
        *[
            ("xabar_http_request_seconds_bucket", {"le": le})
            for le in ("0.001", "0.0025", "0.005", "0.05", "1.0", "2.5", "+Inf")
        ],
    ]:
        expected = sample(name, "/units/hits/single", **labels)
        assert expected is not None
        assert sample(name, "/units/hits/batched", **labels) == pytest.approx(expected), name
    head = {"method": "HEAD", "route": "/units/hits/batched", "status": "304"}
    assert REGISTRY.get_sample_value("xabar_http_requests_total", head) == 1
    assert sample("xabar_http_request_seconds_count", "/units/hits/batched") == len(latencies)
