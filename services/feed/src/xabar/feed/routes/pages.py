"""The readers' HTML pages: the front page, the news list, an article, the polls.

Status codes come from ``xabar.feed.routes.ERRORS``: a page that does not exist raises
``NotFound`` and is answered with the site's 404 page.
"""

from starlette.requests import Request
from starlette.responses import Response

from xabar.feed.errors import PageNotFound, PollNotFound
from xabar.feed.routes.deps import Deps, page_number, slug_of
from xabar.feed.routes.keys import comments_path
from xabar.runtime.routing import Router

HTML_PAGE = {200: "text/html", 304: None, 404: "text/html"}
MAX_ID = 200
MAX_TAG = 100

router = Router(tags=["pages"])


@router.get("/", "The front page", responses=HTML_PAGE, include_in_schema=False)
async def front_page(request: Request) -> Response:
    deps = Deps.of(request)
    return await deps.page(request, render=deps.pages.front)


@router.get("/news", "The news list, paged", responses=HTML_PAGE, include_in_schema=False)
async def news_list(request: Request) -> Response:
    deps = Deps.of(request)
    n = page_number(request)
    return await deps.page(request, page=n, render=lambda vote: deps.pages.news(n, vote))


@router.get(
    "/news/{slug}",
    "An article, with page N of its comments (?comments=N)",
    responses=HTML_PAGE,
    include_in_schema=False,
)
async def article_page(request: Request) -> Response:
    deps = Deps.of(request)
    slug = slug_of(request)
    n = page_number(request, name="comments")
    key = comments_path(request.scope["path"], n)
    return await deps.page(request, key=key, render=lambda vote: deps.pages.article(slug, n, vote))


@router.get("/polls", "All polls, paged", responses=HTML_PAGE, include_in_schema=False)
async def polls_page(request: Request) -> Response:
    deps = Deps.of(request)
    n = page_number(request)
    return await deps.page(request, page=n, render=lambda vote: deps.pages.polls(n, vote))


@router.get("/polls/{poll_id}", "One poll", responses=HTML_PAGE, include_in_schema=False)
async def poll_page(request: Request) -> Response:
    deps = Deps.of(request)
    poll_id: str = request.path_params["poll_id"]
    if len(poll_id) > MAX_ID:
        raise PollNotFound("no such poll")
    return await deps.page(request, render=lambda vote: deps.pages.poll(poll_id, vote))


@router.get("/tags/{tag}", "The news of a tag, paged", responses=HTML_PAGE, include_in_schema=False)
async def tag_page(request: Request) -> Response:
    deps = Deps.of(request)
    tag: str = request.path_params["tag"]
    if len(tag) > MAX_TAG:
        raise PageNotFound("no such tag")
    n = page_number(request)
    return await deps.cached(request, page=n, render=lambda: deps.pages.tag(tag, n))
