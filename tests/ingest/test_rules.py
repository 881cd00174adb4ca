"""Pure rules of ingest (no I/O): validation, plain text, receipt codes, the form's signature,
and photo cleaning with Pillow."""

import base64
import html
import io
from typing import Any

import nh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox
from PIL import Image
from pydantic import ValidationError

from tests.conftest import TOKEN_KEYS
from tests.ingest.conftest import NEWSROOM_PUBLIC_KEY, jpeg_with_gps, png, tip, unseal
from xabar.contracts import Contact
from xabar.ingest.addresses import AddressHasher, comments_hasher
from xabar.ingest.config import IngestSettings
from xabar.ingest.domain import (
    fingerprint,
    hash_receipt_code,
    is_receipt_code,
    new_receipt_code,
    open_code,
    plain_text,
    receipt_code_matches,
    seal_code,
    validate_submission,
)
from xabar.ingest.errors import (
    DatabaseUnavailable,
    FormRejected,
    IdempotencyConflict,
    InvalidSubmission,
    LimitExceeded,
)
from xabar.ingest.forms import FormSigner, form_to_data, russian_field_errors
from xabar.ingest.photos import clean_photo
from xabar.ingest.repository import Lapse
from xabar.ingest.sealing import Sealer, public_key
from xabar.runtime.clients import hash_address

XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "<svg onload=alert(1)>",
    '<a href="javascript:alert(1)">нажми</a>',
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<<script>script>alert(1)<</script>/script>",
    '<iframe src="javascript:alert(1)"></iframe>',
    "<body onload=alert(1)>",
    '<div style="background:url(javascript:alert(1))">x</div>',
]


def _has_markup(value: str) -> bool:
    """True if an HTML sanitizer would still find an element or attribute in ``value``."""
    return html.unescape(nh3.clean(value, tags=set())) != value


@pytest.mark.parametrize("payload", XSS)
def test_markup_and_script_do_not_survive_plain_text(payload: str) -> None:
    cleaned = plain_text(f"Новость дня {payload} конец")
    assert not _has_markup(cleaned)
    assert "<script" not in cleaned.lower() and "onerror" not in cleaned.lower()
    assert "onload" not in cleaned.lower() and "<iframe" not in cleaned.lower()
    assert cleaned.startswith("Новость дня") and cleaned.endswith("конец")


def test_plain_text_keeps_ordinary_text_as_written() -> None:
    text = "Цена выросла: 5 < 7 & «дороже», AT&T.\nВторая строка\n\n  отступ"
    assert plain_text(text) == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/&;=\"' abcsriptgonlad!-\n#x1")), max_size=60))
def test_plain_text_output_contains_no_markup_whatever_the_input(value: str) -> None:
    assert not _has_markup(plain_text(value))


def test_plain_text_drops_control_and_bidi_override_characters() -> None:
    assert plain_text("a\x00b\u202ec\x07d") == "abcd"


@pytest.mark.parametrize(
    "field", ["title", "text", "country", "location", "consent", "anonymous", "contact"]
)
def test_an_operator_object_in_any_field_is_refused(field: str) -> None:
    with pytest.raises(InvalidSubmission) as caught:
        validate_submission(tip(**{field: {"$ne": ""}}))
    assert any(err["field"].startswith(field) for err in caught.value.fields)


@pytest.mark.parametrize("field", ["name", "email", "phone"])
def test_an_operator_object_inside_contact_is_refused(field: str) -> None:
    body = tip(contact={"name": "Аня", field: {"$gt": ""}})
    with pytest.raises(InvalidSubmission) as caught:
        validate_submission(body)
    assert [e["field"] for e in caught.value.fields] == [f"contact.{field}"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": 123}, "title"),
        ({"consent": "true"}, "consent"),
        ({"consent": False}, "consent"),
        ({"country": "RU"}, "country"),
        ({"text": "мало"}, "text"),
        ({"text": "<b></b><script>очень длинный скрипт</script>"}, "text"),
        ({"contact": {"email": "не-почта"}}, "contact.email"),
        ({"contact": {"phone": "12"}}, "contact.phone"),
        ({"$where": "1"}, "$where"),
    ],
)
def test_invalid_fields_are_named(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidSubmission) as caught:
        validate_submission(tip(**overrides))
    assert field in [e["field"] for e in caught.value.fields]
    assert all(e["message"] for e in caught.value.fields)


def test_anonymous_submission_keeps_no_contact_and_phone_is_normalized() -> None:
    assert validate_submission(tip(anonymous=True)).contact is None
    draft = validate_submission(tip(contact={"phone": "8 701 123 45 67"}, country="KZ"))
    assert draft.contact is not None and draft.contact.phone == "+77011234567"


def test_receipt_code_is_random_readable_and_stored_only_as_a_hash() -> None:
    codes = {new_receipt_code() for _ in range(200)}
    assert len(codes) == 200
    code = codes.pop()
    assert len(code) == 23 and code.count("-") == 3
    stored = hash_receipt_code(code)
    assert code not in stored
    assert receipt_code_matches(code.lower().replace("-", " "), stored)
    assert not receipt_code_matches(new_receipt_code(), stored)


