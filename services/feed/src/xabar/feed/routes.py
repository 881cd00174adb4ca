"""HTTP routes of the feed service. Status codes are chosen here and only here.

HTML:   /  /news?page=N  /news/{slug}  /{country}?page=N  /polls?page=N
Feeds:  /rss.xml /atom.xml /feed.json and /{country}/rss.xml|atom.xml|feed.json (?page=N)
Crawl:  /sitemap.xml /sitemap-news.xml /sitemap-pages.xml /sitemaps/articles-{n}.xml /robots.txt
JSON:   /api/v1/front /api/v1/articles?page=N /api/v1/articles/{slug}
        /api/v1/sections/{country}?page=N /api/v1/polls?page=N
Static: /static/site.css

Every page, feed and JSON answer is served from the page cache with ETag/Last-Modified, and 304
on If-None-Match / If-Modified-Since.
"""

import re
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from xabar.contracts import COUNTRIES, Country, country_by_slug
from xabar.feed.api import JsonApi
from xabar.feed.cache import PageCache, Rendered, respond
from xabar.feed.config import FeedSettings
from xabar.feed.errors import BadParameter, NotFound, ReadModelUnavailable
from xabar.feed.feeds import TEXT, Feeds, Scope
from xabar.feed.pages import HTML, Pages
from xabar.feed.schemas import ArticleOut, FrontOut, PageOut, PollsOut, SectionOut
from xabar.runtime.http import error_response
from xabar.runtime.openapi import ErrorBody, OpenAPI

_PAGE = re.compile(r"[0-9]{1,9}")
_MAX_SLUG = 300
STATIC = Path(__file__).parent / "static"

Render = Callable[[], Awaitable[Rendered]]


def news_key(page: int) -> Hashable:
    return ("news", page)


def section_key(country: Country, page: int) -> Hashable:
    return ("section", country.code, page)


def polls_key(page: int) -> Hashable:
    return ("polls", page)


def feed_key(kind: str, scope: Scope, page: int) -> Hashable:
    return ("feed", kind, scope.list_key, page)


FRONT_KEY = "front"
API_FRONT_KEY = "api-front"


def hot_paths(feeds: Feeds) -> dict[str, Hashable]:
    """The URLs (without a query string) the fast path may answer from the cache, and the cache
    keys their routes below render under."""
    site = feeds.site_scope()
    hot: dict[str, Hashable] = {
        "/": FRONT_KEY,
        "/news": news_key(1),
        "/polls": polls_key(1),
        "/api/v1/front": API_FRONT_KEY,
    }
    for kind, file in (("rss", "rss.xml"), ("atom", "atom.xml"), ("json", "feed.json")):
        hot[f"/{file}"] = feed_key(kind, site, 1)
        for country in COUNTRIES.values():
            hot[f"/{country.slug}/{file}"] = feed_key(kind, feeds.country_scope(country), 1)
    for country in COUNTRIES.values():
        hot[f"/{country.slug}"] = section_key(country, 1)
    return hot


def paged_paths(feeds: Feeds) -> dict[str, Callable[[int], Hashable]]:
    """The paged lists the fast path may answer for ``?page=N``, with their cache keys."""
    site = feeds.site_scope()
    paged: dict[str, Callable[[int], Hashable]] = {"/news": news_key, "/polls": polls_key}
    for kind, file in (("rss", "rss.xml"), ("atom", "atom.xml"), ("json", "feed.json")):
        paged[f"/{file}"] = partial(feed_key, kind, site)
    for country in COUNTRIES.values():
        paged[f"/{country.slug}"] = partial(section_key, country)
    return paged


def page_number(request: Request) -> int:
    raw = request.query_params.get("page")
    if raw is None:
        return 1
    if not _PAGE.fullmatch(raw):
        raise BadParameter("page must be a whole number from 1")
    return int(raw)


