"""What crawlers read: the sitemap index, the Google News sitemap, the sitemap of the site's
pages, the article sitemaps in chunks of 5,000, and robots.txt."""

import re
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from xabar.feed.errors import PageNotFound
from xabar.feed.feeds import MAX_SITEMAP_CHUNK
from xabar.feed.routes.deps import Deps
from xabar.runtime.rendered import respond
from xabar.runtime.routing import E, Router

XML_FILE = {200: "application/xml", 304: None, 404: None}
_CHUNK = re.compile(r"[1-9][0-9]{0,8}")

router = Router(tags=["crawlers"])


def xml_file(path: str, summary: str) -> Callable[[E], E]:
    """A file crawlers read: XML, 304 while unchanged; left out of /openapi.json."""
    return router.get(path, summary, responses=XML_FILE, include_in_schema=False)


@xml_file("/sitemap.xml", "The sitemap index")
async def sitemap_index(request: Request) -> Response:
    deps = Deps.of(request)
    return await deps.cached(request, render=deps.feeds.sitemap_index)


@xml_file("/sitemap-news.xml", "Google News sitemap: the last two days")
async def news_sitemap(request: Request) -> Response:
    deps = Deps.of(request)
    return await deps.cached(request, render=deps.feeds.news_sitemap)


@xml_file("/sitemap-pages.xml", "The site's own pages")
async def pages_sitemap(request: Request) -> Response:
    deps = Deps.of(request)
    return await deps.cached(request, render=deps.feeds.sitemap_pages)


@xml_file("/sitemaps/articles-{chunk}.xml", "Articles, oldest first, 5,000 per file")
async def articles_sitemap(request: Request) -> Response:
    """``chunk`` is a whole number from 1 written without leading zeros; one past the last
    chunk, or past any the read model could hold, is a 404 (not a query that Redis refuses)."""
    raw: str = request.path_params["chunk"]
    if not _CHUNK.fullmatch(raw) or int(raw) > MAX_SITEMAP_CHUNK:
        raise PageNotFound("no such sitemap")
    deps = Deps.of(request)
    n = int(raw)
    return await deps.cached(request, render=lambda: deps.feeds.sitemap_articles(n))


@router.get("/robots.txt", "robots.txt", responses={200: "text/plain"}, include_in_schema=False)
async def robots_txt(request: Request) -> Response:
    return respond(Deps.of(request).robots, request.headers)
