"""The reporters' HTML form: its signed timestamp, its honeypot, and its fields as a submission.

The form carries ``form_token`` = ``<issued_ms>.<nonce>.<signature>``; the signature covers the
client the form was served to (a keyed hash of its address), so a token is good only for that
client. A post is refused when the signature is wrong (or the token was served to another
client), when it comes sooner than ``form_min_fill_s`` after the form was served (bots fill
forms instantly) or later than ``form_max_age_s``. The nonce doubles as the post's
idempotency key, so a double click or a reload of the result page stores one submission. The
``website`` field is hidden from people; a value in it means a bot filled it.
"""

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from xabar.ingest.errors import FormRejected

HONEYPOT = "website"
TOKEN = "form_token"  # noqa: S105 - a field name, not a secret
FORM_ONLY_FIELDS = frozenset({HONEYPOT, TOKEN})


@dataclass(frozen=True, slots=True)
class FormCheck:
    nonce: str


class FormSigner:
    def __init__(
        self,
        secret: bytes,
        *,
        min_fill_s: float,
        max_age_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = hmac.new(secret, b"form-token", hashlib.sha256).digest()
        self.min_fill_s = min_fill_s
        self.max_age_s = max_age_s
        self.clock = clock

    def _sign(self, payload: str, client: str) -> str:
        message = f"{payload}\0{client}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def issue(self, client: str) -> str:
        """A token for a form served to ``client`` (what the client is bound by)."""
        payload = f"{int(self.clock() * 1000)}.{secrets.token_hex(16)}"
        return f"{payload}.{self._sign(payload, client)}"

    def check(self, fields: Mapping[str, str], client: str) -> FormCheck:
        """The post's nonce if the form passes the anti-abuse checks and its token was served to
        ``client``; ``FormRejected`` if not."""
        if fields.get(HONEYPOT, "").strip():
            raise FormRejected("honeypot", "the hidden field was filled in")
        token = fields.get(TOKEN, "")
        issued, _, rest = token.partition(".")
        nonce, _, signature = rest.partition(".")
        if not (issued.isdigit() and nonce and signature):
            raise FormRejected("bad_token", "the form has no valid signature")
        if not hmac.compare_digest(self._sign(f"{issued}.{nonce}", client), signature):
            raise FormRejected("bad_token", "the form has no valid signature")
        age = self.clock() - int(issued) / 1000
        if age < self.min_fill_s:
            raise FormRejected("too_fast", "the form was sent too soon after it was opened")
        if age > self.max_age_s:
            raise FormRejected("expired", "the form is too old")
        return FormCheck(nonce=nonce)


_TRUE = {"on", "true", "1", "yes"}
_FALSE = {"", "off", "false", "0", "no"}


def _checkbox(value: str | None) -> bool | str:
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return value  # neither: left as a string, which the strict model refuses


def form_to_data(fields: Mapping[str, str]) -> dict[str, Any]:
    """Form fields (all strings) as the JSON shape ``NewSubmission`` reads. Empty optional fields
    are absent; ``contact_name``/``contact_email``/``contact_phone`` form ``contact``; unknown
    fields are passed on so that validation refuses them."""
    data: dict[str, Any] = {}
    contact: dict[str, str] = {}
    for name, value in fields.items():
        if name in FORM_ONLY_FIELDS:
            continue
        if name in ("consent", "anonymous"):
            data[name] = _checkbox(value)
        elif name.startswith("contact_"):
            if value.strip():
                contact[name.removeprefix("contact_")] = value
        elif name == "location":
            if value.strip():
                data[name] = value
        else:
            data[name] = value
    data.setdefault("consent", False)
    data.setdefault("anonymous", False)
    for required in ("title", "text", "country"):
        data.setdefault(required, "")
    if contact:
        data["contact"] = contact
    return data


# --- Russian messages for the form ----------------------------------------------------------------

FIELD_MESSAGES = {
    "title": "Укажите заголовок: от 3 до 200 символов.",
    "text": "Опишите, что произошло: от 5 до 20 000 символов.",
    "country": "Выберите страну из списка.",
    "location": "Место — не длиннее 200 символов.",
    "contact.name": "Имя — не длиннее 100 символов.",
    "contact.email": "Проверьте адрес электронной почты.",
    "contact.phone": "Проверьте номер телефона, например +7 701 123 45 67.",
    "consent": "Без вашего согласия мы не можем принять сообщение.",
    "anonymous": "Неверное значение.",
}

PHOTO_MESSAGES = {
    "photo_type": "Фото {n}: это не JPEG, PNG или WebP.",
    "photo_damaged": "Фото {n}: файл повреждён.",
}

REJECTION_MESSAGES = {
    "honeypot": "Форма отклонена. Если вы человек, отправьте её ещё раз.",
    "bad_token": "Форма устарела или повреждена. Проверьте текст и отправьте ещё раз.",
    "too_fast": "Форма отправлена слишком быстро. Проверьте текст и отправьте ещё раз.",
    "expired": "Форма устарела. Проверьте текст и отправьте ещё раз.",
}

LIMIT_MESSAGES = {
    "too_many_photos": "Слишком много фото: можно прикрепить не больше {max_photos}.",
    "photo_too_large": "Фото слишком большое: каждое — не больше {max_photo_mb} МБ.",
    "photo_too_many_pixels": "Фото слишком большое: не больше {max_megapixels} мегапикселей.",
    "photo_too_large_to_decode": "Фото слишком большое для обработки: PNG и WebP — не больше "
    "{max_decode_megapixels} мегапикселей (снимки JPEG мы уменьшаем сами).",
    "payload_too_large": "Сообщение слишком большое: не больше {max_total_mb} МБ вместе с фото.",
}


def russian_field_errors(fields: list[dict[str, Any]]) -> dict[str, str]:
    """Field errors (``{"field", "message", "type"}``) as Russian messages by form field."""
    out: dict[str, str] = {}
    for err in fields:
        field = str(err.get("field", ""))
        if field.startswith("photos."):
            index = field.split(".", 1)[1]
            n = int(index) + 1 if index.isdigit() else 1
            template = PHOTO_MESSAGES.get(str(err.get("type")), "Фото {n}: не удалось прочитать.")
            out.setdefault("photos", template.format(n=n))
            continue
        key = field if field in FIELD_MESSAGES else field.split(".", 1)[0]
        form_key = key.replace("contact.", "contact_")
        out.setdefault(form_key, FIELD_MESSAGES.get(key, "Проверьте это поле."))
    return out


def russian_errors(fields: list[dict[str, Any]], messages: Mapping[str, str]) -> dict[str, str]:
    """Field errors as Russian messages by form field, from ``messages`` (a comment's, a
    letter's)."""
    out: dict[str, str] = {}
    for err in fields:
        key = str(err.get("field", "")).split(".", 1)[0]
        out.setdefault(key, messages.get(key, "Проверьте это поле."))
    return out
