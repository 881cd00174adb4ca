"""The reader pages: one poll with its results and a voting form, and the list of all polls.

Each is rendered once per change of what it shows (the poll's version, its counted-vote sequence
and phase; the list's polls) and compressed then with gzip and brotli (``runtime.encodings``);
a request gets the coding its ``Accept-Encoding`` asks for."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from xabar.polls.deps import Deps
from xabar.polls.domain import Poll
from xabar.polls.pages import NOTICES
from xabar.polls.routes.params import poll_id_of, query_param, safe_return_to
from xabar.polls.routes.votes import CHOICE_COOKIE
from xabar.polls.views import view_of
from xabar.runtime.encodings import Encoded, respond
from xabar.runtime.params import query_int
from xabar.runtime.routing import Router

router = Router(tags=["pages"])
NO_STORE = {"Cache-Control": "no-store"}
PER_PAGE = 20
HTML = "text/html; charset=utf-8"


@router.get(
    "/polls",
    "All polls (HTML page)",
    responses={200: "text/html", 422: "text/html"},
    parameters=[query_param("page", "page number, from 1")],
)
async def list_page(request: Request) -> Response:
    deps = Deps.of(request)
    page = query_int(request, "page", default=1, low=1, high=1_000_000)
    views, total = await deps.service.page(page, PER_PAGE, deps.identities.known_voter(request))
    now = deps.service.clock()
    items = []
    for poll, counts, voted in views:
        view = view_of(poll, counts, voted, now)
        items.append((poll, counts.total if view.results is not None else None, view.status))
    pages = max(1, -(-total // PER_PAGE))
    # what the page shows is all its revision: the page is rendered and compressed once per change
    revision = (pages, tuple((p.poll_id, p.version, shown, phase) for p, shown, phase in items))
    encoded = deps.page_cache.get(("list", page), revision)
    if encoded is None:
        html = deps.pages.listing(items, page=page, pages=pages)
        encoded = deps.page_cache.put(("list", page), revision, Encoded.of(html.encode()))
    return respond(encoded, request.headers, media_type=HTML)


@router.get(
    "/polls/{poll_id}",
    "One poll with its results and a voting form (HTML page)",
    responses={200: "text/html", 404: "text/html"},
)
async def poll_page(request: Request) -> Response:
    deps = Deps.of(request)
    voter = request.state.voter = deps.identities.voter(request)
    poll_id = poll_id_of(request)
    poll, counts, voted = await deps.service.view(poll_id, voter.voter_id)
    view = view_of(poll, counts, voted, deps.service.clock())
    rows = None
    if view.results is not None:
        rows = [(o.option_id, o.text, o.votes, o.percent) for o in view.results.options]
    choice = _choice_of(request, poll) if voted else None
    plain = choice is None and not request.query_params  # the page every reader like this sees
    revision = (poll.version, counts.seq, view.status)
    encoded = deps.page_cache.get(("poll", poll_id, voted), revision) if plain else None
    if encoded is None:
        html = deps.pages.poll(
            poll,
            phase=view.status,
            rows=rows,
            total=counts.total,
            voted=voted,
            notice=NOTICES.get(request.query_params.get("vote", "")),
            return_to=safe_return_to(request.query_params.get("return_to"), deps.site_url),
            choice=choice,
        )
        encoded = Encoded.of(html.encode())
        if plain:  # rendered and compressed once per change of the poll or its counts
            deps.page_cache.put(("poll", poll_id, voted), revision, encoded)
    response = respond(encoded, request.headers, media_type=HTML, headers=NO_STORE)
    if voter.is_new:
        deps.identities.cookies.issue(response, voter.voter_id)
    if choice is not None:
        response.delete_cookie(CHOICE_COOKIE, path="/")
    return response


def _choice_of(request: Request, poll: Poll) -> list[str] | None:
    """The texts of the options the reader just chose in this poll (the vote's cookie)."""
    poll_id, _, options = request.cookies.get(CHOICE_COOKIE, "").partition(".")
    texts = {o.option_id: o.text for o in poll.options}
    chosen = [texts[o] for o in options.split("-") if o in texts]
    return chosen if poll_id == poll.poll_id and chosen else None
