"""HTTP routes of the polls service. Status codes are chosen here and only here."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from xabar.polls.apidoc import FORM, PollsOpenAPI
from xabar.polls.counter import Counts
from xabar.polls.domain import POLL_ID, Poll, from_epoch_ms
from xabar.polls.errors import (
    UNAVAILABLE,
    AlreadyVoted,
    ConcurrentChange,
    InvalidChoice,
    InvalidPoll,
    PollClosed,
    PollNotEditable,
    PollNotFound,
    PollNotOpen,
    PollsError,
    TooManyVotes,
    UnknownOption,
)
from xabar.polls.pages import NOTICES, Pages
from xabar.polls.schemas import (
    Anomaly,
    AnomalyList,
    NewPoll,
    OptionResult,
    PollEdit,
    PollPage,
    PollView,
    Results,
    VoteForm,
    VoteReceipt,
    VoteRequest,
)
from xabar.polls.service import PollService, VoteResult
from xabar.polls.voters import Identities, Voter
from xabar.runtime.auth import AuthError, ForbiddenError, Principal, Role, TokenCodec
from xabar.runtime.http import BadRequest, error_response, json_response, parse_body
from xabar.runtime.openapi import ErrorBody

MAX_FORM_BYTES = 16_384
log = logging.getLogger("xabar.polls.http")
NO_STORE = {"Cache-Control": "no-store"}

STATUS: dict[type[PollsError], int] = {
    PollNotFound: 404,
    PollClosed: 409,
    PollNotOpen: 409,
    AlreadyVoted: 409,
    PollNotEditable: 409,
    ConcurrentChange: 409,
    UnknownOption: 422,
    InvalidChoice: 422,
    InvalidPoll: 422,
    TooManyVotes: 429,
}

UNAVAILABLE_MESSAGE = "Сервис временно недоступен, повторите попытку через несколько секунд"

PAGE_TITLES = {
    404: "Опрос не найден",
    409: "Голос не принят",
    422: "Голос не принят",
    429: "Слишком много голосов",
}


@dataclass(frozen=True, slots=True)
class Context:
    service: PollService
    identities: Identities
    tokens: TokenCodec
    pages: Pages
    site_url: str
    page_size_max: int


def status_of(exc: PollsError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_of(exc: PollsError) -> Response:
    headers = None
    if isinstance(exc, TooManyVotes):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return error_response(status_of(exc), exc.code, exc.message, headers=headers)


def unavailable(exc: Exception) -> Response:
    """Redis or MongoDB is down for a moment: a clear 503, not a stack trace. (A vote answered
    so may still have been counted if the connection broke after the script ran: voting again
    then answers "already voted".)"""
    log.warning("storage unavailable", extra={"error": repr(exc)})
    return error_response(503, "unavailable", UNAVAILABLE_MESSAGE, headers={"Retry-After": "2"})


def safe_return_to(value: str | None, site_url: str) -> str | None:
    """``value`` only if it points at the feed (under ``site_url``), else None."""
    if not value or not site_url or len(value) > 2000:
        return None
    if any(ord(c) < 33 or c == "\\" for c in value):
        return None
    if value == site_url or any(value.startswith(site_url + sep) for sep in "/?#"):
        return value
    return None


def results_of(poll: Poll, counts: Counts) -> Results:
    rows, total = PollService.results(poll, counts)
    return Results(
        total_votes=total,
        options=[OptionResult(option_id=o, text=t, votes=v, percent=p) for o, t, v, p in rows],
    )


def receipt_of(result: VoteResult, now: datetime) -> dict[str, Any]:
    """A ``VoteReceipt`` as plain data (the answer to every vote: no model built per vote)."""
    results = None
    if result.poll.results_visible(now, voted=True):
        rows, total = PollService.results(result.poll, result.counts)
        results = {
            "total_votes": total,
            "options": [
                {"option_id": o, "text": t, "votes": v, "percent": p} for o, t, v, p in rows
            ],
        }
    return {
        "poll_id": result.poll.poll_id,
        "options": list(result.options),
        "counted": True,
        "flagged": list(result.flags),
        "results": results,
    }


def view_of(
    poll: Poll, counts: Counts, voted: bool, now: datetime, *, editor: bool = False
) -> PollView:
    visible = editor or poll.results_visible(now, voted=voted)
    return PollView(
        poll_id=poll.poll_id,
        question=poll.question,
        options=list(poll.options),
        multiple=poll.multiple,
        results_visibility=poll.results_visibility,
        opens_at=poll.opens_at,
        closes_at=poll.closes_at,
        closed_at=poll.closed_at,
        countries=list(poll.countries),
        status=poll.phase(now),
        version=poll.version,
        created_at=poll.created_at,
        voted=voted,
        results=results_of(poll, counts) if visible else None,
        results_hidden_reason=None if visible else poll.hidden_reason(),
    )


def api_routes(api: PollsOpenAPI, ctx: Context) -> list[BaseRoute]:
    service = ctx.service

    def poll_id_of(request: Request) -> str:
        poll_id = str(request.path_params["poll_id"])
        if not POLL_ID.match(poll_id):
            raise PollNotFound(poll_id[:64])
        return poll_id

    def editor(request: Request) -> Principal:
        return ctx.tokens.authenticate(request, Role.EDITOR)

    def with_cookie(response: Response, voter: Voter) -> Response:
        if voter.is_new:
            ctx.identities.cookies.issue(response, voter.voter_id)
        return response

    def json_api(
        fn: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await fn(request)
            except PollsError as exc:
                return error_of(exc)
            except AuthError as exc:
                return error_response(
                    401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"}
                )
            except ForbiddenError as exc:
                return error_response(403, "forbidden", str(exc))
            except UNAVAILABLE as exc:
                return unavailable(exc)

        return endpoint

    def html(
        fn: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await fn(request)
            except UNAVAILABLE as exc:
                log.warning("storage unavailable", extra={"error": repr(exc)})
                page = ctx.pages.message("Сервис временно недоступен", UNAVAILABLE_MESSAGE)
                return HTMLResponse(page, 503, headers={"Retry-After": "2"})

        return endpoint

    # --- reading ----------------------------------------------------------------------------

    async def list_polls(request: Request) -> Response:
        page = _int_param(request, "page", 1, 1, 1_000_000)
        per_page = _int_param(request, "per_page", 20, 1, ctx.page_size_max)
        voter_id = ctx.identities.known_voter(request)
        views, total = await service.page(page, per_page, voter_id)
        body = PollPage(
            items=[view_of(p, c, v, service.clock()) for p, c, v in views],
            page=page,
            per_page=per_page,
            total=total,
            pages=max(1, -(-total // per_page)),
        )
        return json_response(body)

    async def get_poll(request: Request) -> Response:
        poll_id = poll_id_of(request)
        voter = ctx.identities.voter(request)
        poll, counts, voted = await service.view(poll_id, voter.voter_id)
        response = json_response(view_of(poll, counts, voted, service.clock()), headers=NO_STORE)
        return with_cookie(response, voter)

    # --- authoring --------------------------------------------------------------------------

    async def create_poll(request: Request) -> Response:
        principal = editor(request)
        data = await parse_body(request, NewPoll, 64_000)
        poll, _ = await service.create(
            data, editor=principal.editor_id, poll_id=secrets.token_hex(8)
        )
        counts = Counts({o: 0 for o in poll.option_ids()}, 0, 0)
        headers = {"Location": f"/api/v1/polls/{poll.poll_id}"}
        return json_response(
            view_of(poll, counts, False, service.clock(), editor=True), 201, headers
        )

    async def edit_poll(request: Request) -> Response:
        editor(request)
        poll_id = poll_id_of(request)
        data = await parse_body(request, PollEdit, 64_000)
        poll = await service.edit(poll_id, data)
        return await editor_view(poll)

    async def close_poll(request: Request) -> Response:
        editor(request)
        poll = await service.close(poll_id_of(request))
        return await editor_view(poll)

    async def editor_view(poll: Poll) -> Response:
        counts = await service.counter.counts(poll.poll_id) or Counts({}, 0, 0)
        return json_response(view_of(poll, counts, False, service.clock(), editor=True))

    async def anomalies(request: Request) -> Response:
        editor(request)
        rows = await service.counter.anomalies()
        body = AnomalyList(
            items=[
                Anomaly(
                    poll_id=r.poll_id,
                    kind=r.kind,
                    key=r.key,
                    flagged_votes=r.flagged_votes,
                    first_at=from_epoch_ms(r.first_ms),
                    last_at=from_epoch_ms(r.last_ms),
                )
                for r in rows
            ]
        )
        return json_response(body)

    # --- voting -----------------------------------------------------------------------------

    async def vote(request: Request) -> Response:
        poll_id = str(request.path_params["poll_id"])
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == FORM:
            return await vote_form(request, poll_id)
        voter = ctx.identities.voter(request)
        try:
            if not POLL_ID.match(poll_id):
                raise PollNotFound(poll_id[:64])
            data = await parse_body(request, VoteRequest, 16_384)
            result = await service.vote(
                poll_id, voter.voter_id, data.options, ctx.identities.origin(request)
            )
        except PollsError as exc:
            return with_cookie(error_of(exc), voter)
        except BadRequest as exc:
            response = error_response(exc.status, exc.code, exc.message, exc.fields)
            return with_cookie(response, voter)
        return with_cookie(json_response(receipt_of(result, service.clock()), 201, NO_STORE), voter)

    async def vote_form(request: Request, poll_id: str) -> Response:
        voter = ctx.identities.voter(request)
        body = await _read_limited(request, MAX_FORM_BYTES)
        if body is None:
            html = ctx.pages.message("Голос не принят", "Слишком большой запрос")
            return with_cookie(HTMLResponse(html, 413), voter)
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=False, max_num_fields=50)
        except (UnicodeDecodeError, ValueError):
            html = ctx.pages.message("Голос не принят", "Форма отправлена в неверном виде")
            return with_cookie(HTMLResponse(html, 400), voter)
        options = [v for k, v in pairs if k == "option"]
        return_to = safe_return_to(
            next((v for k, v in pairs if k == "return_to"), None), ctx.site_url
        )
        try:
            if not POLL_ID.match(poll_id):
                raise PollNotFound(poll_id[:64])
            await service.vote(poll_id, voter.voter_id, options, ctx.identities.origin(request))
        except PollsError as exc:
            status = status_of(exc)
            title = PAGE_TITLES.get(status, "Голос не принят")
            html = ctx.pages.message(title, exc.message, return_to=return_to)
            headers = (
                {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, TooManyVotes) else None
            )
            return with_cookie(HTMLResponse(html, status, headers=headers), voter)
        except UNAVAILABLE as exc:
            log.warning("storage unavailable", extra={"error": repr(exc)})
            html = ctx.pages.message(
                "Сервис временно недоступен", UNAVAILABLE_MESSAGE, return_to=return_to
            )
            return with_cookie(HTMLResponse(html, 503, headers={"Retry-After": "2"}), voter)
        target = return_to or f"{ctx.pages.base}/polls/{poll_id}?vote=ok"
        return with_cookie(RedirectResponse(target, status_code=303), voter)

    # --- pages ------------------------------------------------------------------------------

    async def poll_page(request: Request) -> Response:
        voter = ctx.identities.voter(request)
        try:
            poll_id = poll_id_of(request)
            poll, counts, voted = await service.view(poll_id, voter.voter_id)
        except PollNotFound as exc:
            html = ctx.pages.message("Опрос не найден", exc.message)
            return with_cookie(HTMLResponse(html, 404), voter)
        view = view_of(poll, counts, voted, service.clock())
        rows = None
        if view.results is not None:
            rows = [(o.option_id, o.text, o.votes, o.percent) for o in view.results.options]
        html = ctx.pages.poll(
            poll,
            phase=view.status,
            rows=rows,
            total=counts.total,
            voted=voted,
            notice=NOTICES.get(request.query_params.get("vote", "")),
            return_to=safe_return_to(request.query_params.get("return_to"), ctx.site_url),
        )
        return with_cookie(HTMLResponse(html, headers=NO_STORE), voter)

    async def list_page(request: Request) -> Response:
        try:
            page = _int_param(request, "page", 1, 1, 1_000_000)
        except BadRequest:
            page = 1
        per_page = 20
        views, total = await service.page(page, per_page, ctx.identities.known_voter(request))
        items = []
        for poll, counts, voted in views:
            view = view_of(poll, counts, voted, service.clock())
            items.append((poll, counts.total if view.results is not None else None, view.status))
        html = ctx.pages.listing(items, page=page, pages=max(1, -(-total // per_page)))
        return HTMLResponse(html)

    # --- the OpenAPI document ----------------------------------------------------------------

    poll_param = [_path_param("poll_id", "the poll's id")]
    api.operation(
        "GET",
        "/api/v1/polls",
        "All polls, newest first, with results where they are visible",
        responses={200: PollPage, 422: ErrorBody},
        parameters=[
            _query_param("page", "page number, from 1"),
            _query_param("per_page", f"polls a page (1..{ctx.page_size_max}, default 20)"),
        ],
        tags=["polls"],
    )
    api.operation(
        "POST",
        "/api/v1/polls",
        "Create a poll (editors); it opens at once when opens_at is absent or past",
        body=NewPoll,
        responses={201: PollView, 400: ErrorBody, 413: ErrorBody, 415: ErrorBody, 422: ErrorBody},
        secured=True,
        tags=["authoring"],
    )
    api.operation(
        "GET",
        "/api/v1/polls/{poll_id}",
        "A poll: question, options, and the results when they are visible to the caller",
        responses={200: PollView, 404: ErrorBody},
        parameters=poll_param,
        tags=["polls"],
    )
    api.operation(
        "PATCH",
        "/api/v1/polls/{poll_id}",
        "Change a poll before it opens (editors)",
        body=PollEdit,
        responses={
            200: PollView,
            400: ErrorBody,
            404: ErrorBody,
            409: ErrorBody,
            413: ErrorBody,
            415: ErrorBody,
            422: ErrorBody,
        },
        parameters=poll_param,
        secured=True,
        tags=["authoring"],
    )
    api.operation(
        "POST",
        "/api/v1/polls/{poll_id}/close",
        "Close an open poll now (editors)",
        responses={200: PollView, 404: ErrorBody, 409: ErrorBody},
        parameters=poll_param,
        secured=True,
        tags=["authoring"],
    )
    api.operation(
        "POST",
        "/api/v1/polls/{poll_id}/votes",
        "Vote: JSON answers 201; an HTML form (field option, optional return_to) answers 303",
        body=VoteRequest,
        responses={
            201: VoteReceipt,
            303: None,
            400: ErrorBody,
            404: ErrorBody,
            409: ErrorBody,
            413: ErrorBody,
            415: ErrorBody,
            422: ErrorBody,
            429: ErrorBody,
        },
        parameters=poll_param,
        tags=["voting"],
    )
    api.operation(
        "GET",
        "/api/v1/anomalies",
        "Bursts of votes from one address or subnet, flagged per poll (editors)",
        responses={200: AnomalyList},
        secured=True,
        tags=["authoring"],
    )
    api.operation(
        "GET",
        "/polls",
        "All polls (HTML page)",
        responses={200: "text/html"},
        parameters=[_query_param("page", "page number, from 1")],
        tags=["pages"],
    )
    api.operation(
        "GET",
        "/polls/{poll_id}",
        "One poll with its results and a voting form (HTML page)",
        responses={200: "text/html", 404: "text/html"},
        parameters=poll_param,
        tags=["pages"],
    )
    api.form_body("POST", "/api/v1/polls/{poll_id}/votes", VoteForm)

    return [
        Route("/api/v1/polls", json_api(list_polls), methods=["GET"]),
        Route("/api/v1/polls", json_api(create_poll), methods=["POST"]),
        Route("/api/v1/polls/{poll_id}", json_api(get_poll), methods=["GET"]),
        Route("/api/v1/polls/{poll_id}", json_api(edit_poll), methods=["PATCH"]),
        Route("/api/v1/polls/{poll_id}/close", json_api(close_poll), methods=["POST"]),
        Route("/api/v1/polls/{poll_id}/votes", json_api(vote), methods=["POST"]),
        Route("/api/v1/anomalies", json_api(anomalies), methods=["GET"]),
        Route("/polls", html(list_page), methods=["GET"]),
        Route("/polls/{poll_id}", html(poll_page), methods=["GET"]),
    ]


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": POLL_ID.pattern},
    }


def _query_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "integer", "minimum": 1},
    }


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequest(
            422,
            "validation_failed",
            f"{name} must be a whole number from {low} to {high}",
            [{"field": name, "message": f"from {low} to {high}", "type": "range"}],
        )
    return int(raw)


async def _read_limited(request: Request, limit: int) -> bytes | None:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)
