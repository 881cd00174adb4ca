"""What crawlers read: the sitemap index, the Google News sitemap, the sitemap of the site's
pages, the article sitemaps in chunks of 5,000, and robots.txt."""

import re

from starlette.requests import Request
from starlette.responses import Response

from xabar.feed.errors import PageNotFound
from xabar.feed.feeds import MAX_SITEMAP_CHUNK, Feeds
from xabar.feed.routes.deps import Deps
from xabar.runtime.rendered import respond
from xabar.runtime.routing import Router

XML_FILE = {200: "application/xml", 304: None, 404: None}
_CHUNK = re.compile(r"[1-9][0-9]{0,8}")

SITEMAPS = (  # path, what it lists, how the feeds render it: whole files, of no parameter
    ("/sitemap.xml", "The sitemap index", Feeds.sitemap_index),
    ("/sitemap-news.xml", "Google News sitemap: the last two days", Feeds.news_sitemap),
    ("/sitemap-pages.xml", "The site's own pages", Feeds.sitemap_pages),
)
RENDER_OF_PATH = {path: render for path, _, render in SITEMAPS}

router = Router(tags=["crawlers"])


async def sitemap(request: Request) -> Response:
    """One of ``SITEMAPS``, by its path."""
    deps = Deps.of(request)
    render = RENDER_OF_PATH[request.scope["path"]]
    return await deps.cached(request, render=lambda: render(deps.feeds))


for _path, _what, _ in SITEMAPS:
    router.get(_path, _what, responses=XML_FILE, include_in_schema=False)(sitemap)


@router.get(
    "/sitemaps/articles-{chunk}.xml",
    "Articles, oldest first, 5,000 per file",
    responses=XML_FILE,
    include_in_schema=False,
)
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
