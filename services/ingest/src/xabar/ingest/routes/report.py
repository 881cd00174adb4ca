"""The reporters' form (Russian HTML): ``GET /report`` serves it with a fresh signed token,
``POST /report`` accepts it and answers with the receipt page, or with the form again, what was
typed kept, and what to fix (photos must be attached again: a browser cannot refill them)."""

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from xabar.ingest.deps import correlation
from xabar.ingest.domain import Receipt, validate_submission
from xabar.ingest.errors import (
    FormRejected,
    IdempotencyConflict,
    InvalidSubmission,
    LimitExceeded,
    MalformedBody,
    Overloaded,
    RateLimited,
    StorageUnavailable,
    UnsupportedMedia,
)
from xabar.ingest.forms import (
    FIELD_MESSAGES,
    LIMIT_MESSAGES,
    REJECTION_MESSAGES,
    form_to_data,
    russian_field_errors,
)
from xabar.ingest.photos import decodable_megapixels
from xabar.ingest.routes.common import FormPage, form_post
from xabar.ingest.routes.html import (
    FOREIGN_ORIGIN,
    Words,
    answer_errors_with,
    html,
    pages_answer,
    size,
)
from xabar.ingest.routes.submissions import read_tip_form
from xabar.runtime.bodies import MULTIPART
from xabar.runtime.errors import BadRequest
from xabar.runtime.routing import ErrorMap, Router
from xabar.runtime.security import ForeignOrigin

router = Router(tags=["form"])

SHOWN_FIELDS = (
    "title",
    "text",
    "country",
    "location",
    "contact_name",
    "contact_email",
    "contact_phone",
    "consent",
    "anonymous",
)
KNOWN_FIELDS = frozenset({*(k.replace("contact.", "contact_") for k in FIELD_MESSAGES), "photos"})


class ReportForm(BaseModel):
    """The fields of the HTML form (multipart/form-data)."""

    title: str
    text: str
    country: str
    location: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    consent: str = Field(description='"on" when checked')
    anonymous: str | None = Field(default=None, description='"on" when checked')
    photos: list[bytes] = Field(default_factory=list, json_schema_extra={"format": "binary"})
    form_token: str = Field(description="the signed timestamp served with the form")
    website: str | None = Field(default=None, description="honeypot: must stay empty")


