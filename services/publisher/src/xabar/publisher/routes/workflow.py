"""The workflow: submit, return, schedule, publish, unpublish, and corrections of a published
article. Workflow actions honour ``If-Match`` when sent; a correction needs it."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.routes import params
from xabar.publisher.routes.articles import answers, article_response
from xabar.publisher.routes.common import PublisherRouter
from xabar.publisher.routes.deps import Deps, principal
from xabar.publisher.schemas import CorrectionIn, ScheduleIn
from xabar.runtime.auth import Role
from xabar.runtime.routing import E

router = PublisherRouter(tags=["workflow"])

SMALL_BODY = 16 * 1024


async def _transition(
    request: Request, action: str, publish_at: datetime | None = None
) -> Response:
    deps = Deps.of(request)
    article = await deps.articles.transition(
        principal(request),
        params.path_id(request, "article_id"),
        action,
        expected_version=params.optional_if_match(request),
        publish_at=publish_at,
    )
    return article_response(article, deps.settings)


def _action(action: str, summary: str, role: Role, **kw: Any) -> Callable[[E], E]:
    """The declaration of a workflow action (``If-Match`` honoured when sent)."""
    return router.post(
        f"/api/v1/articles/{{article_id}}/{action}",
        summary,
        security=role,
        parameters=[params.IF_MATCH_OPTIONAL],
        responses=answers(403, 404, 409, 422),
        **kw,
    )


@_action("submit", "Submit a draft for review", Role.CONTRIBUTOR)
async def submit(request: Request) -> Response:
    return await _transition(request, "submit")


@_action("return", "Return to draft (from review, schedule or unpublished)", Role.EDITOR)
async def return_to_draft(request: Request) -> Response:
    return await _transition(request, "return")


@_action(
    "schedule", "Schedule the publication (embargo until publish_at)", Role.EDITOR, body=ScheduleIn
)
async def schedule(request: Request) -> Response:
    params.optional_if_match(request)  # a malformed one is refused before the body is read
    body = await params.read_body(request, ScheduleIn, SMALL_BODY)
    return await _transition(request, "schedule", body.publish_at)


@_action("publish", "Publish now", Role.EDITOR)
async def publish(request: Request) -> Response:
    return await _transition(request, "publish")


@_action("unpublish", "Take a published article down", Role.EDITOR)
async def unpublish(request: Request) -> Response:
    return await _transition(request, "unpublish")


@router.post(
    "/api/v1/articles/{article_id}/corrections",
    "Correct a published article with a public correction note (If-Match required)",
    security=Role.EDITOR,
    body=CorrectionIn,
    parameters=[params.IF_MATCH],
    responses=answers(404, 409, 422, 428),
)
async def correct(request: Request) -> Response:
    deps = Deps.of(request)
    expected = params.require_if_match(request)
    body = await params.read_body(request, CorrectionIn, deps.settings.max_json_bytes)
    changes = params.given_fields(body.changes) if body.changes is not None else {}
    article = await deps.articles.correct(
        principal(request), params.path_id(request, "article_id"), body.note, changes, expected
    )
    return article_response(article, deps.settings)
