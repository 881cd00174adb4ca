"""Newsroom pages rendered from Jinja2 templates (``newsroom/templates``), in Russian, with times
in the newsroom's time zone (Babel's CLDR data).

Every template extends ``base.html`` and gets, besides what its endpoint passes:

- ``url('endpoint', **params)``: the path of a newsroom page (base path included);
- ``static('file')``: the path of a static file, with its content hash (cached for a year);
- ``session`` (None on the login page), ``csrf`` (put ``{{ csrf_field() }}`` in every form),
  ``nav`` (the entries this role sees), ``flashes`` (messages of the last action), ``title``;
- filters ``when`` ("7 марта 2026, 14:05"), ``day`` ("7 марта 2026"), ``clock`` ("14:05"),
  ``local_input`` (the value of an ``<input type="datetime-local">``) and ``role_label``.
"""

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import NoMatchFound, Route

from xabar.publisher.domain import ROLE_LABELS, Page
from xabar.publisher.repositories.sessions import Session, SessionStore
from xabar.runtime.auth import Role

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
ROUTE_PREFIX = "newsroom."
LOCALE = "ru"
NBSP = "\xa0"


@dataclass(frozen=True, slots=True)
class NavItem:
    """An entry of the navigation: ``label`` links to the page ``endpoint`` (its name);
    ``order`` places it; shown to ``role`` and above."""

    label: str
    endpoint: str
    order: int
    role: Role = Role.CONTRIBUTOR


def path_for(request: Request, endpoint: str, **params: Any) -> str:
    """The path of a newsroom page (by its endpoint's name), base path included. Routes are
    found by name in a map made once per app: Starlette's ``url_path_for`` tries every route in
    turn (240 us a link with the publisher's routes, several milliseconds a list page)."""
    routes: dict[str, Route] | None = getattr(request.app.state, "newsroom_routes", None)
    if routes is None:
        routes = {r.name: r for r in request.app.routes if isinstance(r, Route)}
        request.app.state.newsroom_routes = routes
    route = routes.get(ROUTE_PREFIX + endpoint)
    if route is None:
        raise NoMatchFound(ROUTE_PREFIX + endpoint, params)
    return str(route.url_path_for(route.name, **params))


@cache
def asset_version(name: str) -> str:
    """The content hash of a static file (read once per process)."""
    return hashlib.blake2b((STATIC / name).read_bytes(), digest_size=6).hexdigest()


class Dates:
    """Times as the newsroom reads them, in its zone and in Russian. The month names are Babel's
    (CLDR, the genitive "format" forms: "7 марта"), read once; formatting a row's time is then a
    string join, not a Babel pattern per call (65 us each)."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.locale = Locale.parse(LOCALE)
        self.months = {n: str(name) for n, name in self.locale.months["format"]["wide"].items()}

    def _day(self, local: datetime) -> str:
        return f"{local.day}{NBSP}{self.months[local.month]}{NBSP}{local.year}"

    def when(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        local = value.astimezone(self.zone)
        return f"{self._day(local)}, {local:%H:%M}"

    def day(self, value: datetime) -> str:
        return self._day(value.astimezone(self.zone))

    def clock(self, value: datetime) -> str:
        return f"{value.astimezone(self.zone):%H:%M}"

    def weekday(self, value: datetime) -> str:
        return format_datetime(value, "EEEE, d MMMM y", tzinfo=self.zone, locale=self.locale)

    def local_input(self, value: datetime | None) -> str:
        return "" if value is None else value.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")


def environment(dates: Dates) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["when"] = dates.when
    env.filters["day"] = dates.day
    env.filters["clock"] = dates.clock
    env.filters["weekday"] = dates.weekday
    env.filters["local_input"] = dates.local_input
    env.filters["role_label"] = lambda role: ROLE_LABELS[Role(role)]
    return env


class Paged(Protocol):
    """A page of a list (``domain.Page``, or one another service answered)."""

    @property
    def total(self) -> int: ...
    @property
    def page(self) -> int: ...
    @property
    def pages(self) -> int: ...


def pager_values(found: Paged) -> dict[str, Any]:
    """What a list's heading and its pager (``_pager.pager``) show of the page ``found``."""
    return {"total": found.total, "page": found.page, "pages": found.pages}


def queue_values(
    status: StrEnum,
    labels: Mapping[Any, str],
    counts: Mapping[str, int],
    rows: list[dict[str, Any]],
    found: Page[Any],
) -> dict[str, Any]:
    """What the page of a queue by status shows: its tabs (``_lists.status_tabs``: ``labels`` of
    each status, ``counts``), the ``rows`` of ``found`` and its pager."""
    return {
        "status": status.value,
        "statuses": {s.value: label for s, label in labels.items()},
        "counts": counts,
        "rows": rows,
        **pager_values(found),
    }


class Pages:
    def __init__(
        self, *, base: str, zone: ZoneInfo, nav: Iterable[NavItem], sessions: SessionStore
    ) -> None:
        self.base = base
        self.dates = Dates(zone)
        self.env = environment(self.dates)
        self.nav = tuple(sorted(nav, key=lambda n: n.order))
        self.sessions = sessions

    def static(self, name: str) -> str:
        return f"{self.base}/static/{name}?v={asset_version(name)}"

    def nav_for(self, request: Request, session: Session | None) -> list[dict[str, Any]]:
        if session is None:
            return []
        here = request.url.path
        home = path_for(request, "today")
        out = []
        for item in self.nav:
            if not session.role.at_least(item.role):
                continue
            href = path_for(request, item.endpoint)
            active = here == href if href == home else here.startswith(href)
            out.append({"label": item.label, "href": href, "active": active})
        return out

    def context(self, request: Request, title: str, values: Mapping[str, Any]) -> dict[str, Any]:
        session = getattr(request.state, "session", None)
        session = session if isinstance(session, Session) else None
        csrf = session.csrf if session else str(getattr(request.state, "login_csrf", ""))

        def csrf_field() -> Markup:
            return Markup('<input type="hidden" name="csrf" value="{}">').format(escape(csrf))

        return {
            "title": title,
            "base": self.base,
            "url": lambda endpoint, **params: path_for(request, endpoint, **params),
            "static": self.static,
            "session": session,
            "csrf": csrf,
            "csrf_field": csrf_field,
            "nav": self.nav_for(request, session),
            "flashes": session.flashes if session else (),
            "now": datetime.now(UTC),
            **values,
        }

    async def render(
        self,
        request: Request,
        template: str,
        title: str,
        values: Mapping[str, Any] | None = None,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """The page ``template`` as a response; the flashes it shows are spent."""
        context = self.context(request, title, values or {})
        body = self.env.get_template(template).render(context)
        session = context["session"]
        if session is not None and session.flashes:
            await self.sessions.shown(session)
        out = {"Cache-Control": "no-store", **(headers or {})}
        return HTMLResponse(body, status_code=status, headers=out)

    async def error(
        self, request: Request, status: int, message: str, headers: Mapping[str, str]
    ) -> Response:
        return await self.render(
            request,
            "error.html",
            "Ошибка" if status != 404 else "Страница не найдена",
            {"status": status, "message": message},
            status=status,
            headers=headers,
        )
