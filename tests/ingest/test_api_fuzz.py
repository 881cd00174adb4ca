"""schemathesis against ingest's own /openapi.json: no 5xx, every status, content type and body
as the document says; with a submission and a photo that exist, so that the look-ups reach them."""

import asyncio

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.conftest import TokenKeys
from tests.ingest.conftest import MakeSettings, jpeg_with_gps, multipart_fields, stored, tip
from tests.support import fuzz
from xabar.ingest.app import create_app


@pytest.mark.parametrize("who", ["anonymous", "editor"])
async def test_api_fuzz(
    make_settings: MakeSettings,
    mongo: AsyncMongoClient[dict[str, object]],
    token_keys: TokenKeys,
    who: str,
) -> None:
    # room for every generated submission: the limit itself is tested in test_api
    settings = make_settings(submit_rate_limit=100_000, lookup_rate_limit=100_000)
    with fuzz.served(create_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            sent = await client.post(
                "/api/v1/submissions",
                data=multipart_fields(tip()),
                files=[("photos", ("p.jpg", jpeg_with_gps(), "image/jpeg"))],
            )
            assert sent.status_code == 202, sent.text
        submission_id = sent.json()["submission_id"]
        doc = await stored(mongo[settings.mongodb_db], submission_id)  # moved from the intake
        attachments: list[dict[str, object]] = doc["attachments"]
        known = {
            "submission_id": [submission_id],
            "X-Receipt-Code": [sent.json()["receipt_code"]],
            "attachment_id": [str(a["attachment_id"]) for a in attachments],
        }
        # tips that are accepted (202 and the receipt), signed and anonymous
        bodies = {"POST /api/v1/submissions": [tip(), tip(anonymous=True, contact=None)]}
        if who == "anonymous":
            await asyncio.to_thread(fuzz.run, url, known=known, bodies=bodies)
        else:
            headers = fuzz.bearer(token_keys.private)
            await asyncio.to_thread(fuzz.run, url, headers, known=known, only=fuzz.secured)
