"""HTTP routes of the feed service: one module per resource, each a ``Router`` of named
module-level endpoints with their OpenAPI operation beside them. Status codes are chosen here
and only here (``ERRORS``), once, for every endpoint.

=============  ===============================================================================
``pages``      ``/``  ``/news?page=N``  ``/news/{slug}``  ``/polls?page=N``  ``/polls/{id}``
               ``/tags/{tag}?page=N``
``feeds``      ``/rss.xml`` ``/atom.xml`` ``/feed.json`` and ``/{country}/...`` (``?page=N``)
``sitemaps``   ``/sitemap.xml`` ``/sitemap-news.xml`` ``/sitemap-pages.xml``
               ``/sitemaps/articles-{n}.xml`` ``/robots.txt``
``api``        ``/api/v1/front`` ``/api/v1/articles?page=N`` ``/api/v1/articles/{slug}``
               ``/api/v1/sections/{country}?page=N`` ``/api/v1/polls?page=N``
``assets``     ``/static/site.css``
``sections``   ``/{country}?page=N``, ``/{country}/about`` (last: it takes any one segment)
=============  ===============================================================================

Every page, feed and JSON answer is served from the page cache with ETag/Last-Modified, and 304
on If-None-Match / If-Modified-Since. Errors answer as their path asks: the JSON error body under
``/api/``, the site's own Russian pages everywhere else (unknown URLs included).
"""

from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from xabar.feed.errors import BadParameter, FeedError, Gone, NotFound, ReadModelUnavailable
from xabar.feed.pages import HTML
from xabar.feed.routes import api, assets, feeds, pages, preview, sections, sitemaps
from xabar.feed.routes.deps import Deps
from xabar.runtime.http import error_handlers as runtime_handlers
from xabar.runtime.http import error_response
from xabar.runtime.routing import ErrorMap, Router, error_handlers

ROUTERS: tuple[Router, ...] = (
    pages.router,
    feeds.router,
    sitemaps.router,
    api.router,
    assets.router,
    preview.router,
    sections.router,
)

RETRY_AFTER = "5"
ERRORS: Mapping[type[Exception], ErrorMap] = {
    NotFound: ErrorMap(404, "not_found"),
    Gone: ErrorMap(410, "gone"),
    BadParameter: ErrorMap(400, "bad_parameter"),
    ReadModelUnavailable: ErrorMap(
        503, "unavailable", headers=lambda _: {"Retry-After": RETRY_AFTER}
    ),
}


def routes() -> list[BaseRoute]:
    return [route for router in ROUTERS for route in router.routes()]


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_page(request: Request, status: int) -> Response:
    """The site's page for ``status``: 503 says the site is down for a moment, 410 that the
    article was taken down, anything else that the page is not there."""
    deps = Deps.of(request)
    headers = deps.pages.security_headers()
    if status == 503:
        body = deps.pages.unavailable()
        headers["Retry-After"] = RETRY_AFTER
    elif status == 410:
        body = deps.pages.gone()
    else:
        body = deps.pages.not_found()
    return Response(body, status, media_type=HTML, headers=headers)


def _render(request: Request, exc: Exception, spec: ErrorMap) -> Response:
    if not wants_json(request):
        return error_page(request, spec.status)
    message = exc.message if isinstance(exc, FeedError) else spec.code.replace("_", " ")
    headers = dict(spec.headers(exc)) if spec.headers else None
    return error_response(spec.status, spec.code, message, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no route for the URL, a method it does not take)."""
    assert isinstance(exc, HTTPException)
    if wants_json(request) or exc.status_code != 404:
        return await runtime_handlers()[HTTPException](request, exc)  # type: ignore[no-any-return]
    return error_page(request, 404)


def exception_handlers() -> dict[Any, Any]:
    return error_handlers(ERRORS, _render, base={**runtime_handlers(), HTTPException: _http_error})


__all__ = ["ERRORS", "ROUTERS", "Deps", "exception_handlers", "routes"]
