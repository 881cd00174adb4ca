"""The one typed object the HTTP endpoints get their collaborators from."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from xabar.polls.pagecache import ReaderPages
from xabar.polls.pages import Pages
from xabar.polls.service import PollService
from xabar.polls.views import Receipts
from xabar.polls.voters import Identities
from xabar.runtime.auth import TokenVerifier
from xabar.runtime.security import OriginCheck


@dataclass(frozen=True, slots=True)
class Deps:
    service: PollService
    identities: Identities
    tokens: TokenVerifier
    pages: Pages
    receipts: Receipts
    reader_pages: ReaderPages  # the reader pages, rendered and compressed once per revision
    origins: OriginCheck  # the sites whose pages may post a vote
    site_url: str  # the feed: a form vote's return_to is followed only under it
    page_size_max: int  # the largest per_page of the poll list

    @staticmethod
    def of(conn: HTTPConnection) -> Deps:
        """The app's deps (``create_app`` puts them in ``app.state.deps``)."""
        deps: Deps = conn.app.state.deps
        return deps
