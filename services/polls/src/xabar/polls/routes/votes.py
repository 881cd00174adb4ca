"""``POST /api/v1/polls/{poll_id}/votes``: the service's hot write, one implementation.

A vote posted from another site's page (``Origin``, else ``Sec-Fetch-Site`` and ``Referer``) is
refused 403 before anything else: nothing is counted and no cookie is set. A JSON vote is
answered 201 with its receipt; an HTML form's vote with a 303 to where the reader
came from (``return_to`` under the site's URL, told what was counted: ``params.with_vote``) or
to the poll's page. Refusals are the polls'
errors, answered by the app's exception handlers (a page for the form). The same endpoint is
what the fast lane in front of the app calls (``routes.fastlane``), so there is no second
implementation of the vote to keep in step.
"""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from xabar.polls.deps import Deps
from xabar.polls.routes.params import poll_id_of, safe_return_to, with_vote
from xabar.polls.schemas import VoteForm, VoteReceipt, VoteRequest
from xabar.runtime.bodies import (
    FORM,
    JSON,
    Limits,
    field_errors,
    media_type,
    read_bytes,
    read_form,
    unsupported,
)
from xabar.runtime.errors import BadRequest
from xabar.runtime.openapi import ErrorBody
from xabar.runtime.routing import Router

router = Router(tags=["voting"])

MAX_VOTE_BYTES = 16_384
FORM_LIMITS = Limits(max_bytes=MAX_VOTE_BYTES, max_fields=50, max_field_bytes=MAX_VOTE_BYTES)
NO_STORE = {"Cache-Control": "no-store"}
CHOICE_COOKIE = "xabar_voted"  # "<poll id>.<option>-<option>": the choice just counted


@router.post(
    "/api/v1/polls/{poll_id}/votes",
    "Vote: JSON answers 201; an HTML form (field option, optional return_to) answers 303",
    body=VoteRequest,
    also_accepts={FORM: VoteForm},
    error_pages=True,  # a form's refusals come as pages
    responses={
        201: VoteReceipt,
        303: None,
        400: ErrorBody,
        403: ErrorBody,
        404: ErrorBody,
        409: ErrorBody,
        413: ErrorBody,
        415: ErrorBody,
        422: ErrorBody,
        429: ErrorBody,
    },
)
async def cast_vote(request: Request) -> Response:
    deps = Deps.of(request)
    deps.origins.require(request)  # another site's page: 403, before a voter is even looked at
    ctype = media_type(request.headers)
    if ctype == FORM:
        return await _form_vote(request, deps)
    voter = request.state.voter = deps.identities.voter(request)
    poll_id = poll_id_of(request)
    if ctype != JSON:
        raise unsupported((JSON,))
    vote = _vote_of(await read_bytes(request, MAX_VOTE_BYTES))
    result = await deps.service.vote(
        poll_id, voter.voter_id, vote.options, deps.identities.origin(request)
    )
    receipt = deps.receipts.render(result, deps.service.clock())
    response = Response(receipt, 201, NO_STORE, media_type="application/json")
    if voter.is_new:
        deps.identities.cookies.issue(response, voter.voter_id)
    return response


async def _form_vote(request: Request, deps: Deps) -> Response:
    voter = request.state.voter = deps.identities.voter(request)
    form = await read_form(request, FORM_LIMITS, accept=(FORM,))
    options = form.getlist("option")
    # back where the reader came from: the form's return_to, else a Referer of the site's
    return_to = safe_return_to(form.get("return_to"), deps.site_url) or safe_return_to(
        request.headers.get("referer"), deps.site_url
    )
    request.state.return_to = return_to  # the error page links back there too
    poll_id = poll_id_of(request)
    result = await deps.service.vote(
        poll_id, voter.voter_id, options, deps.identities.origin(request)
    )
    if return_to:  # the site's page says what was counted, and shows it in the results
        target = with_vote(return_to, poll_id, result.options, result.counts.seq)
    else:
        target = f"{deps.pages.base}/polls/{poll_id}?vote=ok"
    response = RedirectResponse(target, status_code=303)
    if voter.is_new:
        deps.identities.cookies.issue(response, voter.voter_id)
    # the page the reader lands on says what they chose (once: the page clears it)
    response.set_cookie(
        CHOICE_COOKIE,
        f"{poll_id}.{'-'.join(result.options)}",
        max_age=300,
        path="/",
        httponly=True,
        samesite="lax",
        secure=deps.identities.cookies.secure,
    )
    return response


def _vote_of(body: bytes) -> VoteRequest:
    """The JSON vote, parsed and validated by its schema in one step (pydantic-core)."""
    try:
        return VoteRequest.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise BadRequest(400, "malformed_json", "the body is not valid JSON") from None
        if any(e["type"] == "model_type" and not e["loc"] for e in errors):
            raise BadRequest(422, "validation_failed", "the body must be a JSON object") from None
        raise BadRequest(
            422, "validation_failed", "some fields are invalid", field_errors(exc)
        ) from None
