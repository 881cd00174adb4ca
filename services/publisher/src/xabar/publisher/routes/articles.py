"""Articles: the list, create, read, edit (PATCH) and replace (PUT).

Optimistic concurrency: article responses carry ``ETag: "<version>"``. PATCH and PUT need
``If-Match`` (428 without it, 409 when stale)."""

from collections.abc import Callable

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from xabar.contracts import COUNTRIES
from xabar.publisher.config import PublisherSettings
from xabar.publisher.domain import Article, ArticleQuery, ArticleStatus
from xabar.publisher.routes import params
from xabar.publisher.routes.common import PublisherRouter, etag
from xabar.publisher.routes.deps import Deps, principal
from xabar.publisher.schemas import ArticleIn, ArticleList, ArticleOut, ArticlePatch, ArticleSummary
from xabar.runtime.auth import Role
from xabar.runtime.http import json_response
from xabar.runtime.openapi import ErrorBody
from xabar.runtime.routing import E

router = PublisherRouter(tags=["articles"], security=Role.CONTRIBUTOR)


def answers(*errors: int) -> dict[int, type[BaseModel]]:
    """An operation that answers the article, or an error with one of ``errors``."""
    return {200: ArticleOut, **dict.fromkeys(errors, ErrorBody)}


STATUSES = frozenset(s.value for s in ArticleStatus)


def article_out(article: Article, settings: PublisherSettings) -> ArticleOut:
    url = settings.article_url(article.slug) if article.published else None
    return ArticleOut.model_validate({**article.model_dump(), "url": url})


def article_response(article: Article, settings: PublisherSettings, status: int = 200) -> Response:
    out = article_out(article, settings)
    return json_response(out, status, headers={"ETag": etag(article.version)})


FILTERS = (
    params.choice_filter(
        "status", "draft, in_review, scheduled, published or unpublished", STATUSES
    ),
    params.choice_filter("country", "a country code, e.g. KZ", set(COUNTRIES)),
    params.text_filter("owner_id", "the editor id of the article's owner", 100),
    params.text_filter("q", "words (or their beginnings) of the title, lead and body", 300, "text"),
)


@router.listing("/api/v1/articles", "Articles, newest change first", ArticleList, FILTERS)
async def list_articles(request: Request) -> Response:
    query = ArticleQuery(**params.q_filters(request, FILTERS))
    found = await Deps.of(request).articles.search(principal(request), query)
    items = [ArticleSummary.model_validate(r) for r in found.items]
    return json_response(ArticleList.of(found, items, exact=found.exact))


@router.post(
    "/api/v1/articles",
    "Create a draft article",
    body=ArticleIn,
    responses={201: ArticleOut, 422: ErrorBody},
)
async def create_article(request: Request) -> Response:
    deps = Deps.of(request)
    body = await params.read_body(request, ArticleIn, deps.settings.max_json_bytes)
    given = params.given_fields(body) | {"title": body.title}
    return article_response(
        await deps.articles.create(principal(request), given), deps.settings, 201
    )


@router.get(
    "/api/v1/articles/{article_id}",
    "One article (ETag: its version)",
    responses=answers(404),
)
async def get_article(request: Request) -> Response:
    deps = Deps.of(request)
    article = await deps.articles.read(principal(request), params.path_id(request, "article_id"))
    return article_response(article, deps.settings)


def _edit_route(method: str, summary: str, body: type[BaseModel]) -> Callable[[E], E]:
    return router.route(
        method,
        "/api/v1/articles/{article_id}",
        summary,
        body=body,
        parameters=[params.IF_MATCH],
        responses=answers(403, 404, 409, 422, 428),
    )


@_edit_route("PATCH", "Edit some fields (If-Match required)", ArticlePatch)
async def patch_article(request: Request) -> Response:
    return await _edit(request, ArticlePatch)


@_edit_route("PUT", "Replace the content (If-Match required)", ArticleIn)
async def put_article(request: Request) -> Response:
    return await _edit(request, ArticleIn)


async def _edit(request: Request, model: type[ArticlePatch] | type[ArticleIn]) -> Response:
    """A PATCH (the fields sent) or a PUT (the whole content: absent fields to their defaults)."""
    deps = Deps.of(request)
    expected = params.require_if_match(request)
    body = await params.read_body(request, model, deps.settings.max_json_bytes)
    full = isinstance(body, ArticleIn)
    given = params.given_fields(body) | ({"title": body.title} if full else {})
    article = await deps.articles.edit(
        principal(request), params.path_id(request, "article_id"), given, expected, full=full
    )
    return article_response(article, deps.settings)
