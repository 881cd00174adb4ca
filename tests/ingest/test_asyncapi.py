"""/asyncapi.json is the document of the channels ingest declares."""

import httpx
from starlette.applications import Starlette

from tests.support.asyncapi import assert_serves_declared_document
from xabar.ingest.config import IngestSettings
from xabar.ingest.handlers import declare_channels


async def test_ingest_serves_the_asyncapi_document_of_its_channels(
    app_client: tuple[Starlette, httpx.AsyncClient], settings: IngestSettings
) -> None:
    await assert_serves_declared_document(app_client[1], "ingest", declare_channels, settings)
