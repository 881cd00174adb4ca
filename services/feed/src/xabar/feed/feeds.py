"""Feeds and crawler files: RSS 2.0, Atom (RFC 4287), JSON Feed 1.1, site-wide and per country,
paged with RFC 5005 links; a Google News sitemap (last two days), a sitemap index, robots.txt.

XML is rendered by Jinja2 templates with autoescape on, so every text and the HTML content are
escaped once, as XML requires. Control characters XML cannot carry were removed on the way in.
"""

import html
import json
import mimetypes
import uuid
from dataclasses import KW_ONLY, dataclass
from datetime import datetime, timedelta
from math import ceil
from typing import Any

from jinja2 import Environment

from xabar.contracts import COUNTRIES, Country
from xabar.feed import repository as rm
from xabar.feed.dates import rfc822, rfc3339
from xabar.feed.documents import ArticleDoc
from xabar.feed.errors import PageNotFound
from xabar.feed.repository import Snapshot
from xabar.feed.sanitize import absolute_urls
from xabar.feed.views import ReadModelView, article_path, last_page, sections_of
from xabar.runtime.rendered import Rendered

RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
JSON_FEED = "application/feed+json; charset=utf-8"
XML = "application/xml; charset=utf-8"
TEXT = "text/plain; charset=utf-8"

NEWS_SITEMAP_WINDOW = timedelta(days=2)
NEWS_SITEMAP_MAX = 1000  # Google News sitemaps hold at most 1,000 URLs
SITEMAP_CHUNK = 5000
MAX_SITEMAP_CHUNK = 1_000_000  # 5 billion articles: past any read model, and safe for Redis


@dataclass(frozen=True, slots=True)
class Scope:
    """What a feed covers: the whole site or one country section."""

    list_key: str
    title: str
    description: str
    base_path: str  # "" for the site, "/kazakhstan" for a section
    html_path: str


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    url: str
    title: str
    summary: str
    content_html: str
    author: str | None
    categories: list[str]
    image: str | None
    image_type: str
    image_width: int | None
    image_height: int | None
    published: datetime
    updated: datetime
    comment_count: int = 0
    comments_url: str = ""  # the article's comments on its page

    @property
    def summary_html(self) -> str:
        """The plain-text lead as HTML (RSS readers read ``<description>`` as HTML; the
        template escapes it once more, for XML)."""
        return html.escape(self.summary, quote=False)

    @property
    def published_rfc822(self) -> str:
        return rfc822(self.published)

    @property
    def published_rfc3339(self) -> str:
        return rfc3339(self.published)

    @property
    def updated_rfc3339(self) -> str:
        return rfc3339(self.updated)


def _image_type(url: str) -> str:
    guessed, _ = mimetypes.guess_type(url.split("?", 1)[0])
    return guessed if guessed and guessed.startswith("image/") else "image/jpeg"


