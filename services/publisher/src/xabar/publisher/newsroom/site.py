"""The newsroom's parts, built once by the publisher's composition root (``app.create_app``)."""

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from xabar.publisher.config import PublisherSettings
from xabar.publisher.newsroom import assets
from xabar.publisher.newsroom.alerts import Alerts, StreamsReport
from xabar.publisher.newsroom.deps import Newsroom
from xabar.publisher.newsroom.kept import Kept
from xabar.publisher.newsroom.pages import routers
from xabar.publisher.newsroom.render import Pages
from xabar.publisher.newsroom.web import PageRouter
from xabar.publisher.repositories.sessions import SessionStore
from xabar.publisher.repositories.tips import TipIndex
from xabar.publisher.routes.deps import Deps
from xabar.runtime.security import OriginCheck

FEATURED_KEPT_S = 3.0


def build(
    settings: PublisherSettings,
    api: Deps,
    *,
    sessions: SessionStore,
    tips: TipIndex,
    streams: StreamsReport,
    extra: tuple[PageRouter, ...] = (),
) -> Newsroom:
    """The newsroom on the publisher's services (``api``) and its stores in Redis (built by the
    composition root): ``sessions``, the inbox's ``tips`` and the ``streams`` report."""
    nav = [item for router in (*routers(), *extra) for item in router.nav]
    pages = Pages(
        base=settings.newsroom_path,
        zone=settings.newsroom_zone(),
        nav=nav,
        sessions=sessions,
    )
    origin = OriginCheck([settings.newsroom_home(), *settings.form_origins])
    return Newsroom(
        settings=settings,
        api=api,
        sessions=sessions,
        pages=pages,
        tips=tips,
        alerts=Alerts(streams, api.polls),
        featured=Kept(FEATURED_KEPT_S),
        origin=origin,
    )


def routes(settings: PublisherSettings, extra: tuple[PageRouter, ...] = ()) -> list[BaseRoute]:
    """Every page, the static files, and (under a base path) the base path without its slash."""
    base = settings.newsroom_path
    out: list[BaseRoute] = [assets.route(base)]
    for router in (*routers(), *extra):
        out.extend(router.mounted(base))
    if base:
        home = base + "/"

        async def newsroom_bare(_: Request) -> Response:
            return RedirectResponse(home, status_code=308)

        out.append(Route(base, newsroom_bare, methods=["GET", "HEAD"], name="newsroom.bare"))
    return out
