"""/asyncapi.json is the document of the channels the polls service declares."""

import httpx

from tests.support.asyncapi import assert_serves_declared_document
from xabar.polls.config import PollsSettings
from xabar.polls.handlers import declare_channels


async def test_polls_serves_the_asyncapi_document_of_its_channels(
    client: httpx.AsyncClient, settings: PollsSettings
) -> None:
    await assert_serves_declared_document(client, "polls", declare_channels, settings)