@dataclass
class Site:
    settings: FeedSettings
    cache: PageCache
    pages: Pages
    feeds: Feeds
    api: JsonApi
    static: dict[str, Rendered] = field(default_factory=dict)

    def __post_init__(self) -> None:
        started = datetime.now(UTC).replace(microsecond=0)
        self.static["site.css"] = Rendered(
            body=(STATIC / "site.css").read_bytes(),
            media_type="text/css; charset=utf-8",
            revision=0,
            last_modified=started,
            cache_control="public, max-age=31536000, immutable",
        )
        self.robots = Rendered(
            body=self.feeds.robots(),
            media_type=TEXT,
            revision=0,
            last_modified=started,
            cache_control="public, max-age=3600",
        )

    def not_found(self, exc: Exception) -> Response:
        return Response(
            self.pages.not_found(str(exc)),
            404,
            media_type=HTML,
            headers=self.pages.security_headers(),
        )

    async def html(self, request: Request, key: Hashable, render: Render) -> Response:
        page = self.cache.get(key)
        if page is None:
            try:
                page = await self.cache.get_or_render(key, render)
            except NotFound as exc:
                return self.not_found(exc)
            except ReadModelUnavailable:
                page = self.cache.stale(key)  # an outdated page beats no page
                if page is None:
                    return Response(
                        self.pages.unavailable(), 503, media_type=HTML,
                        headers={**self.pages.security_headers(), "Retry-After": "5"},
                    )  # fmt: skip
        return respond(page, request.headers)

    async def json(self, request: Request, key: Hashable, render: Render) -> Response:
        page = self.cache.get(key)
        if page is None:
            try:
                page = await self.cache.get_or_render(key, render)
            except NotFound as exc:
                return error_response(404, "not_found", str(exc))
            except ReadModelUnavailable:
                page = self.cache.stale(key)
                if page is None:
                    return error_response(
                        503, "unavailable", "the news store does not answer; try again shortly",
                        headers={"Retry-After": "5"},
                    )  # fmt: skip
        return respond(page, request.headers)


def site_routes(site: Site, api: OpenAPI) -> list[BaseRoute]:
    pages, feeds, japi = site.pages, site.feeds, site.api

    # --- HTML --------------------------------------------------------------------------------

    async def front(request: Request) -> Response:
        return await site.html(request, FRONT_KEY, pages.front)

    async def news(request: Request) -> Response:
        try:
            n = page_number(request)
        except BadParameter as exc:
            return site.not_found(exc)
        return await site.html(request, news_key(n), lambda: pages.news(n))

    async def article(request: Request) -> Response:
        slug: str = request.path_params["slug"]
        if len(slug) > _MAX_SLUG:
            return site.not_found(NotFound("no such article"))
        return await site.html(request, ("article", slug), lambda: pages.article(slug))

    def section(country: Country) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                n = page_number(request)
            except BadParameter as exc:
                return site.not_found(exc)
            return await site.html(
                request, section_key(country, n), lambda: pages.section(country, n)
            )

        return endpoint

    async def polls(request: Request) -> Response:
        try:
            n = page_number(request)
        except BadParameter as exc:
            return site.not_found(exc)
        return await site.html(request, polls_key(n), lambda: pages.polls(n))

    # --- feeds -------------------------------------------------------------------------------

    def feed(kind: str, scope: Scope) -> Callable[[Request], Awaitable[Response]]:
        render = {"rss": feeds.rss, "atom": feeds.atom, "json": feeds.json_feed}[kind]

        async def endpoint(request: Request) -> Response:
            try:
                n = page_number(request)
            except BadParameter as exc:
                return site.not_found(exc)
            return await site.html(request, feed_key(kind, scope, n), lambda: render(scope, n))

        return endpoint

    async def news_sitemap(request: Request) -> Response:
        return await site.html(request, "sitemap-news", feeds.news_sitemap)

    async def sitemap_index(request: Request) -> Response:
        return await site.html(request, "sitemap", feeds.sitemap_index)

    async def sitemap_pages(request: Request) -> Response:
        return await site.html(request, "sitemap-pages", feeds.sitemap_pages)

    async def sitemap_articles(request: Request) -> Response:
        n: int = request.path_params["n"]
        return await site.html(request, ("sitemap-articles", n), lambda: feeds.sitemap_articles(n))

    async def robots(request: Request) -> Response:
        return respond(site.robots, request.headers)

    async def static(request: Request) -> Response:
        asset = site.static.get(request.path_params["name"])
        if asset is None:
            return site.not_found(NotFound("no such file"))
        return respond(asset, request.headers)

    # --- JSON API ----------------------------------------------------------------------------

    def api_page(request: Request) -> int | Response:
        try:
            return page_number(request)
        except BadParameter as exc:
            return error_response(400, "bad_parameter", str(exc))

    async def api_front(request: Request) -> Response:
        return await site.json(request, API_FRONT_KEY, japi.front)

    async def api_articles(request: Request) -> Response:
        n = api_page(request)
        if isinstance(n, Response):
            return n
        return await site.json(request, ("api-articles", n), lambda: japi.articles(n))

    async def api_article(request: Request) -> Response:
        slug: str = request.path_params["slug"]
        if len(slug) > _MAX_SLUG:
            return error_response(404, "not_found", "no such article")
        return await site.json(request, ("api-article", slug), lambda: japi.article(slug))

    async def api_section(request: Request) -> Response:
        name: str = request.path_params["country"]
        country = country_by_slug(name) or COUNTRIES.get(name.upper())
        if country is None:
            return error_response(404, "not_found", f"no section {name!r}")
        n = api_page(request)
        if isinstance(n, Response):
            return n
        return await site.json(
            request, ("api-section", country.code, n), lambda: japi.section(country, n)
        )

    async def api_polls(request: Request) -> Response:
        n = api_page(request)
        if isinstance(n, Response):
            return n
        return await site.json(request, ("api-polls", n), lambda: japi.polls(n))

    _declare(api)
    routes: list[BaseRoute] = [
        Route("/", front),
        Route("/news", news),
        Route("/news/{slug}", article),
        Route("/polls", polls),
        Route("/rss.xml", feed("rss", feeds.site_scope())),
        Route("/atom.xml", feed("atom", feeds.site_scope())),
        Route("/feed.json", feed("json", feeds.site_scope())),
        Route("/sitemap.xml", sitemap_index),
        Route("/sitemap-news.xml", news_sitemap),
        Route("/sitemap-pages.xml", sitemap_pages),
        Route("/sitemaps/articles-{n:int}.xml", sitemap_articles),
        Route("/robots.txt", robots),
        Route("/static/{name}", static),
        Route("/api/v1/front", api_front),
        Route("/api/v1/articles", api_articles),
        Route("/api/v1/articles/{slug}", api_article),
        Route("/api/v1/sections/{country}", api_section),
        Route("/api/v1/polls", api_polls),
    ]
    for country in COUNTRIES.values():
        scope = feeds.country_scope(country)
        routes += [
            Route(f"/{country.slug}", section(country)),
            Route(f"/{country.slug}/rss.xml", feed("rss", scope)),
            Route(f"/{country.slug}/atom.xml", feed("atom", scope)),
            Route(f"/{country.slug}/feed.json", feed("json", scope)),
        ]
    return routes


