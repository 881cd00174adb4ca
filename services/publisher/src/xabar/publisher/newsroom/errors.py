"""Errors as newsroom pages: the same statuses the API maps (``routes.errors``), said in Russian on
a page of the newsroom instead of the JSON error body.

``pages_first(handlers)`` wraps the app's exception handlers: a request for a newsroom page (not
``/api/``, ``/media/``, ``/openapi.json``, ``/healthz``, ``/readyz``) gets an HTML page with the
status, ``Retry-After`` and ``Allow`` of the JSON answer it would have had; everything else gets
the JSON answer unchanged.
"""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from xabar.publisher.domain import ROLE_LABELS
from xabar.publisher.errors import NotAllowed, PublisherError
from xabar.runtime.auth import Role
from xabar.runtime.bodies import BodyError
from xabar.runtime.params import BadParameter
from xabar.runtime.security import ForeignOrigin

NOT_PAGES = ("/api/", "/media/", "/openapi.json", "/healthz", "/readyz")
KEPT_HEADERS = ("retry-after", "allow")

Handler = Callable[[Request, Exception], Awaitable[Response]]


class PageForbidden(NotAllowed):
    """The session's role is below what the page needs (403)."""

    def __init__(self, minimum: Role) -> None:
        super().__init__(f"Эта страница — для роли «{ROLE_LABELS[minimum]}» и выше.")


class StaleForm(NotAllowed):
    """A form post without the session's CSRF token (403): an old page, or another site's."""

    def __init__(self) -> None:
        super().__init__(
            "Форма устарела или отправлена не со страницы редакции. "
            "Откройте страницу заново и отправьте форму ещё раз."
        )


BODY_MESSAGES = {
    "payload_too_large": "Отправлено слишком много данных.",
    "field_too_large": "Одно из полей формы слишком длинное.",
    "file_too_large": "Файл слишком большой.",
    "too_many_fields": "В форме слишком много полей.",
    "too_many_files": "Слишком много файлов сразу.",
    "unsupported_media_type": "Форма отправлена в неизвестном виде.",
    "not_utf8": "Форма отправлена не в кодировке UTF-8.",
    "unexpected_file": "В этом поле файл не ожидается.",
}
STATUS_MESSAGES = {
    400: "Запрос не получилось прочитать.",
    403: "Недостаточно прав.",
    404: "Такой страницы в редакции нет.",
    405: "Эту страницу так не открывают.",
    409: "Материал уже изменился; откройте его заново.",
    413: "Отправлено слишком много данных.",
    422: "Проверьте, что введено в форму.",
    429: "Слишком много попыток; подождите немного.",
    502: "Соседний сервис не ответил; повторите позже.",
    503: "Хранилище сейчас не отвечает; повторите через несколько секунд.",
}
FALLBACK = "Что-то пошло не так с нашей стороны; повторите позже."


def is_page(request: Request) -> bool:
    newsroom = getattr(request.app.state, "newsroom", None)
    if newsroom is None:
        return False
    path: str = request.url.path
    base: str = newsroom.settings.newsroom_path
    if base and path != base and not path.startswith(base + "/"):
        return False
    return not path.startswith(NOT_PAGES)


def message_of(exc: Exception, status: int) -> str:
    if isinstance(exc, PublisherError):
        return exc.message
    if isinstance(exc, ForeignOrigin):
        return "Эту форму можно отправить только со страниц редакции."
    if isinstance(exc, BodyError):
        return BODY_MESSAGES.get(exc.code, STATUS_MESSAGES[400])
    if isinstance(exc, BadParameter):
        name = exc.fields[0]["field"] if exc.fields else ""
        return f"Неверный параметр адреса «{name}»." if name else STATUS_MESSAGES[422]
    return STATUS_MESSAGES.get(status, FALLBACK)


def pages_first(handlers: Mapping[Any, Any]) -> dict[Any, Any]:
    """``handlers`` (exception class or status -> handler), each answering pages as pages."""

    def wrap(json_handler: Handler) -> Handler:
        async def handle(request: Request, exc: Exception) -> Response:
            answer = await json_handler(request, exc)
            if not is_page(request):
                return answer
            status = answer.status_code
            if isinstance(exc, HTTPException) and exc.status_code == 404:
                status = 404
            headers = {k: v for k, v in answer.headers.items() if k in KEPT_HEADERS}
            pages = request.app.state.newsroom.pages
            response: Response = await pages.error(
                request, status, message_of(exc, status), headers
            )
            return response

        return handle

    return {key: wrap(handler) for key, handler in handlers.items()}
