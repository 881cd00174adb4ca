"""The country sections (``/kazakhstan``, ...), paged. Declared last: its path takes any one
segment, and one that names no section is the site's 404 page."""

from starlette.requests import Request
from starlette.responses import Response

from xabar.contracts import Country, country_by_slug
from xabar.feed.errors import NotFound
from xabar.feed.routes.deps import Deps, page_number
from xabar.feed.routes.pages import HTML_PAGE
from xabar.runtime.routing import Router

router = Router(tags=["sections"])


def country_of(request: Request) -> Country:
    """The section named by the ``{country}`` path parameter (its slug)."""
    country = country_by_slug(request.path_params["country"])
    if country is None:
        raise NotFound("no such section")
    return country


@router.get("/{country}", "A country section, paged", responses=HTML_PAGE, include_in_schema=False)
async def section_page(request: Request) -> Response:
    deps = Deps.of(request)
    country = country_of(request)
    n = page_number(request)
    return await deps.page(
        request, page=n, render=lambda vote: deps.pages.section(country, n, vote)
    )


@router.get(
    "/{country}/about",
    "О стране: a country's profile",
    responses=HTML_PAGE,
    include_in_schema=False,
)
async def about_page(request: Request) -> Response:
    deps = Deps.of(request)
    country = country_of(request)
    return await deps.cached(request, render=lambda: deps.pages.about(country))
