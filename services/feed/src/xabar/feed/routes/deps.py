"""What every endpoint of the feed gets its collaborators from: one typed ``Deps`` on
``app.state.deps``, built by the composition root (``xabar.feed.app.create_app``).

Also the parameters the endpoints share: the ``page`` query parameter (parsed here, declared in
the OpenAPI document once) and the conditional-GET headers every cached answer honours.
"""

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response

from xabar.feed.api import JsonApi
from xabar.feed.cache import PageCache
from xabar.feed.config import FeedSettings
from xabar.feed.errors import (
    ArticleNotFound,
    BadParameter,
    FeedError,
    PageNotFound,
    ReadModelUnavailable,
)
from xabar.feed.feeds import Feeds
from xabar.feed.pages import Pages
from xabar.feed.routes.keys import Vote, paged, split_vote
from xabar.runtime.rendered import Rendered, respond

Render = Callable[[], Awaitable[Rendered]]
RenderVoted = Callable[[Vote | None], Awaitable[Rendered]]

_PAGE = re.compile(r"[0-9]{1,9}")
MAX_SLUG = 300

PAGE_PARAM: dict[str, Any] = {
    "name": "page",
    "in": "query",
    "required": False,
    "schema": {"type": "integer", "minimum": 1, "default": 1},
    "description": "Page number; pages past the last one answer 404",
}
CONDITIONAL: tuple[dict[str, Any], ...] = (
    {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
    {"name": "If-Modified-Since", "in": "header", "required": False, "schema": {"type": "string"}},
)


@dataclass(frozen=True, slots=True)
class Deps:
    """The feed's collaborators, as the endpoints see them."""

    settings: FeedSettings
    cache: PageCache
    pages: Pages
    feeds: Feeds
    api: JsonApi
    assets: dict[str, Rendered]
    robots: Rendered

    @staticmethod
    def of(request: Request) -> "Deps":
        return cast(Deps, request.app.state.deps)

    async def cached(
        self, request: Request, render: Render, page: int = 1, *, key: str | None = None
    ) -> Response:
        """The page at the request's canonical URL (``key``, by default its path and
        ``?page=N`` past page 1) from the cache, rendered first if it is missing or stale; if
        the read model does not answer, the last page rendered there (an outdated page beats
        no page), else ``ReadModelUnavailable``. In the coding the request accepts; 304 when
        its validators still match."""
        key = key or paged(request.scope["path"], page)
        rendered = self.cache.get(key)
        if rendered is None:
            try:
                rendered = await self.cache.get_or_render(key, render)
            except ReadModelUnavailable:
                rendered = self.cache.stale(key)
                if rendered is None:
                    raise
            route = request.scope.get("route")
            rendered.route = str(getattr(route, "path", rendered.route))
        return respond(rendered, request.headers)

    async def page(
        self, request: Request, render: RenderVoted, page: int = 1, *, key: str | None = None
    ) -> Response:
        """A page that shows polls: as ``cached``; after a vote (``?voted=...&tally=N``), the
        variant that says so, from the variants' cache while it shows a tally at least ``N``,
        else rendered (``render(vote)`` waits for that tally, a bounded while) and kept there.
        A vote the page does not show (another poll, an option it has not) gets the page."""
        query = request.scope["query_string"].decode("latin-1")
        found = split_vote(request.scope["path"], query) if query else None
        if found is None:
            return await self.cached(request, lambda: render(None), page, key=key)
        variant_key, vote = found
        rendered = self.cache.get_variant(variant_key)
        if rendered is None or rendered.vote_tally is None or rendered.vote_tally < vote.tally:
            rendered = await render(vote)
            if rendered.vote_tally is None or rendered.status != 200:
                return await self.cached(request, lambda: render(None), page, key=key)
            route = request.scope.get("route")
            rendered.route = str(getattr(route, "path", rendered.route))
            self.cache.put_variant(variant_key, rendered)
        return respond(rendered, request.headers)

    async def paged(
        self, request: Request, render: Callable[[int, Vote | None], Awaitable[Rendered]]
    ) -> Response:
        """Page ``?page=N`` (``page_number``) of a list that shows polls: as ``page``, of
        ``render(N, vote)``."""
        n = page_number(request)
        return await self.page(request, lambda vote: render(n, vote), n)


def page_number(
    request: Request, error: type[FeedError] = PageNotFound, *, name: str = "page"
) -> int:
    """``?page=N`` (or another parameter ``name``; 1 when absent); anything but a whole number
    from 1 raises ``error``: the pages answer it as their 404, the JSON API as a 400."""
    raw = request.query_params.get(name)
    if raw is None:
        return 1
    if not _PAGE.fullmatch(raw):
        raise error(f"{name} must be a whole number from 1")
    return int(raw)


def api_page(request: Request) -> int:
    return page_number(request, BadParameter)


def path_param(
    request: Request, name: str, longest: int, error: type[FeedError], message: str
) -> str:
    """The ``{name}`` path parameter; one longer than ``longest`` names nothing there is:
    ``error(message)``, raised before anything is looked up."""
    value: str = request.path_params[name]
    if len(value) > longest:
        raise error(message)
    return value


def slug_of(request: Request) -> str:
    """The ``{slug}`` path parameter; one longer than any slug the publisher makes is no
    article's."""
    return path_param(request, "slug", MAX_SLUG, ArticleNotFound, "no such article")
