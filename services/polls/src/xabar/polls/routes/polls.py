"""``/api/v1/polls``: the polls, read by everyone, written by editors (the newsroom calls these
server-side with the editor's bearer token): create, edit before opening, close early, place
(front page, country sections, articles), and the results with their anomaly flags."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from xabar.polls.counter import Counts
from xabar.polls.deps import Deps
from xabar.polls.domain import Poll
from xabar.polls.routes.params import poll_id_of, principal_of, query_param
from xabar.polls.schemas import NewPoll, Placement, PollEdit, PollPage, PollResults, PollView
from xabar.polls.service import PollService
from xabar.polls.views import anomaly_of, results_of, view_of
from xabar.runtime.auth import Role
from xabar.runtime.http import json_response, parse_body
from xabar.runtime.openapi import ErrorBody
from xabar.runtime.params import query_int
from xabar.runtime.routing import Router

router = Router(tags=["polls"])
NO_STORE = {"Cache-Control": "no-store"}
MAX_POLL_BYTES = 64_000
B = TypeVar("B", bound=BaseModel)
E = TypeVar("E", bound=Callable[..., Any])


def _authoring(method: str, path: str, summary: str, **kw: Any) -> Callable[[E], E]:
    """An editors' route: their bearer token required, listed under "authoring"."""
    return router.route(method, path, summary, security=Role.EDITOR, tags=["authoring"], **kw)


# what a change of a poll with a JSON body may answer
CHANGE_RESPONSES = {
    200: PollView,
    400: ErrorBody,
    404: ErrorBody,
    409: ErrorBody,
    413: ErrorBody,
    415: ErrorBody,
    422: ErrorBody,
}


@router.get(
    "/api/v1/polls",
    "All polls, newest first, with results where they are visible",
    responses={200: PollPage, 422: ErrorBody},
    parameters=[
        query_param("page", "page number, from 1"),
        query_param("per_page", "polls a page (1 to the page_size_max setting, default 20)"),
    ],
)
async def list_polls(request: Request) -> Response:
    deps = Deps.of(request)
    page = query_int(request, "page", default=1, low=1, high=1_000_000)
    per_page = query_int(request, "per_page", default=20, low=1, high=deps.page_size_max)
    voter_id = deps.identities.known_voter(request)
    views, total = await deps.service.page(page, per_page, voter_id)
    now = deps.service.clock()
    body = PollPage(
        items=[view_of(p, c, v, now) for p, c, v in views],
        page=page,
        per_page=per_page,
        total=total,
        pages=max(1, -(-total // per_page)),
    )
    return json_response(body)


@router.get(
    "/api/v1/polls/{poll_id}",
    "A poll: question, options, and the results when they are visible to the caller",
    responses={200: PollView, 404: ErrorBody},
)
async def get_poll(request: Request) -> Response:
    deps = Deps.of(request)
    poll_id = poll_id_of(request)
    voter = request.state.voter = deps.identities.voter(request)
    poll, counts, voted = await deps.service.view(poll_id, voter.voter_id)
    view = view_of(poll, counts, voted, deps.service.clock())
    response = json_response(view, headers=NO_STORE)
    if voter.is_new:
        deps.identities.cookies.issue(response, voter.voter_id)
    return response


@_authoring(
    "POST",
    "/api/v1/polls",
    "Create a poll (editors); it opens at once when opens_at is absent or past",
    body=NewPoll,
    responses={201: PollView, 400: ErrorBody, 413: ErrorBody, 415: ErrorBody, 422: ErrorBody},
)
async def create_poll(request: Request) -> Response:
    deps = Deps.of(request)
    data = await parse_body(request, NewPoll, MAX_POLL_BYTES)
    poll, _ = await deps.service.create(
        data, editor=principal_of(request).editor_id, poll_id=secrets.token_hex(8)
    )
    counts = Counts({o: 0 for o in poll.option_ids()}, 0, 0)
    view = view_of(poll, counts, False, deps.service.clock(), editor=True)
    return json_response(view, 201, {"Location": f"/api/v1/polls/{poll.poll_id}"})


@_authoring(
    "PATCH",
    "/api/v1/polls/{poll_id}",
    "Change a poll before it opens (editors)",
    body=PollEdit,
    responses=CHANGE_RESPONSES,
)
async def edit_poll(request: Request) -> Response:
    return await _change(request, PollEdit, PollService.edit)


@_authoring(
    "POST",
    "/api/v1/polls/{poll_id}/close",
    "Close an open poll now (editors)",
    responses={200: PollView, 404: ErrorBody, 409: ErrorBody},
)
async def close_poll(request: Request) -> Response:
    deps = Deps.of(request)
    return await _editor_view(deps, await deps.service.close(poll_id_of(request)))


async def _change(
    request: Request, body: type[B], change: Callable[[PollService, str, B], Awaitable[Poll]]
) -> Response:
    """A change of the poll in the path by a JSON ``body`` (``PollService.edit``, say),
    answered with the editors' view of the poll changed."""
    deps = Deps.of(request)
    poll_id = poll_id_of(request)
    data = await parse_body(request, body, MAX_POLL_BYTES)
    return await _editor_view(deps, await change(deps.service, poll_id, data))


async def _editor_view(deps: Deps, poll: Poll) -> Response:
    counts = await deps.service.counts(poll.poll_id)
    return json_response(view_of(poll, counts, False, deps.service.clock(), editor=True))


@_authoring(
    "PUT",
    "/api/v1/polls/{poll_id}/placement",
    "Where the poll is shown: the front page, country sections, articles (editors; at any time)",
    body=Placement,
    responses=CHANGE_RESPONSES,
)
async def place_poll(request: Request) -> Response:
    return await _change(request, Placement, PollService.place)


@_authoring(
    "GET",
    "/api/v1/polls/{poll_id}/results",
    "The poll's results, whatever the readers may see yet, and its flagged bursts (editors)",
    responses={200: PollResults, 404: ErrorBody},
)
async def poll_results(request: Request) -> Response:
    deps = Deps.of(request)
    poll = await deps.service.get(poll_id_of(request))
    counts = await deps.service.counts(poll.poll_id)
    rows = await deps.service.anomalies(poll.poll_id)
    body = PollResults(
        poll_id=poll.poll_id,
        status=poll.phase(deps.service.clock()),
        results=results_of(poll, counts),
        anomalies=[anomaly_of(r) for r in rows],
    )
    return json_response(body, headers=NO_STORE)
