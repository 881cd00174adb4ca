"""What the article pages share: the editor's form read into the API's fields (validated by the
API's own ``ArticleIn``), the workflow buttons a role may use, and the editor page's context.

The form's fields: ``title``, ``lead``, ``body_html`` (the WYSIWYG editor's HTML, sanitized by
the service as any body), ``countries`` (checkboxes), ``tags`` (comma-separated), the photo
(``image_media_id`` from the library, or ``image_url``; ``image_alt`` its caption, ``image_credit``
its credit; ``image_remove`` drops it), ``source``, ``source_url``, ``author``, and ``version``:
the version the form was opened at (the base of a merge when someone saved meanwhile).
"""

from typing import Any, Protocol

from starlette.requests import Request

from xabar.contracts import COUNTRIES
from xabar.publisher.domain import (
    ACTION_LABELS,
    STATUS_LABELS,
    Article,
    ArticleStatus,
    Doc,
    check_can_edit,
    check_transition,
)
from xabar.publisher.errors import InvalidTransition, NotAllowed
from xabar.publisher.merge import Merged
from xabar.publisher.schemas import ArticleIn
from xabar.runtime.auth import Principal, Role
from xabar.runtime.bodies import validate
from xabar.runtime.errors import BadRequest

COUNTRY_NAMES = {code: c.name for code, c in COUNTRIES.items()}
STATUS_NAMES = {s.value: STATUS_LABELS[s] for s in ArticleStatus}
FIELD_LABELS = {
    "title": "Заголовок",
    "lead": "Лид",
    "body_html": "Текст",
    "body_markdown": "Текст (Markdown)",
    "countries": "Страны",
    "tags": "Теги",
    "image": "Фото",
    "source": "Источник",
    "source_url": "Ссылка на источник",
    "author": "Автор",
    "status": "Статус",
    "publish_at": "Время публикации",
    "slug": "Адрес",
    "featured": "Новость дня",
    "featured_countries": "Новость дня в странах",
    "corrections": "Исправления",
}
ACTION_NAMES = {
    "create": "создание",
    "edit": "правка",
    "autosave": "автосохранение",
    "merge": "объединение правок",
    "restore": "восстановление",
    "correct": "исправление",
    "import": "импорт",
    "feature": "новость дня",
    "unfeature": "снята с новости дня",
    "publish_scheduled": "публикация по расписанию",
    **{a: label for a, label in ACTION_LABELS.items()},
}
WORKFLOW_ORDER = ("submit", "return", "schedule", "publish", "unpublish")


class Fields(Protocol):
    """A posted form (or the JSON of an autosave, read like one)."""

    def get(self, name: str, default: str | None = None) -> str | None: ...

    def getlist(self, name: str) -> list[str]: ...


def article_id_of(request: Request) -> str:
    """The article of a page's path (its id is at most 64 characters; longer is no article)."""
    return str(request.path_params["article_id"])[:64]


def given_of(form: Fields) -> Doc:
    """The form as the API's fields (``BadRequest`` 422, in the API's words, if they break its
    rules)."""
    image: Doc | None = None
    if not form.get("image_remove"):
        alt, credit = _text(form, "image_alt"), _text(form, "image_credit")
        if _text(form, "image_media_id"):
            image = {"media_id": _text(form, "image_media_id"), "alt": alt, "credit": credit}
        elif _text(form, "image_url"):
            image = {"url": _text(form, "image_url"), "alt": alt, "credit": credit}
    tags = [t.strip() for t in (form.get("tags") or "").split(",") if t.strip()]
    data: Doc = {
        "title": _text(form, "title"),
        "lead": form.get("lead") or "",
        "body_html": form.get("body_html") or "",
        "countries": form.getlist("countries"),
        "tags": tags,
        "image": image,
        "source": _text(form, "source") or None,
        "source_url": _text(form, "source_url") or None,
        "author": _text(form, "author") or None,
    }
    body = validate(ArticleIn, data)
    return body.model_dump(mode="python")


PYDANTIC_WORDS = {  # pydantic's own messages are English: ours say the same in Russian
    "string_too_short": "не заполнено",
    "string_too_long": "слишком длинно",
    "missing": "не заполнено",
    "string_type": "должно быть текстом",
    "list_type": "должно быть списком",
}


def messages_of(error: BadRequest) -> list[str]:
    """A refusal of the API's rules as lines for the page, in Russian."""
    out = []
    for item in error.fields or []:
        where = str(item.get("field") or "").split(".")[0]
        label = FIELD_LABELS.get(where, "")
        kind = str(item.get("type") or "")
        text = PYDANTIC_WORDS.get(kind) or str(item.get("message") or "")
        if kind not in PYDANTIC_WORDS and kind != "invalid":
            text = "значение не подходит"
        out.append(f"{label}: {text}" if label else text)
    return out or ["Форма заполнена неверно."]


def _text(form: Fields, name: str) -> str:
    return (form.get(name) or "").strip()


def version_of(form: Fields) -> int:
    raw = form.get("version") or ""
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        raise BadRequest(422, "invalid_parameter", "версия статьи в форме не указана")
    return int(raw)


def actions_for(who: Principal, article: Article) -> list[dict[str, str]]:
    """The workflow buttons ``who`` may use on ``article`` now (the others are not shown; the
    service refuses them all the same)."""
    out = []
    for action in WORKFLOW_ORDER:
        try:
            check_transition(who, article, action)
        except (NotAllowed, InvalidTransition):
            continue
        out.append({"action": action, "label": ACTION_LABELS[action].capitalize()})
    return out


def may_edit(who: Principal, article: Article) -> bool:
    try:
        check_can_edit(who, article)
    except NotAllowed:
        return False
    return True


def may_feature(who: Principal, article: Article) -> bool:
    return who.role.at_least(Role.EDITOR) and article.published


def form_values(values: Doc) -> dict[str, Any]:
    """Stored values (or merged ones) as the form shows them."""
    image = values.get("image") or {}
    return {
        "title": values.get("title") or "",
        "lead": values.get("lead") or "",
        "body_html": values.get("body_html") or "",
        "countries": list(values.get("countries") or []),
        "tags": ", ".join(values.get("tags") or []),
        "image": image or None,
        "image_media_id": image.get("media_id") or "",
        "image_url": "" if image.get("media_id") else image.get("url") or "",
        "image_alt": image.get("alt") or "",
        "image_credit": image.get("credit") or "",
        "source": values.get("source") or "",
        "source_url": values.get("source_url") or "",
        "author": values.get("author") or "",
    }


def conflicts_view(merged: Merged) -> list[dict[str, Any]]:
    """A merge's conflicts as the page shows them: each field's two texts side by side."""
    out = []
    for c in merged.conflicts:
        if c.hunks:
            pairs = [{"mine": "".join(h.mine), "theirs": "".join(h.theirs)} for h in c.hunks]
        else:
            pairs = [{"mine": _shown(c.field, c.mine), "theirs": _shown(c.field, c.theirs)}]
        out.append({"field": c.field, "label": FIELD_LABELS.get(c.field, c.field), "pairs": pairs})
    return out


def _shown(field: str, value: Any) -> str:
    if field == "image":
        return (value or {}).get("url") or "без фото"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)