@dataclass
class ReportPage(FormPage):
    """The form's pages; once the post is read, ``values`` holds what was typed."""

    had_photos: bool = False

    template = "report.html"
    title = "Сообщите новость"
    shown = SHOWN_FIELDS
    messages = FIELD_MESSAGES
    words = Words("сообщение", "сообщений")

    def context(self) -> dict[str, Any]:
        settings = self.deps.settings
        return {
            "known_fields": KNOWN_FIELDS,
            "max_photos": settings.max_photos,
            "max_photo_mb": size(settings.max_photo_bytes),
        }

    def message(self, status: int, title: str, message: str) -> Response:
        page = self.deps.pages.render("message.html", page_title=title, message=message)
        return html(page, status)

    def receipt(self, receipt: Receipt) -> Response:
        return html(
            self.deps.pages.render(
                "receipt.html",
                page_title="Сообщение получено",
                submission_id=receipt.submission_id,
                receipt_code=receipt.receipt_code,
            )
        )

    def limits(self) -> dict[str, object]:
        """The limits the Russian messages name."""
        settings = self.deps.settings
        return {
            "max_photos": settings.max_photos,
            "max_photo_mb": size(settings.max_photo_bytes),
            "max_megapixels": size(settings.max_photo_pixels, 1_000_000),
            "max_total_mb": size(settings.max_multipart_bytes()),
            "max_decode_megapixels": f"{decodable_megapixels(settings.max_decode_bytes):.0f}",
        }

    def limit_notice(self, exc: LimitExceeded) -> str:
        template = LIMIT_MESSAGES.get(exc.code, LIMIT_MESSAGES["payload_too_large"])
        return template.format(**self.limits())

    def refused(self, exc: BadRequest) -> Response:
        """A body the runtime's reader refused (or a post from another site)."""
        if exc.status == 413:
            return self.form(
                413, notice=LIMIT_MESSAGES["payload_too_large"].format(**self.limits())
            )
        if exc.status == 415:
            return self.message(415, "Неверный формат", "Отправьте сообщение через форму.")
        if isinstance(exc, ForeignOrigin):
            return self.message(403, "Форма отклонена", FOREIGN_ORIGIN)
        if exc.code == "not_utf8":
            return self.message(
                400,
                "Неверная кодировка",
                "Форма пришла не в кодировке UTF-8. Откройте её заново и отправьте ещё раз.",
            )
        broken = "Форма повреждена. Отправьте её ещё раз."
        return self.message(exc.status, "Неверный запрос", broken)

    def __call__(self, exc: Exception, spec: ErrorMap) -> Response:
        """The page that answers ``exc`` (with the status it is mapped to)."""
        again = " Прикрепите фото заново." if self.had_photos else ""
        status = spec.status
        if isinstance(exc, BadRequest):
            return self.refused(exc)
        if isinstance(exc, UnsupportedMedia):
            return self.message(status, "Неверный формат", "Отправьте сообщение через форму.")
        if isinstance(exc, MalformedBody):
            broken = "Форма повреждена. Отправьте её ещё раз."
            return self.message(status, "Неверный запрос", broken)
        if isinstance(exc, InvalidSubmission):
            notice = "Проверьте поля, отмеченные ниже." + again if self.values else None
            return self.form(status, errors=russian_field_errors(exc.fields), notice=notice)
        if isinstance(exc, LimitExceeded):
            return self.form(status, notice=self.limit_notice(exc))
        if isinstance(exc, FormRejected):
            return self.form(status, notice=REJECTION_MESSAGES[exc.reason] + again)
        if isinstance(exc, RateLimited):
            minutes = max(1, -(-exc.retry_after_s // 60))
            notice = f"Слишком много сообщений с вашего адреса. Попробуйте через {minutes} мин."
            return self.form(status, notice=notice, headers={"Retry-After": str(exc.retry_after_s)})
        if isinstance(exc, IdempotencyConflict):
            notice = (
                "Эта форма уже была отправлена с другим текстом. "
                "Проверьте сообщение и отправьте его ещё раз." + again
            )
            return self.form(status, notice=notice)
        if isinstance(exc, StorageUnavailable | Overloaded):
            notice = (
                "Не удалось сохранить сообщение из-за технической неполадки. "
                "Отправьте форму ещё раз через минуту." + again
            )
            return self.form(status, notice=notice, headers={"Retry-After": "60"})
        return self.form(
            status,
            notice="Не удалось принять сообщение. Проверьте его и отправьте ещё раз." + again,
        )


@router.get("/report", "The reporters' form (Russian HTML)", responses=pages_answer(200))
async def report_form(request: Request) -> Response:
    return ReportPage.of(request).form()


@form_post(
    router,
    "/report",
    "Send the form; answers with the receipt page, or the form again with what to fix",
    ReportForm,
    MULTIPART,
)
async def send_report(request: Request) -> Response:
    page = ReportPage.of(request)
    deps = page.deps
    answer_errors_with(request, page)
    deps.origins.require(request)
    async with deps.upload(request):
        form = await read_tip_form(request, deps.settings)
        page.values, page.had_photos = form.fields, bool(form.photos)
        check = deps.signer.check(form.fields, page.client)
        client = deps.client_hash(request)
        await deps.submit_limit.check(client)
        accepted = await deps.service.submit(
            validate_submission(form_to_data(form.fields)),
            form.photos,
            client_hash=client,
            idempotency_key=f"form:{check.nonce}",
            correlation_id=correlation(request),
            form=True,
        )
    return page.receipt(accepted.receipt)
