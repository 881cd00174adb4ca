"""The readers' HTML pages: the front page, the news list, an article, the polls.

Status codes come from ``xabar.feed.routes.ERRORS``: a page that does not exist raises
``NotFound`` and is answered with the site's 404 page.
"""

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from xabar.feed.errors import PageNotFound, PollNotFound
from xabar.feed.routes.deps import Deps, page_number, path_param, slug_of
from xabar.feed.routes.keys import comments_path
from xabar.runtime.routing import E, Router

HTML_PAGE = {200: "text/html", 304: None, 404: "text/html"}
MAX_ID = 200
MAX_TAG = 100

router = Router(tags=["pages"])


def html_page(on: Router, path: str, summary: str) -> Callable[[E], E]:
    """A readers' page of ``on``: HTML, 304 while unchanged, the site's 404 page for what is
    not there; left out of /openapi.json, which describes the JSON API."""
    return on.get(path, summary, responses=HTML_PAGE, include_in_schema=False)


@html_page(router, "/", "The front page")
async def front_page(request: Request) -> Response:
    deps = Deps.of(request)
    return await deps.page(request, render=deps.pages.front)


@html_page(router, "/news", "The news list, paged")
async def news_list(request: Request) -> Response:
    deps = Deps.of(request)
    return await deps.paged(request, deps.pages.news)


@html_page(router, "/news/{slug}", "An article, with page N of its comments (?comments=N)")
async def article_page(request: Request) -> Response:
    deps = Deps.of(request)
    slug = slug_of(request)
    n = page_number(request, name="comments")
    key = comments_path(request.scope["path"], n)
    return await deps.page(request, key=key, render=lambda vote: deps.pages.article(slug, n, vote))


@html_page(router, "/polls", "All polls, paged")
async def polls_page(request: Request) -> Response:
    deps = Deps.of(request)
    return await deps.paged(request, deps.pages.polls)


@html_page(router, "/polls/{poll_id}", "One poll")
async def poll_page(request: Request) -> Response:
    deps = Deps.of(request)
    poll_id = path_param(request, "poll_id", MAX_ID, PollNotFound, "no such poll")
    return await deps.page(request, render=lambda vote: deps.pages.poll(poll_id, vote))


@html_page(router, "/tags/{tag}", "The news of a tag, paged")
async def tag_page(request: Request) -> Response:
    deps = Deps.of(request)
    tag = path_param(request, "tag", MAX_TAG, PageNotFound, "no such tag")
    n = page_number(request)
    return await deps.cached(request, page=n, render=lambda: deps.pages.tag(tag, n))
