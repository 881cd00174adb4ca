"""Receipt look-ups for people (Russian HTML): ``GET /report/status`` the form, ``POST
/report/status`` the status of a submission for the holder of its receipt code."""

from dataclasses import dataclass

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from xabar.ingest.deps import Deps
from xabar.ingest.domain import SubmissionStatusView, is_id
from xabar.ingest.errors import NotFound, RateLimited, StorageUnavailable
from xabar.ingest.routes.html import answer_errors_with, html, pages_answer
from xabar.runtime.bodies import FORM, Limits, read_form
from xabar.runtime.routing import ErrorMap, Router

router = Router(tags=["form"])
LOOKUP_LIMITS = Limits(max_bytes=8192, max_fields=10, max_field_bytes=1024)


class StatusLookup(BaseModel):
    id: str
    code: str


@dataclass(frozen=True)
class StatusPage:
    deps: Deps

    def render(
        self,
        status: int = 200,
        *,
        submission_id: str = "",
        view: SubmissionStatusView | None = None,
        notice: str | None = None,
    ) -> Response:
        body = self.deps.pages.render(
            "status.html",
            page_title="Статус сообщения",
            submission_id=submission_id,
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
        if isinstance(exc, NotFound):
            notice = "Сообщение не найдено: проверьте номер и код."
        elif isinstance(exc, StorageUnavailable):
            notice = "Сервис временно недоступен. Попробуйте позже."
        else:
            notice = "Неверный запрос. Заполните номер и код."
        return self.render(spec.status, notice=notice)


@router.get(
    "/report/status",
    "Receipt look-up form (Russian HTML)",
    responses=pages_answer(200),
    parameters=[{"name": "id", "in": "query", "required": False, "schema": {"type": "string"}}],
)
async def status_form(request: Request) -> Response:
    submission_id = request.query_params.get("id", "")
    page = StatusPage(Deps.of(request))
    return page.render(submission_id=submission_id if is_id(submission_id) else "")


@router.post(
    "/report/status",
    "Look up a submission's status with its receipt code (Russian HTML)",
    body=StatusLookup,
    body_media=FORM,
    responses=pages_answer(200, 400, 404, 413, 415, 422, 429, 503),
)
async def look_up_status(request: Request) -> Response:
    deps = Deps.of(request)
    page = StatusPage(deps)
    answer_errors_with(request, page)
    await deps.lookup_limit.check(deps.client_hash(request))
    form = await read_form(request, LOOKUP_LIMITS)
    submission_id = (form.get("id") or "").strip()
    view = await deps.service.status(submission_id, form.get("code") or "")
    return page.render(view=view)
