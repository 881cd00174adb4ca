"""Revisions: the list, the article as it was at a version, a diff, and restore."""

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.routes import params
from xabar.publisher.routes.articles import answers, article_response
from xabar.publisher.routes.common import PublisherRouter
from xabar.publisher.routes.deps import Deps, principal
from xabar.publisher.schemas import (
    DiffOut,
    FieldDiffOut,
    RevisionList,
    RevisionOut,
    VersionState,
)
from xabar.runtime.auth import Role
from xabar.runtime.http import json_response
from xabar.runtime.openapi import ErrorBody

router = PublisherRouter(tags=["revisions"], security=Role.CONTRIBUTOR)


@router.get(
    "/api/v1/articles/{article_id}/revisions",
    "Every revision: who, when, which fields",
    responses={200: RevisionList, 404: ErrorBody},
)
async def list_revisions(request: Request) -> Response:
    article_id = params.path_id(request, "article_id")
    rows = await Deps.of(request).articles.revisions(principal(request), article_id)
    items = [RevisionOut.model_validate(r.model_dump()) for r in rows]
    return json_response(RevisionList(article_id=article_id, items=items))


@router.get(
    "/api/v1/articles/{article_id}/revisions/{version}",
    "The article's fields as they were at a version",
    parameters=[params.VERSION],
    responses={200: VersionState, 404: ErrorBody},
)
async def get_version(request: Request) -> Response:
    article_id, version = params.path_id(request, "article_id"), params.path_version(request)
    fields = await Deps.of(request).articles.version(principal(request), article_id, version)
    return json_response(VersionState(article_id=article_id, version=version, fields=fields))


@router.post(
    "/api/v1/articles/{article_id}/revisions/{version}/restore",
    "Restore the content of a version, as a new version (If-Match required)",
    parameters=[params.VERSION, params.IF_MATCH],
    responses=answers(403, 404, 409, 428),
)
async def restore(request: Request) -> Response:
    deps = Deps.of(request)
    expected = params.require_if_match(request)
    article = await deps.articles.restore(
        principal(request),
        params.path_id(request, "article_id"),
        params.path_version(request),
        expected,
    )
    return article_response(article, deps.settings)


@router.get(
    "/api/v1/articles/{article_id}/diff",
    "What changed between two versions",
    parameters=[
        params.query(
            "from", "older version (default: the one before the current)", {"type": "integer"}
        ),
        params.query("to", "newer version (default: the current)", {"type": "integer"}),
    ],
    responses={200: DiffOut, 404: ErrorBody, 422: ErrorBody},
)
async def diff(request: Request) -> Response:
    article_id = params.path_id(request, "article_id")
    older = params.q_optional_int(request, "from", 1, params.MAX_VERSION)
    newer = params.q_optional_int(request, "to", 1, params.MAX_VERSION)
    articles = Deps.of(request).articles
    a, b, changes = await articles.diff(principal(request), article_id, older, newer)
    fields = [FieldDiffOut.model_validate(f) for f in changes]
    out = DiffOut(article_id=article_id, from_version=a, to_version=b, fields=fields)
    return json_response(out)
