"""/asyncapi.json is the document of the channels the feed declares."""

import httpx

from tests.support.asyncapi import declared_document
from xabar.feed.config import FeedSettings
from xabar.feed.handlers import declare_channels


async def test_the_feed_serves_the_asyncapi_document_of_its_channels(
    client: httpx.AsyncClient, settings: FeedSettings
) -> None:
    served = await client.get("/asyncapi.json")
    assert served.status_code == 200
    assert served.json() == declared_document("feed", declare_channels, settings)
