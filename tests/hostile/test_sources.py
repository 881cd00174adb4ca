"""Protecting sources end to end, on the four running services: a marker in a tip's contact (name,
e-mail, phone) is followed from ingest through accept, the draft and publishing it unchanged, and
appears on no reader page, feed, sitemap, JSON API or JSON-LD, nor in clear anywhere in Redis
(the ``xabar.submissions`` stream and ingest's intake included) or in any MongoDB database.
Once the article is unpublished, the receipt no longer says "Опубликовано" with a dead link. The
reporter's address hash (ingest's own key, rotated daily, 64 bits) is found in no store of the
polls, and a voter's hash of the same address in none of ingest's."""

import io
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from bson import json_util
from PIL import Image
from pymongo import MongoClient

from tests.hostile.conftest import Hostile
from tests.support.waiting import until

pytestmark = pytest.mark.infra

NAME, EMAIL, PHONE = "Источник-Маркер-Zq7", "zq7marker@example.org", "+7 701 777 0199"
NEEDLES = ("Маркер-Zq7", "zq7marker", "7017770199", "701 777 0199")


def leaks(text: str) -> list[str]:
    digits = re.sub(r"[^0-9]", "", text)
    return [n for n in NEEDLES if n in text] + (["phone"] if "7017770199" in digits else [])


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (30, 90, 160)).save(out, "JPEG")
    return out.getvalue()


def everything_in_redis(url: str) -> Iterator[tuple[str, str]]:
    """(key, text) of every key and every value in Redis: strings, hashes, lists, sets, zsets,
    streams."""
    client = redis.Redis.from_url(url)
    try:
        for raw in client.scan_iter(count=1000):
            key = raw.decode("utf-8", "replace")
            kind = client.type(raw).decode()
            values: list[bytes] = []
            if kind == "string":
                values = [client.get(raw) or b""]
            elif kind == "hash":
                values = [b" ".join(pair) for pair in client.hgetall(raw).items()]
            elif kind == "list":
                values = list(client.lrange(raw, 0, -1))
            elif kind == "set":
                values = list(client.smembers(raw))
            elif kind == "zset":
                values = list(client.zrange(raw, 0, -1))
            elif kind == "stream":
                values = [
                    b" ".join(v for kv in f.items() for v in kv) for _, f in client.xrange(raw)
                ]
            yield key, key + " " + b" ".join(values).decode("utf-8", "replace")
    finally:
        client.close()


def everything_in_mongo(url: str, only: str | None = None) -> Iterator[tuple[str, str]]:
    with MongoClient(url) as client:
        for db in client.list_database_names():
            if only and db != only:
                continue
            for name in client[db].list_collection_names():
                for doc in client[db][name].find():
                    yield f"{db}.{name}", json_util.dumps(doc, ensure_ascii=False)


def public_surfaces(h: Hostile, slug: str, article_url: str) -> Iterator[tuple[str, str]]:
    feed = h.url("feed")
    paths = ["/", "/news", "/kazakhstan", article_url, f"/api/v1/articles/{slug}"]
    paths += ["/api/v1/front", "/api/v1/articles", "/api/v1/sections/kz", "/robots.txt"]
    for prefix in ("", "/kazakhstan"):
        paths += [f"{prefix}/rss.xml", f"{prefix}/atom.xml", f"{prefix}/feed.json"]
    with httpx.Client(base_url=feed, timeout=30, follow_redirects=True) as client:
        index = client.get("/sitemap.xml").text
        sitemaps = [u.replace(feed, "") for u in re.findall(r"<loc>([^<]+)</loc>", index)]
        for path in [*paths, "/sitemap.xml", "/sitemap-news.xml", *sitemaps]:
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.status_code)
            yield path, answer.text
        page = client.get(article_url).text
        ld = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
        assert ld, "the article page has JSON-LD"
        yield "JSON-LD", " ".join(ld)
        # the photos the page shows, as served (bytes: a name in EXIF or a comment would show)
        for src in set(re.findall(r'src="([^"]+/media/[^"]+)"', page)):
            yield src, httpx.get(src, timeout=30).content.decode("latin-1")


def _tip(h: Hostile) -> dict[str, Any]:
    fields = {
        "title": "Во дворе прорвало трубу",
        "text": "Третий день во дворе течёт вода, жители жалуются, никто не приезжает.",
        "country": "KZ",
        "consent": "on",
        "contact_name": NAME,
        "contact_email": EMAIL,
        "contact_phone": PHONE,
    }
    sent = httpx.post(
        f"{h.url('ingest')}/api/v1/submissions",
        data=fields,
        files=[("photos", ("p.jpg", jpeg(), "image/jpeg"))],
        timeout=30,
    )
    assert sent.status_code == 202, sent.text
    receipt: dict[str, Any] = sent.json()
    return receipt


def _status(h: Hostile, code: str) -> str:
    answer = httpx.get(f"{h.url('ingest')}/api/v1/receipt", headers={"X-Receipt-Code": code})
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["status"]
    return status


