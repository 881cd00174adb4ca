"""Path and query parameters of the polls routes, each refused with a clear 4xx."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from starlette.requests import Request

from xabar.polls.domain import POLL_ID
from xabar.polls.errors import PollNotFound
from xabar.runtime.auth import Principal


def poll_id_of(request: Request) -> str:
    """The ``{poll_id}`` of the path; an id no poll can have is a poll that is not there."""
    poll_id = str(request.path_params["poll_id"])
    if not POLL_ID.match(poll_id):
        raise PollNotFound(poll_id[:64])
    return poll_id


def principal_of(request: Request) -> Principal:
    """The editor the guard let in (``routes.guard`` puts it in ``request.state``)."""
    principal: Principal = request.state.principal
    return principal


def query_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "integer", "minimum": 1},
    }


def safe_return_to(value: str | None, site_url: str) -> str | None:
    """``value`` only if it points at the feed (under ``site_url``), else None."""
    if not value or not site_url or len(value) > 2000:
        return None
    if any(ord(c) < 33 or c == "\\" for c in value):
        return None
    if value == site_url or any(value.startswith(site_url + sep) for sep in "/?#"):
        return value
    return None


VOTED, TALLY = "voted", "tally"


def with_vote(url: str, poll_id: str, options: Sequence[str], tally: int) -> str:
    """``url`` (a page of the site) saying what was just counted, for the page to show it:
    ``voted=POLL_ID.OPTION[-OPTION...]`` and ``tally=N``, the poll's counted-vote sequence with
    this vote (the version of the first ``poll.tallied`` that includes it), added to its query
    (in place of any it had) before its fragment."""
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if p and p.partition("=")[0] not in (VOTED, TALLY)]
    kept += [f"{VOTED}={poll_id}.{'-'.join(options)}", f"{TALLY}={tally}"]
    return urlunsplit(parts._replace(query="&".join(kept)))