def test_a_sealed_receipt_code_opens_only_with_the_same_key_and_request() -> None:
    secret = b"s" * 32
    draft = validate_submission(tip())
    print_ = fingerprint(draft, [])
    sealed = seal_code(secret, "key-1", print_, "ABCDE-FGHJK-MNPQR-STVWX")
    assert "ABCDE" not in sealed
    assert open_code(secret, "key-1", print_, sealed) == "ABCDE-FGHJK-MNPQR-STVWX"
    with pytest.raises(IdempotencyConflict):
        open_code(secret, "key-2", print_, sealed)
    with pytest.raises(IdempotencyConflict):
        open_code(secret, "key-1", fingerprint(draft, ["other-photo"]), sealed)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_form_token_refuses_honeypot_fast_forged_and_stale_forms() -> None:
    clock = Clock(1_000_000.0)
    signer = FormSigner(b"k" * 32, min_fill_s=3.0, max_age_s=3600, clock=clock)
    token = signer.issue("client-a")
    with pytest.raises(FormRejected) as fast:
        signer.check({"form_token": token}, "client-a")
    assert fast.value.reason == "too_fast"
    clock.now += 5
    nonce = signer.check({"form_token": token, "website": ""}, "client-a").nonce
    assert nonce and nonce in token
    with pytest.raises(FormRejected) as honeypot:
        signer.check({"form_token": token, "website": "http://spam.example"}, "client-a")
    assert honeypot.value.reason == "honeypot"
    issued, nonce_part, _sig = token.split(".")
    with pytest.raises(FormRejected) as forged:
        signer.check({"form_token": f"{int(issued) - 60_000}.{nonce_part}.{_sig}"}, "client-a")
    assert forged.value.reason == "bad_token"
    with pytest.raises(FormRejected) as elsewhere:  # served to another client
        signer.check({"form_token": token}, "client-b")
    assert elsewhere.value.reason == "bad_token"
    with pytest.raises(FormRejected):
        signer.check({}, "client-a")
    clock.now += 7200
    with pytest.raises(FormRejected) as stale:
        signer.check({"form_token": token}, "client-a")
    assert stale.value.reason == "expired"


def test_form_fields_become_the_api_shape_and_errors_read_in_russian() -> None:
    data = form_to_data(
        {
            "title": "Т",
            "text": "x",
            "country": "KG",
            "location": "",
            "consent": "on",
            "contact_email": "a@b.kg",
            "contact_phone": "",
            "website": "",
            "form_token": "t",
        }
    )
    assert data == {
        "title": "Т",
        "text": "x",
        "country": "KG",
        "consent": True,
        "anonymous": False,
        "contact": {"email": "a@b.kg"},
    }
    with pytest.raises(InvalidSubmission) as caught:
        validate_submission(data)
    messages = russian_field_errors(caught.value.fields)
    assert set(messages) == {"title", "text"}
    assert "символов" in messages["text"]


def _exif_of(data: bytes) -> dict[int, Any]:
    with Image.open(io.BytesIO(data)) as img:
        return dict(img.getexif())


def test_photo_is_reencoded_without_exif_or_gps_and_turned_upright() -> None:
    raw = jpeg_with_gps((320, 240), orientation=6)  # 6: rotate 90° clockwise to view
    assert _exif_of(raw)[0x8825]  # the test photo really has GPS
    photo = clean_photo(raw, index=0, max_pixels=10_000_000)
    assert photo.content_type == "image/jpeg"
    assert _exif_of(photo.data) == {}
    assert b"SpyCam" not in photo.data and b"Exif" not in photo.data
    assert (photo.width, photo.height) == (240, 320)


def test_photo_type_comes_from_the_bytes_not_the_name() -> None:
    assert clean_photo(png(), index=0, max_pixels=10_000).content_type == "image/png"
    with pytest.raises(InvalidSubmission) as caught:
        clean_photo(b"GIF89a" + b"\0" * 100, index=2, max_pixels=10_000)
    assert caught.value.fields[0]["field"] == "photos.2"
    with pytest.raises(InvalidSubmission):
        clean_photo(b"<html><script>alert(1)</script></html>", index=0, max_pixels=10_000)
    with pytest.raises(InvalidSubmission):
        clean_photo(jpeg_with_gps()[:200], index=0, max_pixels=10_000_000)  # truncated


@pytest.mark.parametrize("side", [8_000, 12_000])  # under and over Pillow's own guard
def test_decompression_bomb_is_refused_before_decoding(side: int) -> None:
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, "PNG")  # tens of megapixels in a few kilobytes
    assert len(out.getvalue()) < 100_000
    with pytest.raises(LimitExceeded) as caught:
        clean_photo(out.getvalue(), index=0, max_pixels=40_000_000)
    assert caught.value.code == "photo_too_many_pixels"
    assert "40000000" in caught.value.message


