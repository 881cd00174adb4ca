"""The country sections (``/kazakhstan``, ...), paged. Declared last: its path takes any one
segment, and one that names no section is the site's 404 page."""

from starlette.requests import Request
from starlette.responses import Response

from xabar.contracts import Country, country_by_slug
from xabar.feed.errors import NotFound
from xabar.feed.routes.deps import Deps
from xabar.feed.routes.pages import html_page
from xabar.runtime.routing import Router

router = Router(tags=["sections"])


def country_of(request: Request) -> Country:
    """The section named by the ``{country}`` path parameter (its slug)."""
    country = country_by_slug(request.path_params["country"])
    if country is None:
        raise NotFound("no such section")
    return country


@html_page(router, "/{country}", "A country section, paged")
async def section_page(request: Request) -> Response:
    deps = Deps.of(request)
    country = country_of(request)
    return await deps.paged(request, lambda n, vote: deps.pages.section(country, n, vote))


@html_page(router, "/{country}/about", "О стране: a country's profile")
async def about_page(request: Request) -> Response:
    deps = Deps.of(request)
    country = country_of(request)
    return await deps.cached(request, render=lambda: deps.pages.about(country))
