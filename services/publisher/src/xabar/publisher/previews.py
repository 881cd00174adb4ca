"""The newsroom's preview, rendered by the readers' site itself: the publisher posts an article's
public state (``ArticleState``, not stored anywhere) to the feed's ``POST /api/v1/preview``
with a bearer token of the editor who asks, minted here for a minute, and gets back the HTML of
the article page. No service imports another: this is HTTP, as a browser would ask."""

import logging
from datetime import timedelta

import httpx

from xabar.contracts import ArticleState
from xabar.publisher.errors import UpstreamUnavailable
from xabar.runtime.auth import Principal, TokenIssuer

log = logging.getLogger("xabar.publisher.previews")

TOKEN_TTL = timedelta(seconds=60)
MAX_PAGE_BYTES = 4 * 1024 * 1024


class FeedPreview:
    def __init__(self, base_url: str, private_key: str, *, timeout_s: float) -> None:
        self.url = base_url.rstrip("/") + "/api/v1/preview"
        self.codec = TokenIssuer(private_key, None, ttl=TOKEN_TTL)
        self.client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def render(self, by: Principal, state: ArticleState) -> str:
        """The article page of ``state`` as the readers' site renders it."""
        headers = {
            "Authorization": f"Bearer {self.codec.issue(by)}",
            "Content-Type": "application/json",
        }
        try:
            async with self.client.stream(
                "POST", self.url, content=state.model_dump_json(), headers=headers
            ) as resp:
                if resp.status_code != 200:
                    log.warning("preview refused", extra={"status": resp.status_code})
                    raise UpstreamUnavailable(
                        f"сайт не показал предпросмотр (ответ {resp.status_code})"
                    )
                body = bytearray()
                async for chunk in resp.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_PAGE_BYTES:
                        raise UpstreamUnavailable("страница предпросмотра слишком большая")
                return body.decode("utf-8", errors="replace")
        except httpx.HTTPError as exc:
            log.warning("feed not reached", extra={"error": repr(exc), "url": self.url})
            raise UpstreamUnavailable("сайт для читателей (feed) не отвечает") from exc