def assert_refused_and_required(
    monkeypatch: pytest.MonkeyPatch, setting: str, bad: tuple[str, ...]
) -> None:
    """IngestSettings refuses ``setting`` (from the environment) as each of ``bad``, and unset."""
    variable = f"XABAR_INGEST_{setting.upper()}"
    for value in bad:
        monkeypatch.setenv(variable, value)
        with pytest.raises(ValidationError, match=setting):
            IngestSettings()
    monkeypatch.delenv(variable)
    with pytest.raises(ValidationError, match=setting):
        IngestSettings()


def test_settings_come_from_the_environment_and_refuse_placeholder_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XABAR_INGEST_TOKEN_PUBLIC_KEY", TOKEN_KEYS.public)
    monkeypatch.setenv("XABAR_INGEST_ADDRESS_SALT", "s" * 40)
    monkeypatch.setenv("XABAR_INGEST_NEWSROOM_PUBLIC_KEY", NEWSROOM_PUBLIC_KEY)
    monkeypatch.setenv("XABAR_INGEST_TRUSTED_PROXIES", "10.0.0.0/8,::1/128")
    monkeypatch.setenv("XABAR_INGEST_MAX_PHOTOS", "3")
    settings = IngestSettings()
    assert settings.port == 8081 and settings.mongodb_db == "xabar_ingest"
    assert settings.max_photos == 3 and settings.relay_enabled is True
    assert len(settings.trusted_networks()) == 2
    assert_refused_and_required(monkeypatch, "address_salt", ("change-me", "short-salt", ""))
    monkeypatch.setenv("XABAR_INGEST_ADDRESS_SALT", "s" * 40)
    monkeypatch.setenv("XABAR_INGEST_TRUSTED_PROXIES", "10.0.0.0/8, not-a-network")
    with pytest.raises(ValidationError, match="trusted_proxies"):
        IngestSettings()


def test_settings_refuse_a_newsroom_key_that_is_not_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XABAR_INGEST_TOKEN_PUBLIC_KEY", TOKEN_KEYS.public)
    monkeypatch.setenv("XABAR_INGEST_ADDRESS_SALT", "s" * 40)
    bad = ("", "not base64!", "c2hvcnQ=", base64.b64encode(b"k" * 33).decode())
    assert_refused_and_required(monkeypatch, "newsroom_public_key", bad)


def test_a_sealed_contact_opens_only_with_the_newsrooms_private_key() -> None:
    sealer = Sealer(public_key(NEWSROOM_PUBLIC_KEY))
    contact = Contact(name="Фарход", phone="+992935551234")
    sealed = sealer.seal_contact(contact)
    assert "Фарход" not in sealed and "992935551234" not in sealed
    assert sealed != sealer.seal_contact(contact)  # a fresh ephemeral key every time
    assert Contact.model_validate_json(unseal(sealed)) == contact
    with pytest.raises(CryptoError):
        SealedBox(PrivateKey.generate()).decrypt(base64.b64decode(sealed))


def test_address_hashes_are_ingests_own_truncated_and_the_tips_change_daily() -> None:
    secret = b"s" * 40
    now = [1_000_000.0]
    tips = AddressHasher(secret, "tips", rotate_s=86_400, clock=lambda: now[0])
    comments = comments_hasher(secret)
    first = tips("203.0.113.7")
    assert first == tips("203.0.113.7") and first != tips("203.0.113.8")
    assert len(first) == 16  # 64 bits: many addresses behind every hash
    assert comments("203.0.113.7") not in (first, comments("203.0.113.8"))
    # the polls' (and every other service's) hash of the same address with the same secret
    assert first != hash_address("203.0.113.7", secret.decode())
    assert first[:16] != hash_address("203.0.113.7", secret.decode())[:16]
    now[0] += 86_400
    assert tips("203.0.113.7") != first  # another day, another key
    assert comments_hasher(secret)("203.0.113.7") == comments("203.0.113.7")  # stable


def test_receipt_codes_are_recognised_before_anything_is_looked_up() -> None:
    code = new_receipt_code()
    assert is_receipt_code(code) and is_receipt_code(code.lower().replace("-", " "))
    for bad in ("", "X" * 19, "U" * 20, code + "A", "$ne", "A" * 100_000):
        assert not is_receipt_code(bad)


async def test_a_failed_fallback_look_up_passes_mongodb_for_its_window() -> None:
    """``Lapse``: one failed read starts a window in which MongoDB is not asked (None
    answers); after it the read is tried again."""
    calls: list[str] = []
    down = True

    async def read(doc_id: str) -> dict[str, Any] | None:
        calls.append(doc_id)
        if down:
            raise DatabaseUnavailable("MongoDB is down")
        return {"_id": doc_id}

    lapse = Lapse(window_s=60.0)
    assert await lapse.get(read, "a") is None
    assert lapse.passing
    down = False
    assert await lapse.get(read, "b") is None  # passed: not asked
    assert calls == ["a"]
    lapse.failed_at -= 61.0  # the window is over
    assert not lapse.passing
    assert await lapse.get(read, "c") == {"_id": "c"}
    assert calls == ["a", "c"]
