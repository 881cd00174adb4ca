"""What the Russian HTML pages share: their security headers (``PAGES``, set on the app), and
how an endpoint names the page that answers its errors.

An HTML endpoint calls ``answer_errors_with(request, page)`` before it reads anything; the
exception handlers (``routes.errors``) then hand each mapped error, with its status, to
``page(exc, spec)``, which renders the page in Russian (the form again with what was typed, say).
A request whose endpoint named no page is answered with the JSON error body.
"""

from dataclasses import dataclass
from typing import Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from xabar.ingest.errors import (
    FormRejected,
    IdempotencyConflict,
    Overloaded,
    RateLimited,
    StorageUnavailable,
    StoreDown,
)
from xabar.ingest.forms import REJECTION_MESSAGES
from xabar.runtime.errors import BadRequest
from xabar.runtime.routing import ErrorMap
from xabar.runtime.security import ForeignOrigin, PagePolicy, origin_of

# the security headers of every page (the runtime's SecurityHeaders adds them): no script at
# all, the pages' own <style>, posts to ourselves only, never framed, no referrer sent to other
# sites ("same-origin": with "no-referrer" a browser sends "Origin: null" with our own forms'
# posts, and the Origin check could not tell them from another site's)
PAGES = PagePolicy(referrer="same-origin").with_(style_src="'unsafe-inline'")
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


@dataclass(frozen=True, slots=True)
class Words:
    """How a form's Russian notices name what it sends."""

    one: str  # "комментарий"
    many: str  # "комментариев"


def notice_for(exc: Exception, words: Words) -> tuple[str, dict[str, str]] | None:
    """The Russian notice (and headers) a form shows again for the errors every form shares;
    None for the others (the fields to fix, the limits: each form says them its own way)."""
    if isinstance(exc, ForeignOrigin):
        return FOREIGN_ORIGIN, {}
    if isinstance(exc, FormRejected):
        return REJECTION_MESSAGES[exc.reason], {}
    if isinstance(exc, RateLimited):
        minutes = max(1, -(-exc.retry_after_s // 60))
        notice = f"Слишком много {words.many} с вашего адреса. Попробуйте через {minutes} мин."
        return notice, {"Retry-After": str(exc.retry_after_s)}
    if isinstance(exc, IdempotencyConflict):
        return "Эта форма уже была отправлена с другим текстом. Откройте её заново.", {}
    if isinstance(exc, StorageUnavailable | Overloaded | StoreDown):
        notice = (
            f"Не удалось сохранить {words.one} из-за технической неполадки. "
            "Отправьте форму ещё раз через минуту."
        )
        return notice, {"Retry-After": "60"}
    if isinstance(exc, BadRequest):
        if exc.status == 413:
            return f"Слишком длинный {words.one}: сократите текст.", {}
        if exc.code == "not_utf8":
            return "Форма пришла не в кодировке UTF-8. Откройте её заново.", {}
        return "Форма повреждена. Откройте её заново и отправьте ещё раз.", {}
    return None


def framed_by(site_url: str) -> dict[str, str]:
    """The security headers of a page the readers' site may frame (and no one else)."""
    policy = PAGES.with_(frame_ancestors=origin_of(site_url) or "'none'")
    return {**policy.headers(), **HTML_HEADERS}


def html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return HTMLResponse(body, status_code=status, headers={**HTML_HEADERS, **(headers or {})})


def pages_answer(*statuses: int) -> dict[int, type | str | None]:
    """OpenAPI responses of an HTML endpoint: each status a page."""
    return dict.fromkeys(statuses, HTML)


def size(value: int, unit: int = MIB) -> str:
    """``value`` in ``unit`` (MB by default) as a person reads it: ``10``, ``1.5``."""
    number = value / unit
    return f"{number:.0f}" if number == int(number) else f"{number:.1f}"