def _declare(api: OpenAPI) -> None:
    page: dict[str, Any] = {
        "name": "page",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "default": 1},
        "description": "Page number; pages past the last one answer 404",
    }
    conditional = [
        {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
        {
            "name": "If-Modified-Since",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
        },
    ]
    api.operation(
        "GET",
        "/api/v1/front",
        "The front page: news of the day, latest news, poll",
        responses={200: FrontOut, 304: None},
        parameters=conditional,
        tags=["site"],
    )
    api.operation(
        "GET",
        "/api/v1/articles",
        "Latest news, newest first, paged",
        responses={200: PageOut, 304: None, 400: ErrorBody, 404: ErrorBody},
        parameters=[page, *conditional],
        tags=["articles"],
    )
    api.operation(
        "GET",
        "/api/v1/articles/{slug}",
        "One published article",
        responses={200: ArticleOut, 304: None, 404: ErrorBody},
        parameters=[
            {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}},
            *conditional,
        ],
        tags=["articles"],
    )
    api.operation(
        "GET",
        "/api/v1/sections/{country}",
        "A country section (slug like `kazakhstan` or code like `KZ`), paged",
        responses={200: SectionOut, 304: None, 400: ErrorBody, 404: ErrorBody},
        parameters=[
            {
                "name": "country",
                "in": "path",
                "required": True,
                "schema": {
                    "type": "string",
                    "enum": [c.slug for c in COUNTRIES.values()] + list(COUNTRIES),
                },
            },
            page,
            *conditional,
        ],
        tags=["sections"],
    )
    api.operation(
        "GET",
        "/api/v1/polls",
        "All polls, newest first, paged",
        responses={200: PollsOut, 304: None, 400: ErrorBody, 404: ErrorBody},
        parameters=[page, *conditional],
        tags=["polls"],
    )
    for path, media, summary in (
        ("/rss.xml", "application/rss+xml", "RSS 2.0 feed of all news (RFC 5005 paging)"),
        ("/atom.xml", "application/atom+xml", "Atom feed of all news (RFC 5005 paging)"),
        ("/feed.json", "application/feed+json", "JSON Feed 1.1 of all news"),
        ("/{country}/rss.xml", "application/rss+xml", "RSS 2.0 feed of a country section"),
        ("/{country}/atom.xml", "application/atom+xml", "Atom feed of a country section"),
        ("/{country}/feed.json", "application/feed+json", "JSON Feed 1.1 of a country section"),
    ):
        params = [page, *conditional]
        if "{country}" in path:
            params.insert(
                0,
                {
                    "name": "country",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": [c.slug for c in COUNTRIES.values()]},
                },
            )
        api.operation(
            "GET",
            path,
            summary,
            responses={200: media, 304: None, 404: None},
            parameters=params,
            tags=["feeds"],
        )
