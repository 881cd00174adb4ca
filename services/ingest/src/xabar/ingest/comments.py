"""What readers write besides tips: comments under an article and letters to the editors
("Напишите нам"). The pure rules: their fields, plain text, and the form fields as their shape.

A comment has a name (shown publicly once approved), a text and, for a reply, the comment it
answers; no e-mail is asked. A letter has a name, a way to answer (sealed to the newsroom's key
when accepted, as a tip's contact), a subject and a text; letters are never published. Both are
stored as plain text: markup is removed before the length is checked (``domain.plain_text``).
"""

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from xabar.ingest.domain import plain_field
from xabar.ingest.errors import InvalidSubmission
from xabar.ingest.forms import FORM_ONLY_FIELDS
from xabar.runtime.bodies import field_errors

NAME_MAX = 60
COMMENT_MIN, COMMENT_MAX = 2, 3000
LETTER_NAME_MAX = 100
REPLY_TO_MAX = 200
SUBJECT_MIN, SUBJECT_MAX = 3, 200
LETTER_MIN, LETTER_MAX = 5, 10_000
ARTICLE_ID = r"^[A-Za-z0-9_-]{1,64}$"
COMMENT_ID = r"^[0-9a-f]{32}$"
_ARTICLE = re.compile(ARTICLE_ID)
_COMMENT = re.compile(COMMENT_ID)
STRICT = ConfigDict(strict=True, extra="forbid", frozen=True, str_strip_whitespace=True)


class NewComment(BaseModel):
    """A reader's comment as sent. Strict, like a tip: only strings where strings go, no field
    the model does not know."""

    model_config = STRICT

    article_id: str = Field(pattern=ARTICLE_ID, description="the article commented on")
    reply_to: str | None = Field(
        default=None, pattern=COMMENT_ID, description="the comment this one answers"
    )
    name: Annotated[str, Field(max_length=NAME_MAX * 2), plain_field(1, NAME_MAX)]
    text: Annotated[str, Field(max_length=COMMENT_MAX * 2), plain_field(COMMENT_MIN, COMMENT_MAX)]


class NewLetter(BaseModel):
    """A reader's letter to the editors."""

    model_config = STRICT

    name: Annotated[str, Field(max_length=LETTER_NAME_MAX * 2), plain_field(1, LETTER_NAME_MAX)]
    reply_to: Annotated[
        str | None,
        Field(max_length=REPLY_TO_MAX * 2, description="how to answer: an e-mail, a phone"),
        plain_field(0, REPLY_TO_MAX),
    ] = None
    subject: Annotated[
        str, Field(max_length=SUBJECT_MAX * 2), plain_field(SUBJECT_MIN, SUBJECT_MAX)
    ]
    text: Annotated[str, Field(max_length=LETTER_MAX * 2), plain_field(LETTER_MIN, LETTER_MAX)]


def _validated(model: type[BaseModel], data: Any) -> Any:
    if not isinstance(data, dict):
        raise InvalidSubmission(
            "the body must be a JSON object",
            [{"field": "body", "message": "must be an object", "type": "dict_type"}],
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidSubmission("some fields are invalid", field_errors(exc)) from exc


def validate_comment(data: Any) -> NewComment:
    """``data`` as a clean ``NewComment``; ``InvalidSubmission`` naming each bad field."""
    comment: NewComment = _validated(NewComment, data)
    return comment


def validate_letter(data: Any) -> NewLetter:
    """``data`` as a clean ``NewLetter``; ``InvalidSubmission`` naming each bad field."""
    letter: NewLetter = _validated(NewLetter, data)
    return letter


def is_article_id(value: str) -> bool:
    return bool(_ARTICLE.match(value))


def is_comment_id(value: str) -> bool:
    return bool(_COMMENT.match(value))


def form_fields(fields: Mapping[str, str], optional: frozenset[str]) -> dict[str, Any]:
    """A form's fields (all strings) as the JSON shape: the form's own fields dropped, empty
    optional ones absent; unknown fields are passed on so that validation refuses them."""
    return {
        name: value
        for name, value in fields.items()
        if name not in FORM_ONLY_FIELDS and not (name in optional and not value.strip())
    }


# --- answers ----------------------------------------------------------------------------------


class CommentAccepted(BaseModel):
    """A comment durably accepted (HTTP 202): it waits for moderation."""

    comment_id: str
    status: Literal["pending"] = "pending"


class LetterAccepted(BaseModel):
    """A letter durably accepted (HTTP 202)."""

    letter_id: str
    status: Literal["received"] = "received"


# --- Russian messages for the forms -----------------------------------------------------------

COMMENT_MESSAGES = {
    "name": f"Укажите имя: до {NAME_MAX} символов.",
    "text": f"Напишите комментарий: от {COMMENT_MIN} до {COMMENT_MAX} символов.",
    "article_id": "Не удалось понять, к какой статье комментарий. Откройте форму заново.",
    "reply_to": "Комментарий, на который вы отвечаете, не найден. Откройте форму заново.",
}

LETTER_MESSAGES = {
    "name": f"Укажите имя: до {LETTER_NAME_MAX} символов.",
    "reply_to": f"Как вам ответить — не длиннее {REPLY_TO_MAX} символов.",
    "subject": f"Укажите тему: от {SUBJECT_MIN} до {SUBJECT_MAX} символов.",
    "text": f"Напишите письмо: от {LETTER_MIN} до {LETTER_MAX} символов.",
}
