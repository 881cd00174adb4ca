"""/asyncapi.json is the document of the channels ingest declares."""

import httpx
from starlette.applications import Starlette

from tests.support.asyncapi import declared_document
from xabar.ingest.config import IngestSettings
from xabar.ingest.handlers import declare_channels


async def test_ingest_serves_the_asyncapi_document_of_its_channels(
    app_client: tuple[Starlette, httpx.AsyncClient], settings: IngestSettings
) -> None:
    served = await app_client[1].get("/asyncapi.json")
    assert served.status_code == 200
    assert served.json() == declared_document("ingest", declare_channels, settings)
