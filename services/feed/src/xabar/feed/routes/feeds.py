"""RSS 2.0, Atom and JSON Feed 1.1, site-wide and per country section, paged (RFC 5005)."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.contracts import COUNTRIES
from xabar.feed.feeds import Scope
from xabar.feed.routes.deps import CONDITIONAL, PAGE_PARAM, Deps, page_number
from xabar.feed.routes.sections import country_of
from xabar.runtime.routing import Router

RSS_MEDIA = "application/rss+xml"
ATOM_MEDIA = "application/atom+xml"
JSON_FEED_MEDIA = "application/feed+json"
COUNTRY_PARAM: dict[str, Any] = {
    "name": "country",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "enum": [c.slug for c in COUNTRIES.values()]},
}
SITE_PARAMS = (PAGE_PARAM, *CONDITIONAL)
SECTION_PARAMS = (COUNTRY_PARAM, PAGE_PARAM, *CONDITIONAL)

FEEDS = (  # kind, file, media type, what it is
    ("rss", "rss.xml", RSS_MEDIA, "RSS 2.0 feed"),
    ("atom", "atom.xml", ATOM_MEDIA, "Atom feed"),
    ("json", "feed.json", JSON_FEED_MEDIA, "JSON Feed 1.1"),
)
KIND_OF_FILE = {file: kind for kind, file, _, _ in FEEDS}

router = Router(tags=["feeds"])


async def _feed(request: Request, scope: Scope) -> Response:
    deps = Deps.of(request)
    kind = KIND_OF_FILE[request.url.path.rsplit("/", 1)[1]]
    n = page_number(request)
    render = {"rss": deps.feeds.rss, "atom": deps.feeds.atom, "json": deps.feeds.json_feed}[kind]
    return await deps.cached(request, page=n, render=lambda: render(scope, n))


async def site_feed(request: Request) -> Response:
    """``/rss.xml``, ``/atom.xml``, ``/feed.json``: all news, paged (RFC 5005)."""
    return await _feed(request, Deps.of(request).feeds.site_scope())


async def section_feed(request: Request) -> Response:
    """``/{country}/rss.xml`` and the others: the news of one country section."""
    deps = Deps.of(request)
    return await _feed(request, deps.feeds.country_scope(country_of(request)))


for _kind, _file, _media, _what in FEEDS:
    _responses = {200: _media, 304: None, 404: None}
    router.get(f"/{_file}", f"{_what} of all news", responses=_responses, parameters=SITE_PARAMS)(
        site_feed
    )
    router.get(
        f"/{{country}}/{_file}",
        f"{_what} of a country section",
        responses=_responses,
        parameters=SECTION_PARAMS,
    )(section_feed)