@dataclass(eq=False)
class Feeds(ReadModelView):
    _: KW_ONLY
    env: Environment

    def site_scope(self) -> Scope:
        s = self.settings
        return Scope(rm.ALL, s.site_name, s.site_description, "", "/")

    def country_scope(self, country: Country) -> Scope:
        s = self.settings
        return Scope(
            rm.country_list(country.code),
            f"{s.site_name}: {country.name}",
            f"Новости: {country.name}. {s.site_description}",
            f"/{country.slug}",
            f"/{country.slug}",
        )

    # --- ids and entries ---------------------------------------------------------------------

    def entry_id(self, article_id: str) -> str:
        """A stable IRI per article, independent of its slug: ``urn:uuid:`` (RFC 4122 v5)."""
        name = f"{self.settings.site_url}/articles/{article_id}"
        return uuid.uuid5(uuid.NAMESPACE_URL, name).urn

    def entry(self, doc: ArticleDoc) -> Entry:
        """What feeds and sitemaps say of an article; every URL in it absolute."""
        categories = [c.name for c in sections_of(doc)] + list(doc.tags)
        site = self.settings.site_url
        image = doc.image.url if doc.image else None
        if image is not None and image.startswith("/"):
            image = site + image
        url = self.settings.site_url + article_path(doc.slug)
        return Entry(
            id=self.entry_id(doc.article_id),
            url=url,
            title=doc.title,
            summary=doc.lead,
            content_html=absolute_urls(doc.body_html, site),
            author=doc.author,
            categories=list(dict.fromkeys(categories)),
            image=image,
            image_type=_image_type(image) if image else "image/jpeg",
            image_width=doc.image.width if doc.image else None,
            image_height=doc.image.height if doc.image else None,
            published=doc.published_at,
            updated=doc.updated_at,
            comment_count=doc.comment_count,
            comments_url=url + "#comments",
        )

    # --- paged feeds -------------------------------------------------------------------------

    async def _page(self, scope: Scope, page: int) -> tuple[rm.ListRead, int]:
        size = self.settings.feed_items
        if page < 1:
            raise PageNotFound(f"no feed page {page}")
        read = await self.read.list_page(scope.list_key, (page - 1) * size, size)
        last = last_page(read.total, size)
        if page > last:
            raise PageNotFound(f"no feed page {page}: the last one is {last}")
        return read, last

    def _paging(self, url: str, page: int, last: int) -> list[tuple[str, str]]:
        """RFC 5005 links: first, previous, next, last (only those that exist)."""

        def at(n: int) -> str:
            return url if n == 1 else f"{url}?page={n}"

        links = [("first", at(1))]
        if page > 1:
            links.append(("previous", at(page - 1)))
        if page < last:
            links.append(("next", at(page + 1)))
        links.append(("last", at(last)))
        return links

    def _feed_context(
        self, scope: Scope, read: rm.ListRead, page: int, last: int, file: str
    ) -> dict[str, Any]:
        s = self.settings
        url = f"{s.site_url}{scope.base_path}/{file}"
        updated = read.snapshot.last_modified
        return {
            "feed": {
                "title": scope.title,
                "description": scope.description,
                "html_url": s.site_url + scope.html_path,
                "self_url": url if page == 1 else f"{url}?page={page}",
                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"{s.site_url}{scope.base_path}/feed").urn,
                "updated_rfc822": rfc822(updated),
                "updated_rfc3339": rfc3339(updated),
                "author": s.site_name,
                "site_url": s.site_url,
                "paging": self._paging(url, page, last),
            },
            "entries": [self.entry(d) for d in read.items],
        }

    def _rendered(
        self, body: bytes, media_type: str, snapshot: Snapshot, expires: float | None = None
    ) -> Rendered:
        return self.rendered(
            body, media_type, snapshot, expires, headers={"X-Content-Type-Options": "nosniff"}
        )

    async def rss(self, scope: Scope, page: int) -> Rendered:
        read, last = await self._page(scope, page)
        ctx = self._feed_context(scope, read, page, last, "rss.xml")
        body = self.env.get_template("rss.xml").render(ctx).encode()
        return self._rendered(body, RSS, read.snapshot)

    async def atom(self, scope: Scope, page: int) -> Rendered:
        read, last = await self._page(scope, page)
        ctx = self._feed_context(scope, read, page, last, "atom.xml")
        body = self.env.get_template("atom.xml").render(ctx).encode()
        return self._rendered(body, ATOM, read.snapshot)

    async def json_feed(self, scope: Scope, page: int) -> Rendered:
        read, last = await self._page(scope, page)
        s = self.settings
        url = f"{s.site_url}{scope.base_path}/feed.json"
        feed: dict[str, Any] = {
            "version": "https://jsonfeed.org/version/1.1",
            "title": scope.title,
            "home_page_url": s.site_url + scope.html_path,
            "feed_url": url if page == 1 else f"{url}?page={page}",
            "description": scope.description,
            "language": "ru",
            "authors": [{"name": s.site_name, "url": s.site_url}],
        }
        if page < last:
            feed["next_url"] = f"{url}?page={page + 1}"
        items = []
        for doc in read.items:
            e = self.entry(doc)
            item: dict[str, Any] = {
                "id": e.id,
                "url": e.url,
                "title": e.title,
                "summary": e.summary,
                "content_html": e.content_html,
                "date_published": e.published_rfc3339,
                "date_modified": e.updated_rfc3339,
                "language": "ru",
            }
            if e.image:
                item["image"] = e.image
            if e.author:
                item["authors"] = [{"name": e.author}]
            if e.categories:
                item["tags"] = e.categories
            items.append(item)
        feed["items"] = items
        body = json.dumps(feed, ensure_ascii=False, indent=1).encode()
        return self._rendered(body, JSON_FEED, read.snapshot)

    # --- crawlers ------------------------------------------------------------------------------

    async def news_sitemap(self) -> Rendered:
        """Articles of the last two days (Google News), newest first, at most 1,000."""
        now = self.clock()
        read = await self.read.since(rm.ALL, now - NEWS_SITEMAP_WINDOW, NEWS_SITEMAP_MAX)
        entries = [self.entry(d) for d in read.items]
        body = (
            self.env.get_template("sitemap_news.xml")
            .render(entries=entries, site_name=self.settings.site_name)
            .encode()
        )
        # re-render when the oldest listed article leaves the two-day window
        expires = (entries[-1].published + NEWS_SITEMAP_WINDOW).timestamp() if entries else None
        return self._rendered(body, XML, read.snapshot, expires)

    async def sitemap_index(self) -> Rendered:
        s = self.settings
        read = await self.read.slugs(rm.ALL, 0, 0)
        chunks = ceil(read.total / SITEMAP_CHUNK)
        sitemaps = [f"{s.site_url}/sitemap-news.xml", f"{s.site_url}/sitemap-pages.xml"]
        sitemaps += [f"{s.site_url}/sitemaps/articles-{n}.xml" for n in range(1, chunks + 1)]
        lastmod = rfc3339(read.snapshot.last_modified)  # no file changed after the last event
        body = (
            self.env.get_template("sitemap_index.xml")
            .render(sitemaps=[(u, lastmod) for u in sitemaps])
            .encode()
        )
        return self._rendered(body, XML, read.snapshot)

    async def sitemap_pages(self) -> Rendered:
        s = self.settings
        read = await self.read.slugs(rm.ALL, 0, 0)
        paths = ["/", "/news", *(f"/{c.slug}" for c in COUNTRIES.values()), "/polls"]
        lastmod = rfc3339(read.snapshot.last_modified)
        body = (
            self.env.get_template("sitemap_urls.xml")
            .render(urls=[(s.site_url + p, lastmod) for p in paths])
            .encode()
        )
        return self._rendered(body, XML, read.snapshot)

    async def sitemap_articles(self, chunk: int) -> Rendered:
        if chunk < 1:
            raise PageNotFound(f"no sitemap {chunk}")
        read = await self.read.slugs(rm.ALL, (chunk - 1) * SITEMAP_CHUNK, SITEMAP_CHUNK)
        if chunk > max(1, ceil(read.total / SITEMAP_CHUNK)):
            raise PageNotFound(f"no sitemap {chunk}")
        fallback = read.snapshot.last_modified
        urls = [
            (self.settings.site_url + article_path(slug), rfc3339(updated or fallback))
            for slug, updated in zip(read.slugs, read.updated, strict=True)
        ]
        body = self.env.get_template("sitemap_urls.xml").render(urls=urls).encode()
        return self._rendered(body, XML, read.snapshot)

    def robots(self) -> bytes:
        return (
            "User-agent: *\n"
            "Disallow: /api/\n"
            f"Sitemap: {self.settings.site_url}/sitemap.xml\n"
            f"Sitemap: {self.settings.site_url}/sitemap-news.xml\n"
        ).encode()
