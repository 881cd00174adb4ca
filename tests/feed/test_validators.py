"""Every page type of the readers' site, with the demo content plus the XSS corpus, held to the
real validators: the Nu Html Checker (0 errors), axe-core in chromium (0 serious or critical
violations), the sitemaps.org schema (with lastmod), the JSON Feed spec's required fields, and
Google's NewsArticle guidelines for the JSON-LD. The same browser run takes screenshots of every
page type, at desktop and at phone width, into test-artifacts/."""

import asyncio
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.async_api import async_playwright

from tests.conftest import _db_numbers
from tests.feed import demo
from tests.feed.factory import (
    article_state,
    comment,
    comment_published,
    image,
    published,
    unpublished,
)
from tests.feed.test_xss import PAYLOADS, _hostile_article, hostile_comments
from tests.feed.validators import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    ROOT,
    axe_violations,
    nu_check,
    xsd_check,
)
from tests.support.infra import Infra
from tests.support.procs import ServiceProcess, service_process
from tests.support.waiting import eventually
from xabar.runtime.bus import EventBus

ARTIFACTS = ROOT / "test-artifacts"
GONE_SLUG = "snyato-s-publikacii"
PHOTO = "http://127.0.0.1:8082/media/m-demo"
VARIANTS = [
    {"url": f"{PHOTO}/{w}.{ext}", "width": w, "height": w * 2 // 3, "media_type": f"image/{mime}"}
    for w in (480, 800)
    for ext, mime in (("avif", "avif"), ("webp", "webp"), ("jpg", "jpeg"))
]
# page type -> (path, status)
PAGES: dict[str, tuple[str, int]] = {
    "front": ("/", 200),
    "news": ("/news", 200),
    "news-page-2": ("/news?page=2", 200),
    "section": ("/tajikistan", 200),
    "section-hostile": ("/kazakhstan", 200),
    "article": (f"/news/{demo.SLUG}", 200),
    "article-no-photo": ("/news/archive-2013-0", 200),
    "article-hostile": ("/news/novost-902", 200),
    "article-comments-2": (f"/news/{demo.SLUG}?comments=2", 200),
    "article-closed": ("/news/archive-2013-1", 200),
    "front-after-vote": (f"/?voted={demo.POLL_ID}.o2&tally=1", 200),
    "tag": ("/tags/" + quote("дипломатия"), 200),
    "tag-hostile": ("/tags/" + quote("тег 3"), 200),
    "about": ("/tajikistan/about", 200),
    "polls": ("/polls", 200),
    "poll": (f"/polls/{demo.POLL_ID}", 200),
    "not-found": ("/net-takoj-stranicy", 404),
    "gone": (f"/news/{GONE_SLUG}", 410),
}
SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="module")
async def site(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The feed as a real process with the reference page's content, the countries' profiles,
    the XSS corpus and an unpublished article; yields its base URL."""
    redis_url = f"{infra.redis_base}/{next(_db_numbers) % infra.databases}"
    env = {
        "XABAR_FEED_REDIS_URL": redis_url,
        "XABAR_FEED_CONSUMER_NAME": "feed-validators",
        "XABAR_FEED_LOG_JSON": "false",
        "XABAR_FEED_WORKERS": "1",
    }
    proc: ServiceProcess = service_process(
        "xabar.feed", env, tmp_path_factory.mktemp("validators"), "XABAR_FEED_PORT"
    )
    proc.env["XABAR_FEED_SITE_URL"] = proc.url
    bus = EventBus(redis_url, consumer_name="validators-publisher")
    await bus.start()
    try:
        await asyncio.to_thread(proc.start, 90)  # a generous bound on a loaded box
        gone = article_state(slug=GONE_SLUG, title="Снятая с публикации новость")
        photo = demo.featured_state().model_copy(
            update={
                "image": image(
                    PHOTO,
                    credit=demo.CREDIT,
                    alt="Переговоры",
                    width=1600,
                    height=1067,
                    variants=VARIANTS,
                )
            }
        )
        events = [published(s) for s in demo.filler(40)]
        events += demo.events()
        events += [published(photo, 5), published(gone), unpublished(gone, 2)]
        hostile = [_hostile_article(n, p) for n, p in enumerate(PAYLOADS)]
        events += [published(a) for a in hostile]
        events += [published(demo.older_states()[1].model_copy(update={"comments_open": False}), 2)]
        events += [comment_published(c) for c in demo.comments()]
        events += [
            comment_published(c)
            for n, p in enumerate(PAYLOADS)
            for c in hostile_comments(hostile[n], n, p)
        ]
        events += [
            comment_published(comment(demo.older_states()[1], "closed-1", "Успел до закрытия"))
        ]
        for event in events:
            await bus.publish(event)
        async with httpx.AsyncClient(base_url=proc.url) as client:

            async def loaded() -> bool:
                about = await client.get("/tajikistan/about")
                last = await client.get(f"/news/novost-{900 + len(PAYLOADS) - 1}")
                talk = await client.get(f"/news/{demo.SLUG}?comments=2")
                closed = await client.get("/news/archive-2013-1")
                return (
                    about.status_code == 200
                    and "Комментарии [3]" in last.text
                    and talk.status_code == 200
                    and "Комментарии [1]" in closed.text
                )

            await eventually(loaded, timeout=60, what="the content in the feed")
        yield proc.url
    finally:
        await bus.stop()
        await asyncio.to_thread(proc.terminate)


async def _fetch(site: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=site, timeout=30) as client:
        return await client.get(path)


async def test_the_nu_html_checker_finds_no_error_on_any_page_type(
    site: str, tmp_path: Path
) -> None:
    files = []
    for name, (path, status) in PAGES.items():
        response = await _fetch(site, path)
        assert response.status_code == status, name
        file = tmp_path / f"{name}.html"
        file.write_bytes(response.content)
        files.append(file)
    messages = await asyncio.to_thread(nu_check, files)
    errors = [m for m in messages if m.kind == "error"]
    if os.environ.get("XABAR_VALIDATOR_STATS"):
        print(f"nu: {len(errors)} errors on {len(files)} pages", file=sys.stderr)
        for m in messages:
            print(f"  {m}", file=sys.stderr)
    assert not errors, "\n".join(map(str, errors))


async def test_axe_finds_nothing_serious_and_every_page_type_is_photographed(site: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    found: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            for width, height, suffix in ((1280, 900, ""), (390, 844, "-phone")):
                context = await browser.new_context(
                    viewport={"width": width, "height": height}, bypass_csp=True
                )
                page = await context.new_page()
                for name, (path, status) in PAGES.items():
                    response = await page.goto(site + path, wait_until="load")
                    assert response is not None and response.status == status, name
                    shot = ARTIFACTS / f"reader-{name}{suffix}.png"
                    await page.screenshot(path=str(shot), full_page=True)
                    assert shot.stat().st_size > 10_000, shot
                    for v in await axe_violations(page):
                        if v["impact"] in SERIOUS:
                            targets = [n["target"] for n in v["nodes"]][:3]
                            found.append(f"{name}{suffix}: {v['id']} ({v['impact']}) {targets}")
                await context.close()
        finally:
            await browser.close()
    if os.environ.get("XABAR_VALIDATOR_STATS"):
        print(f"axe: {len(found)} serious or critical", file=sys.stderr)
    assert not found, "\n".join(found)


async def test_sitemaps_follow_the_sitemaps_org_schema_with_lastmod(
    site: str, tmp_path: Path
) -> None:
    files: dict[str, Path] = {}
    for path in (
        "/sitemap.xml",
        "/sitemap-pages.xml",
        "/sitemap-news.xml",
        "/sitemaps/articles-1.xml",
    ):
        response = await _fetch(site, path)
        assert response.status_code == 200, path
        files[path] = tmp_path / (path.strip("/").replace("/", "-"))
        files[path].write_bytes(response.content)
    problems = await asyncio.to_thread(xsd_check, ["siteindex.xsd"], [files["/sitemap.xml"]])
    urlsets = [files["/sitemap-pages.xml"], files["/sitemaps/articles-1.xml"]]
    problems += await asyncio.to_thread(xsd_check, ["sitemap.xsd"], urlsets)
    problems += await asyncio.to_thread(
        xsd_check, ["sitemap.xsd", "news.xsd"], [files["/sitemap-news.xml"]]
    )
    assert not problems, "\n".join(problems)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    for path in ("/sitemap.xml", "/sitemap-pages.xml", "/sitemaps/articles-1.xml"):
        root = ET.fromstring(files[path].read_bytes())
        entries = root.findall("s:url", ns) or root.findall("s:sitemap", ns)
        assert entries, path
        for entry in entries:
            assert entry.find("s:lastmod", ns) is not None, (path, entry.find("s:loc", ns))
    articles = ET.fromstring(files["/sitemaps/articles-1.xml"].read_bytes())
    lastmods = {
        u.findtext("s:loc", namespaces=ns): u.findtext("s:lastmod", namespaces=ns)
        for u in articles.findall("s:url", ns)
    }
    assert lastmods[f"{site}/news/{demo.SLUG}"] == demo.featured_state().updated_at.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


JSON_FEED_TOP = {"version", "title", "items"}


async def test_json_feeds_carry_what_the_json_feed_spec_requires(site: str) -> None:
    for path in ("/feed.json", "/kazakhstan/feed.json", "/feed.json?page=2"):
        response = await _fetch(site, path)
        assert response.status_code == 200, path
        feed = response.json()
        assert feed.keys() >= JSON_FEED_TOP, path
        assert feed["version"] == "https://jsonfeed.org/version/1.1"
        assert isinstance(feed["title"], str) and feed["title"]
        assert feed["feed_url"].startswith(site) and feed["home_page_url"].startswith(site)
        assert all(isinstance(a.get("name"), str) for a in feed.get("authors", []))
        assert feed["items"], path
        for item in feed["items"]:
            assert isinstance(item["id"], str) and item["id"], item
            assert isinstance(item.get("content_html") or item.get("content_text"), str), item
            assert item["url"].startswith(site)
            for link in re.findall(r'(?:href|src)="([^"]+)"', item["content_html"]):
                assert link.startswith(("http://", "https://", "mailto:")), (path, link)


def _jsonld(html: str) -> dict[str, Any]:
    (raw,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    data: dict[str, Any] = json.loads(raw)
    return data


@pytest.mark.parametrize("name", ["article", "article-no-photo", "article-hostile"])
async def test_the_json_ld_is_a_complete_news_article(site: str, name: str) -> None:
    html = (await _fetch(site, PAGES[name][0])).text
    data = _jsonld(html)
    assert data["@context"] == "https://schema.org" and data["@type"] == "NewsArticle"
    for key in ("headline", "datePublished", "dateModified", "mainEntityOfPage", "description"):
        assert data[key], key
    assert len(data["headline"]) <= 110
    (picture,) = data["image"]
    assert picture["url"].startswith("http")
    if name != "article-hostile":  # a photo whose size the newsroom did not give has none
        assert picture["width"] >= 1200 and picture["height"] > 0
    publisher = data["publisher"]
    assert publisher["@type"] == "Organization" and publisher["name"] == "Xabar"
    assert publisher["logo"]["url"] == f"{site}/static/logo.png"
    logo = await _fetch(site, "/static/logo.png")
    assert logo.status_code == 200 and logo.headers["content-type"] == "image/png"
    for author in data["author"]:
        assert author["@type"] in {"Organization", "Person"} and author["name"]
    if name != "article-hostile":
        assert data["author"] == [{"@type": "Organization", "name": "Редакция", "url": f"{site}/"}]
    if name == "article-no-photo":
        assert picture["url"] == f"{site}/static/default-image.png"
        assert (await _fetch(site, "/static/default-image.png")).status_code == 200


async def test_photos_come_in_avif_webp_and_jpeg_widths(site: str) -> None:
    html = (await _fetch(site, PAGES["article"][0])).text
    picture = html[html.index("<picture>") : html.index("</picture>")]
    for ext, mime in (("avif", "avif"), ("webp", "webp")):
        assert (
            f'<source type="image/{mime}" srcset="{PHOTO}/480.{ext} 480w, {PHOTO}/800.{ext} 800w"'
        ) in picture
    assert f'src="{PHOTO}"' in picture
    assert f'srcset="{PHOTO}/480.jpg 480w, {PHOTO}/800.jpg 800w"' in picture
    no_photo = (await _fetch(site, PAGES["article-no-photo"][0])).text
    assert "<picture>" not in no_photo
