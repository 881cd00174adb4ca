"""The fast lane of ``POST /api/v1/polls/{poll_id}/votes`` with a JSON body: the service's hot
write, answered without Starlette's per-request machinery (middleware wrappers, routing, the
``Request`` object, a pydantic model in and out).

It takes only what is plainly a valid vote: ``application/json``, at most ``MAX_BODY`` bytes, a
body of exactly ``{"options": [1 to 20 strings of 1 to 40 characters]}`` and a well-formed poll
id. Everything else - a form, a body too large, malformed JSON, a field the schema refuses -
goes on to the Starlette app with its body replayed, so its answer is exactly the route's
(``routes.vote``). A vote it takes is counted by the same ``PollService.vote`` and answered with
the same statuses, bodies, headers and cookie as the route; the request is counted in the same
metrics under the route's template.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from typing import Any

from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xabar.polls.domain import POLL_ID, Poll, percentages
from xabar.polls.errors import UNAVAILABLE, PollsError
from xabar.polls.routes import Context, error_of, unavailable
from xabar.polls.service import VoteResult
from xabar.polls.voters import Voter
from xabar.runtime.clients import client_address
from xabar.runtime.http import error_response
from xabar.runtime.metrics import LATENCY, REQUESTS

log = logging.getLogger("xabar.http")  # where the app's handler logs unexpected errors

ROUTE = "/api/v1/polls/{poll_id}/votes"
PREFIX, SUFFIX = "/api/v1/polls/", "/votes"
MAX_BODY = 16_384  # the route's own limit for a JSON vote
_JSON = b"application/json"
_COUNTED = REQUESTS.labels("POST", ROUTE, "201")
_LATENCY = LATENCY.labels("POST", ROUTE)


class FastVotes:
    """ASGI middleware, first in the polls app's stack (only Starlette's outermost error
    middleware is in front of it); what it does not take goes on through the rest."""

    def __init__(self, app: ASGIApp, ctx: Context) -> None:
        self.app = app
        self.ctx = ctx
        self._receipts = Receipts()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith(PREFIX)
            or not scope["path"].endswith(SUFFIX)
        ):
            await self.app(scope, receive, send)
            return
        ctype, length, cookie = b"", b"", b""
        for name, value in scope["headers"]:
            if name == b"content-type":
                ctype = value
            elif name == b"content-length":
                length = value
            elif name == b"cookie":
                cookie = value
        if ctype.split(b";")[0].strip().lower() != _JSON or (
            length.isdigit() and int(length) > MAX_BODY
        ):
            await self.app(scope, receive, send)
            return
        body, more = await _read(receive, MAX_BODY)
        poll_id = scope["path"][len(PREFIX) : -len(SUFFIX)]
        options = None if more or len(body) > MAX_BODY else _plain_vote(body)
        if options is None or not POLL_ID.match(poll_id):
            await self.app(scope, _replay(body, more, receive), send)
            return
        started = time.perf_counter()
        status = await self._vote(scope, send, poll_id, options, cookie)
        if status == 201:
            _COUNTED.inc()
        else:
            REQUESTS.labels("POST", ROUTE, str(status)).inc()
        _LATENCY.observe(time.perf_counter() - started)

    async def _vote(
        self, scope: Scope, send: Send, poll_id: str, options: list[str], cookie: bytes
    ) -> int:
        ctx = self.ctx
        voter = ctx.identities.voter_of(_cookie(cookie, ctx.identities.cookies.name))
        try:
            origin = ctx.identities.origin_of(client_address(scope, ctx.identities.trusted))
            result = await ctx.service.vote(poll_id, voter.voter_id, options, origin)
        except PollsError as exc:
            return await self._respond(scope, send, error_of(exc), voter)
        except UNAVAILABLE as exc:  # as the route's wrapper answers it: no cookie
            return await self._respond(scope, send, unavailable(exc), None)
        except Exception as exc:  # as the app's error handler answers it
            log.exception("unhandled error", exc_info=exc)
            failed = error_response(
                500, "internal_error", "something went wrong on our side; try again"
            )
            return await self._respond(scope, send, failed, None)
        body = self._receipts.render(result, ctx.service.clock())
        headers = [
            (b"cache-control", b"no-store"),
            (b"content-length", str(len(body)).encode()),
            (b"content-type", _JSON),
        ]
        if voter.is_new:
            headers.append((b"set-cookie", ctx.identities.cookies.header(voter.voter_id)))
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return 201

    async def _respond(
        self, scope: Scope, send: Send, response: Response, voter: Voter | None
    ) -> int:
        if voter is not None and voter.is_new:
            self.ctx.identities.cookies.issue(response, voter.voter_id)
        await response(scope, _no_body, send)
        return response.status_code


class Receipts:
    """The route's receipt JSON (``routes.receipt_of`` dumped as ``json_response`` dumps it),
    from parts rendered once per version of a poll: only the numbers are written per vote."""

    def __init__(self) -> None:
        self._parts: dict[str, tuple[Poll, str, list[tuple[str, str]]]] = {}

    def render(self, result: VoteResult, now: datetime) -> bytes:
        poll = result.poll
        cached = self._parts.get(poll.poll_id)
        if cached is None or cached[0] is not poll:
            cached = self._parts[poll.poll_id] = (poll, *_parts_of(poll))
        _, head, rows = cached
        options = ",".join(f'"{o}"' for o in result.options)  # ids the counter took: [a-z0-9]
        flagged = ",".join(f'"{f}"' for f in result.flags)  # "address", "subnet"
        results = "null"
        if poll.results_visible(now, voted=True):
            counts = [result.counts.options.get(o.option_id, 0) for o in poll.options]
            shares = percentages(counts)
            items = ",".join(
                f"{before}{votes}{between}{share}}}"
                for (before, between), votes, share in zip(rows, counts, shares, strict=True)
            )
            results = f'{{"total_votes":{result.counts.total},"options":[{items}]}}'
        return (
            f'{head}"options":[{options}],"counted":true,"flagged":[{flagged}],'
            f'"results":{results}}}'
        ).encode()


def _parts_of(poll: Poll) -> tuple[str, list[tuple[str, str]]]:
    def dump(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    head = f'{{"poll_id":{dump(poll.poll_id)},'
    rows = [
        (f'{{"option_id":{dump(o.option_id)},"text":{dump(o.text)},"votes":', ',"percent":')
        for o in poll.options
    ]
    return head, rows


def _plain_vote(body: bytes) -> list[str] | None:
    """The options of ``{"options": [...]}`` if the route's schema takes the body as it is."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if type(data) is not dict or len(data) != 1:
        return None
    options = data.get("options")
    if type(options) is not list or not 1 <= len(options) <= 20:
        return None
    for option in options:
        if type(option) is not str or not 1 <= len(option) <= 40:
            return None
    return options


def _cookie(header: bytes, name: str) -> str | None:
    if not header or name.encode() not in header:
        return None
    return cookie_parser(header.decode("latin-1")).get(name)


async def _read(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """The body, up to ``limit`` bytes; and whether more is left to read."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: let the route see it
            return b"".join(chunks), True
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = bool(message.get("more_body", False))
        if size > limit:  # also on the last chunk: a chunked body has no Content-Length
            return b"".join(chunks), more
        if not more:
            return b"".join(chunks), False


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """``receive`` with what was already read handed out again first."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replayed


async def _no_body() -> Message:  # pragma: no cover - responses do not read the request
    return {"type": "http.disconnect"}
