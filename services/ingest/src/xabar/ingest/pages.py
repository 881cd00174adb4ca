"""Russian HTML pages of the reporters' channel, rendered by Jinja2 with autoescaping on.

Every value that reaches a page is escaped; the pages carry no script at all, and the routes send
a Content-Security-Policy that forbids scripts, so even a stored payload could not run.
"""

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from xabar.contracts import COUNTRIES, SubmissionStatus

COUNTRY_CHOICES: tuple[tuple[str, str], ...] = (
    *((c.code, c.name) for c in COUNTRIES.values()),
    ("other", "Другая страна"),
)

STATUS_LABELS = {
    SubmissionStatus.RECEIVED: "Получено, ждёт редактора",
    SubmissionStatus.IN_REVIEW: "Редакция изучает ваше сообщение",
    SubmissionStatus.ACCEPTED: "Принято редакцией",
    SubmissionStatus.REJECTED: "Отклонено редакцией",
    SubmissionStatus.PUBLISHED: "Опубликовано",
}


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) URL or a site path; None for anything else (``javascript:``)."""
    if not url:
        return None
    lowered = url.strip().lower()
    if lowered.startswith(("https://", "http://")) or (
        lowered.startswith("/") and not lowered.startswith("//")
    ):
        return url.strip()
    return None


class Pages:
    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("xabar.ingest", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals["countries"] = COUNTRY_CHOICES
        self.env.globals["status_labels"] = STATUS_LABELS
        self.env.filters["safe_url"] = safe_url

    def render(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)
