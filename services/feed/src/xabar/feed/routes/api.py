"""The JSON API over the read model: the same data as the pages. Its errors are the JSON error
body (``ErrorBody``); a bad ``page`` is a 400, a missing thing a 404."""

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from xabar.contracts import COUNTRIES, Country, country_by_slug
from xabar.feed.errors import NotFound
from xabar.feed.routes.deps import CONDITIONAL, PAGE_PARAM, Deps, api_page, slug_of
from xabar.feed.schemas import ArticleOut, FrontOut, PageOut, PollsOut, SectionOut
from xabar.runtime.openapi import ErrorBody
from xabar.runtime.routing import E, Router

PAGED = (PAGE_PARAM, *CONDITIONAL)
SECTION_PARAM: dict[str, Any] = {
    "name": "country",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "enum": [c.slug for c in COUNTRIES.values()] + list(COUNTRIES)},
}

router = Router(prefix="/api/v1")


def paged(
    path: str, summary: str, body: type[BaseModel], tag: str, *parameters: dict[str, Any]
) -> Callable[[E], E]:
    """A list the API serves in pages of ``body``: ``?page=N``, a 400 for a page that is no
    whole number from 1, a 404 past the last page (or for a list that is not there)."""
    return router.get(
        path,
        summary,
        responses={200: body, 304: None, 400: ErrorBody, 404: ErrorBody},
        parameters=(*parameters, *PAGED),
        tags=[tag],
    )


@router.get(
    "/front",
    "The front page: news of the day, latest news, poll",
    responses={200: FrontOut, 304: None},
    parameters=CONDITIONAL,
    tags=["site"],
)
async def api_front(request: Request) -> Response:
    deps = Deps.of(request)
    return await deps.cached(request, render=deps.api.front)


@paged("/articles", "Latest news, newest first, paged", PageOut, "articles")
async def api_articles(request: Request) -> Response:
    deps = Deps.of(request)
    n = api_page(request)
    return await deps.cached(request, page=n, render=lambda: deps.api.articles(n))


@router.get(
    "/articles/{slug}",
    "One published article",
    responses={200: ArticleOut, 304: None, 404: ErrorBody},
    parameters=CONDITIONAL,
    tags=["articles"],
)
async def api_article(request: Request) -> Response:
    deps = Deps.of(request)
    slug = slug_of(request)
    return await deps.cached(request, render=lambda: deps.api.article(slug))


def _section(request: Request) -> Country:
    name: str = request.path_params["country"]
    country = country_by_slug(name) or COUNTRIES.get(name.upper())
    if country is None:
        raise NotFound(f"no section {name!r}")
    return country


@paged(
    "/sections/{country}",
    "A country section (slug like `kazakhstan` or code like `KZ`), paged",
    SectionOut,
    "sections",
    SECTION_PARAM,
)
async def api_section(request: Request) -> Response:
    deps = Deps.of(request)
    country = _section(request)
    n = api_page(request)
    return await deps.cached(request, page=n, render=lambda: deps.api.section(country, n))


@paged("/polls", "All polls, newest first, paged", PollsOut, "polls")
async def api_polls(request: Request) -> Response:
    deps = Deps.of(request)
    n = api_page(request)
    return await deps.cached(request, page=n, render=lambda: deps.api.polls(n))
