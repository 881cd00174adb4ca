"""RSS 2.0, Atom and JSON Feed 1.1, site-wide and per country section, paged (RFC 5005)."""

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.contracts import COUNTRIES
from xabar.feed.feeds import Scope
from xabar.feed.routes import keys
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

router = Router(tags=["feeds"])


def _responses(media: str) -> dict[int, str | None]:
    return {200: media, 304: None, 404: None}


async def _feed(request: Request, kind: str, scope: Scope) -> Response:
    deps = Deps.of(request)
    n = page_number(request)
    render = {"rss": deps.feeds.rss, "atom": deps.feeds.atom, "json": deps.feeds.json_feed}[kind]
    return await deps.cached(request, keys.feed(kind, scope, n), lambda: render(scope, n))


def _section_scope(request: Request) -> Scope:
    return Deps.of(request).feeds.country_scope(country_of(request))


@router.get(
    "/rss.xml",
    "RSS 2.0 feed of all news (RFC 5005 paging)",
    responses=_responses(RSS_MEDIA),
    parameters=SITE_PARAMS,
)
async def site_rss(request: Request) -> Response:
    return await _feed(request, "rss", Deps.of(request).feeds.site_scope())


@router.get(
    "/atom.xml",
    "Atom feed of all news (RFC 5005 paging)",
    responses=_responses(ATOM_MEDIA),
    parameters=SITE_PARAMS,
)
async def site_atom(request: Request) -> Response:
    return await _feed(request, "atom", Deps.of(request).feeds.site_scope())


@router.get(
    "/feed.json",
    "JSON Feed 1.1 of all news",
    responses=_responses(JSON_FEED_MEDIA),
    parameters=SITE_PARAMS,
)
async def site_json_feed(request: Request) -> Response:
    return await _feed(request, "json", Deps.of(request).feeds.site_scope())


@router.get(
    "/{country}/rss.xml",
    "RSS 2.0 feed of a country section",
    responses=_responses(RSS_MEDIA),
    parameters=SECTION_PARAMS,
)
async def section_rss(request: Request) -> Response:
    return await _feed(request, "rss", _section_scope(request))


@router.get(
    "/{country}/atom.xml",
    "Atom feed of a country section",
    responses=_responses(ATOM_MEDIA),
    parameters=SECTION_PARAMS,
)
async def section_atom(request: Request) -> Response:
    return await _feed(request, "atom", _section_scope(request))


@router.get(
    "/{country}/feed.json",
    "JSON Feed 1.1 of a country section",
    responses=_responses(JSON_FEED_MEDIA),
    parameters=SECTION_PARAMS,
)
async def section_json_feed(request: Request) -> Response:
    return await _feed(request, "json", _section_scope(request))
