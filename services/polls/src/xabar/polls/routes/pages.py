"""The reader pages: one poll with its results and a voting form, and the list of all polls.

Each is rendered once per revision of what it shows and compressed then with gzip and brotli
(``xabar.polls.pagecache.ReaderPages``); a request gets the coding its ``Accept-Encoding`` asks
for, or a 304. A reader without a voter cookie gets the public page (most are answered by the
server's protocol before they get here: ``xabar.runtime.fastprotocol``); a reader with one gets
the variant of what they did (``Cache-Control: private``), picked with one pipelined read of
Redis, never rendered per request. Reading a page sets no cookie: the vote does."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from xabar.polls.deps import Deps
from xabar.polls.pages import NOTICES
from xabar.polls.routes.params import poll_id_of, query_param, safe_return_to
from xabar.polls.routes.votes import CHOICE_COOKIE
from xabar.runtime.params import query_int
from xabar.runtime.rendered import respond
from xabar.runtime.routing import Router

router = Router(tags=["pages"])


@router.get(
    "/polls",
    "All polls (HTML page)",
    responses={200: "text/html", 304: None, 422: "text/html"},
    parameters=[query_param("page", "page number, from 1")],
)
async def list_page(request: Request) -> Response:
    deps = Deps.of(request)
    page = query_int(request, "page", default=1, low=1, high=1_000_000)
    voter_id = deps.identities.known_voter(request)
    return respond(await deps.reader_pages.list_page(page, voter_id), request.headers)


@router.get(
    "/polls/{poll_id}",
    "One poll with its results and a voting form (HTML page)",
    responses={200: "text/html", 304: None, 404: "text/html"},
)
async def poll_page(request: Request) -> Response:
    deps = Deps.of(request)
    choice = request.cookies.get(CHOICE_COOKIE)
    page = await deps.reader_pages.poll_page(
        poll_id_of(request),
        deps.identities.known_voter(request),
        choice_cookie=choice,
        notice=NOTICES.get(request.query_params.get("vote", "")),
        return_to=safe_return_to(request.query_params.get("return_to"), deps.site_url),
    )
    response = respond(page, request.headers)
    if choice is not None:  # the choice is said once: the cookie goes
        response.raw_headers = [*response.raw_headers]  # the page's own list stays as it is
        response.delete_cookie(CHOICE_COOKIE, path="/")
    return response
