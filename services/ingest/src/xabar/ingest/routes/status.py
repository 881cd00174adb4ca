"""Receipt look-ups for people (Russian HTML): ``GET /report/status`` the form, ``POST
/report/status`` the status of a submission for the holder of its receipt code (the code alone
finds it)."""

from dataclasses import dataclass

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from xabar.ingest.deps import Deps
from xabar.ingest.domain import SubmissionStatusView
from xabar.ingest.errors import NotFound, RateLimited, StorageUnavailable
from xabar.ingest.routes.html import FOREIGN_ORIGIN, answer_errors_with, html, pages_answer
from xabar.runtime.bodies import FORM, Limits, read_form
from xabar.runtime.routing import ErrorMap, Router
from xabar.runtime.security import ForeignOrigin

router = Router(tags=["form"])
LOOKUP_LIMITS = Limits(max_bytes=8192, max_fields=10, max_field_bytes=1024)


class StatusLookup(BaseModel):
    code: str


@dataclass(frozen=True)
class StatusPage:
    deps: Deps

    def render(
        self,
        status: int = 200,
        *,
        view: SubmissionStatusView | None = None,
        notice: str | None = None,
    ) -> Response:
        body = self.deps.pages.render(
            "status.html",
            page_title="Статус сообщения",
            view=view,
            notice=notice,
        )
        return html(body, status)

    def __call__(self, exc: Exception, spec: ErrorMap) -> Response:
        if isinstance(exc, RateLimited):
            page = self.deps.pages.render(
                "message.html",
                page_title="Слишком много запросов",
                message="Слишком много проверок с вашего адреса. Попробуйте позже.",
            )
            return html(page, spec.status, {"Retry-After": str(exc.retry_after_s)})
        if isinstance(exc, ForeignOrigin):
            notice = FOREIGN_ORIGIN
        elif isinstance(exc, NotFound):
            notice = "Сообщение не найдено: проверьте код."
        elif isinstance(exc, StorageUnavailable):
            notice = "Сервис временно недоступен. Попробуйте позже."
        else:
            notice = "Неверный запрос. Введите код, полученный при отправке."
        return self.render(spec.status, notice=notice)


@router.get(
    "/report/status",
    "Receipt look-up form (Russian HTML)",
    responses=pages_answer(200),
)
async def status_form(request: Request) -> Response:
    return StatusPage(Deps.of(request)).render()


@router.post(
    "/report/status",
    "Look up a submission's status with its receipt code (Russian HTML)",
    body=StatusLookup,
    body_media=FORM,
    responses=pages_answer(200, 400, 403, 404, 413, 415, 422, 429, 503),
)
async def look_up_status(request: Request) -> Response:
    deps = Deps.of(request)
    page = StatusPage(deps)
    answer_errors_with(request, page)
    deps.origins.require(request)
    await deps.lookup_limit.check(deps.client_hash(request))
    form = await read_form(request, LOOKUP_LIMITS)
    view = await deps.service.receipt_status((form.get("code") or "").strip())
    return page.render(view=view)
