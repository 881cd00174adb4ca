"""What every newsroom page gets its collaborators from: one typed object, built by the
composition root (``app.create_app``) and kept in ``app.state.newsroom``."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from xabar.publisher.config import PublisherSettings
from xabar.publisher.errors import InvalidInput, PublisherError
from xabar.publisher.newsroom.alerts import Alerts
from xabar.publisher.newsroom.kept import Kept
from xabar.publisher.newsroom.render import Pages
from xabar.publisher.repositories.sessions import Session, SessionStore
from xabar.publisher.repositories.tips import TipIndex
from xabar.publisher.routes.deps import Deps, of_type
from xabar.runtime.security import OriginCheck


@dataclass(frozen=True, slots=True)
class Newsroom:
    settings: PublisherSettings
    api: Deps  # the publisher's services: articles, inbox, editors, library, audit
    sessions: SessionStore
    pages: Pages
    alerts: Alerts
    featured: Kept[list[dict[str, Any]]]  # the news of the day, kept a few seconds
    tips: TipIndex  # the inbox's list (repositories.tips)
    origin: OriginCheck

    @property
    def base(self) -> str:
        """The base path ("" at the root, ``/newsroom`` behind the edge)."""
        return self.settings.newsroom_path

    async def attempt(
        self,
        session: Session,
        work: Callable[[], Awaitable[object]],
        *,
        done: str,
        failed: str,
        refused: tuple[type[PublisherError], ...] = (InvalidInput,),
    ) -> bool:
        """Run ``work`` and flash ``done``; if it is ``refused``, flash «``failed``: its
        message.» as an error instead. Whether it was done."""
        try:
            await work()
        except refused as exc:
            await self.sessions.flash(session, f"{failed}: {exc.message}.", "error")
            return False
        await self.sessions.flash(session, done)
        return True

    async def aclose(self) -> None:
        """At shutdown: background work stops before the connections it uses are closed."""
        await self.alerts.aclose()

    @classmethod
    def of(cls, request: Request) -> "Newsroom":
        return of_type(request.app.state.newsroom, cls, "app.state.newsroom is not the Newsroom")
