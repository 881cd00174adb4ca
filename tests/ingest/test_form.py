"""The Russian form "Народный репортер" / "Напишите нам", in-process against the real servers."""

import httpx
import redis.asyncio as aioredis

from tests.ingest.conftest import (
    RECEIPT_CODE,
    MakeSettings,
    Mongo,
    jpeg_with_gps,
    moved,
    report_form,
    running,
    stored,
    tip,
)
from xabar.ingest.config import IngestSettings


async def _count(mongo: Mongo, settings: IngestSettings) -> int:
    return await mongo[settings.mongodb_db]["submissions"].count_documents({})


async def test_the_form_is_russian_and_forbids_scripts(client: httpx.AsyncClient) -> None:
    page = await client.get("/report")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Народный репортер" in page.text and "Напишите нам" in page.text
    assert 'lang="ru"' in page.text and "Таджикистан" in page.text
    assert 'enctype="multipart/form-data"' in page.text
    assert 'name="website"' in page.text  # the honeypot
    assert "<script" not in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # falls back to 'none'
    assert "default-src 'none'" in page.headers["content-security-policy"]


async def test_a_form_post_with_a_photo_shows_a_receipt_that_finds_the_submission(
    client: httpx.AsyncClient, redis: aioredis.Redis, mongo: Mongo, settings: IngestSettings
) -> None:
    fields = await report_form(client, tip(), website="")
    photos = [("photos", ("photo.jpg", jpeg_with_gps(), "image/jpeg"))]
    posted = await client.post("/report", data=fields, files=photos)
    assert posted.status_code == 200, posted.text
    assert "Сообщение получено" in posted.text
    submission_id, code = RECEIPT_CODE.findall(posted.text)
    doc = await stored(mongo[settings.mongodb_db], submission_id)
    assert len(doc["attachments"]) == 1

    again = await client.post("/report", data=fields, files=photos)  # a double click
    assert again.status_code == 200 and again.text == posted.text
    await moved(redis)
    assert await _count(mongo, settings) == 1

    lookup = await client.post("/report/status", data={"id": submission_id, "code": code})
    assert lookup.status_code == 200
    assert "Получено" in lookup.text
    wrong = await client.post("/report/status", data={"id": submission_id, "code": "X" * 20})
    assert wrong.status_code == 404 and "не найдено" in wrong.text
    api = await client.get(f"/api/v1/submissions/{submission_id}", params={"code": code})
    assert api.status_code == 200 and api.json()["status"] == "received"


async def test_a_filled_honeypot_is_refused_and_stores_nothing(
    client: httpx.AsyncClient, mongo: Mongo, settings: IngestSettings
) -> None:
    fields = await report_form(client, tip(), website="http://cheap-pills.example")
    posted = await client.post("/report", data=fields)
    assert posted.status_code == 422
    assert "Форма отклонена" in posted.text
    assert await _count(mongo, settings) == 0


async def test_a_form_sent_faster_than_a_person_can_is_refused(
    make_settings: MakeSettings, mongo: Mongo
) -> None:
    settings = make_settings(form_min_fill_s=30.0)
    async with running(settings) as (_, client):
        fields = await report_form(client, tip())
        posted = await client.post("/report", data=fields)
        assert posted.status_code == 422
        assert "слишком быстро" in posted.text
        assert "Отключили свет в Худжанде" in posted.text  # what was typed is kept
        forged = await client.post("/report", data={**fields, "form_token": "1.abc.def"})
        assert forged.status_code == 422
        assert await _count(mongo, settings) == 0


async def test_invalid_form_fields_come_back_in_russian_with_the_values_escaped(
    client: httpx.AsyncClient, mongo: Mongo, settings: IngestSettings
) -> None:
    fields = await report_form(
        client, tip(title="<script>alert(1)</script>", text="мало"), contact_email="not-an-email"
    )
    fields.pop("consent")
    posted = await client.post("/report", data=fields)
    assert posted.status_code == 422
    assert "Укажите заголовок" in posted.text
    assert "Опишите, что произошло" in posted.text
    assert "Проверьте адрес электронной почты" in posted.text
    assert "Без вашего согласия" in posted.text
    assert "<script>alert(1)" not in posted.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in posted.text
    assert await _count(mongo, settings) == 0


async def test_form_limits_and_content_type_are_answered_in_russian(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(max_photos=1)
    async with running(settings) as (_, client):
        fields = await report_form(client, tip())
        two = [("photos", (f"{i}.jpg", jpeg_with_gps(), "image/jpeg")) for i in range(2)]
        posted = await client.post("/report", data=fields, files=two)
        assert posted.status_code == 413
        assert "не больше 1" in posted.text
        wrong = await client.post(
            "/report", content=b"{}", headers={"content-type": "application/json"}
        )
        assert wrong.status_code == 415 and "форму" in wrong.text