def test_a_contact_marker_reaches_no_public_surface_and_no_store_in_clear(h: Hostile) -> None:
    receipt = _tip(h)
    sid, code = receipt["submission_id"], receipt["receipt_code"]
    pub = httpx.Client(base_url=h.url("publisher"), headers=h.auth, timeout=30)
    with pub:
        until(
            "the tip in the inbox",
            lambda: pub.get(f"/api/v1/inbox/{sid}").status_code == 200 or None,
        )
        # the editor sees the contact (opened for them), and nothing of it goes into the draft
        assert NAME in pub.get(f"/api/v1/inbox/{sid}").text
        accepted = pub.post(f"/api/v1/inbox/{sid}/accept")
        assert accepted.status_code == 201, accepted.text
        draft = accepted.json()["article"]
        assert not leaks(json.dumps(draft, ensure_ascii=False)), draft
        published = pub.post(
            f"/api/v1/articles/{draft['article_id']}/publish",
            headers={"If-Match": accepted.headers["ETag"]},
        )
        assert published.status_code == 200, published.text
        article = published.json()
        slug, url = article["slug"], article["url"].replace(h.url("feed"), "")
        feed = h.url("feed")
        until(
            "the article on the site", lambda: httpx.get(f"{feed}{url}").status_code == 200 or None
        )
        until("the receipt says published", lambda: _status(h, code) == "published" or None)
        found = {where: leaks(text) for where, text in public_surfaces(h, slug, url)}
        assert not {w: f for w, f in found.items() if f}, found
        stored = [*everything_in_redis(h.stack.redis.url), *everything_in_mongo(h.stack.mongo.url)]
        assert len(stored) > 10
        in_clear = {where: leaks(text) for where, text in stored if leaks(text)}
        assert not in_clear, f"the contact in clear: {in_clear}"

        # taken back: the receipt is "accepted" again, and the page shows no dead link
        version = pub.get(f"/api/v1/articles/{draft['article_id']}").headers["ETag"]
        taken = pub.post(
            f"/api/v1/articles/{draft['article_id']}/unpublish", headers={"If-Match": version}
        )
        assert taken.status_code == 200, taken.text
    until("the receipt after unpublishing", lambda: _status(h, code) != "published" or None)
    ingest = h.url("ingest")
    with httpx.Client(base_url=ingest, headers={"Origin": ingest}, timeout=30) as reader:
        token = re.search(r'name="form_token" value="([^"]+)"', reader.get("/report/status").text)
        form = {"code": code} | ({"form_token": token.group(1)} if token else {})
        page = reader.post("/report/status", data=form)
    assert page.status_code == 200, page.text
    assert "Опубликовано" not in page.text and slug not in page.text
    assert "Принято" in page.text


def test_the_address_hashes_of_ingest_and_polls_cannot_be_joined(h: Hostile) -> None:
    _tip(h)  # from 127.0.0.1, as the vote below
    polls = h.url("polls")
    made = httpx.post(
        f"{polls}/api/v1/polls",
        json={"question": "Вопрос о хешах?", "options": ["Да", "Нет"]},
        headers=h.auth,
    )
    assert made.status_code == 201, made.text
    poll = made.json()
    vote = {"options": [poll["options"][0]["option_id"]]}
    assert httpx.post(f"{polls}/api/v1/polls/{poll['poll_id']}/votes", json=vote).status_code == 201
    ingest_docs = [t for _, t in everything_in_mongo(h.stack.mongo.url, "xabar_ingest")]
    tip_hashes = {m for t in ingest_docs for m in re.findall(r'"client_hash": "([0-9a-f]+)"', t)}
    assert tip_hashes, "the tips keep their address hash"
    redis_all = list(everything_in_redis(h.stack.redis.url))

    def voted() -> set[str] | None:
        with MongoClient(h.stack.mongo.url) as client:
            votes = client["xabar_polls"]["votes"].find({"poll_id": poll["poll_id"]})
            found = {str(v["address_hash"]) for v in votes if v.get("address_hash")}
        return found or None

    vote_hashes = until("the vote in the polls' log with its address hash", voted)
    polls_side = " ".join(
        [t for _, t in everything_in_mongo(h.stack.mongo.url, "xabar_polls")]
        + [t for k, t in redis_all if k.startswith("P:")]
    )
    for tip_hash in tip_hashes:  # 64 bits; no prefix of it is a voter's, nor anywhere in polls
        assert len(tip_hash) == 16
        assert tip_hash not in polls_side
        assert all(not v.startswith(tip_hash) and tip_hash[:12] not in v for v in vote_hashes)
    ingest_side = " ".join(ingest_docs)
    for vote_hash in vote_hashes:
        assert vote_hash[:16] not in ingest_side


@pytest.fixture
def h(hostile: Hostile) -> Hostile:
    return hostile
