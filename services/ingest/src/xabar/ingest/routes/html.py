"""What the Russian HTML pages share: their security headers (``PAGES``, set on the app), and
how an endpoint names the page that answers its errors.

An HTML endpoint calls ``answer_errors_with(request, page)`` before it reads anything; the
exception handlers (``routes.errors``) then hand each mapped error, with its status, to
``page(exc, spec)``, which renders the page in Russian (the form again with what was typed, say).
A request whose endpoint named no page is answered with the JSON error body.
"""

from typing import Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from xabar.runtime.routing import ErrorMap
from xabar.runtime.security import PagePolicy

# the security headers of every page (the runtime's SecurityHeaders adds them): no script at
# all, the pages' own <style>, posts to ourselves only, never framed, no referrer sent on
PAGES = PagePolicy(referrer="no-referrer").with_(style_src="'unsafe-inline'")
HTML_HEADERS = {"Cache-Control": "no-store"}
FOREIGN_ORIGIN = "Эту форму можно отправить только со страниц нашего сайта. Откройте её у нас."
MIB = 1024 * 1024
HTML = "text/html"


class ErrorPage(Protocol):
    def __call__(self, exc: Exception, spec: ErrorMap) -> Response: ...


def answer_errors_with(request: Request, page: ErrorPage) -> None:
    request.state.error_page = page


def error_page_of(request: Request) -> ErrorPage | None:
    page: ErrorPage | None = getattr(request.state, "error_page", None)
    return page


def html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return HTMLResponse(body, status_code=status, headers={**HTML_HEADERS, **(headers or {})})


def pages_answer(*statuses: int) -> dict[int, type | str | None]:
    """OpenAPI responses of an HTML endpoint: each status a page."""
    return dict.fromkeys(statuses, HTML)


def size(value: int, unit: int = MIB) -> str:
    """``value`` in ``unit`` (MB by default) as a person reads it: ``10``, ``1.5``."""
    number = value / unit
    return f"{number:.0f}" if number == int(number) else f"{number:.1f}"
