"""What ingest's endpoints work with: one typed object, built by the composition root
(``app.create_app``) and found by every endpoint with ``Deps.of(request)``."""

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from xabar.ingest.addresses import AddressHasher
from xabar.ingest.config import IngestSettings
from xabar.ingest.errors import RateLimited
from xabar.ingest.forms import FormSigner
from xabar.ingest.gates import MemoryGate
from xabar.ingest.pages import Pages
from xabar.ingest.readers import ReadersService
from xabar.ingest.service import IngestService
from xabar.runtime.auth import TokenVerifier
from xabar.runtime.clients import Network, client_address
from xabar.runtime.errors import REDIS_ERRORS
from xabar.runtime.ratelimit import RateLimiter
from xabar.runtime.security import OriginCheck

log = logging.getLogger("xabar.ingest.deps")

_CORRELATION = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")


@dataclass(frozen=True, slots=True)
class Throttle:
    """A rate limit per client of one kind of request (``what``: "submissions", "look-ups")."""

    limiter: RateLimiter
    what: str

    async def check(self, client: str) -> None:
        """``RateLimited`` if ``client`` is over the limit. Fails open when Redis is down: an
        accepted submission is then stored in MongoDB and published once Redis is back."""
        try:
            verdict = await self.limiter.hit(client)
        except REDIS_ERRORS:
            log.warning("rate limiter unavailable; letting the request through")
            return
        if not verdict.allowed:
            wait = verdict.retry_after_s
            raise RateLimited(
                f"too many {self.what} from your address; try again in {wait} s", wait
            )


@dataclass(frozen=True, slots=True)
class Deps:
    settings: IngestSettings
    service: IngestService
    readers: ReadersService
    pages: Pages
    signer: FormSigner
    submit_limit: Throttle
    lookup_limit: Throttle
    comment_limit: Throttle
    letter_limit: Throttle
    codec: TokenVerifier
    trusted: tuple[Network, ...]  # our own proxies, parsed once
    tips_hash: AddressHasher  # the tips' key (rate limits, a tip's client_hash)
    comments_hash: AddressHasher  # the comments' and letters' own key
    binding_hash: AddressHasher  # what a form token is bound to
    uploads: MemoryGate  # the bodies that may carry photos, held at once
    origins: OriginCheck  # a post from a browser comes from one of our pages

    @classmethod
    def of(cls, conn: HTTPConnection) -> "Deps":
        deps = conn.app.state.deps
        assert isinstance(deps, cls)
        return deps

    def address(self, conn: HTTPConnection) -> str:
        """The client's address: the peer, or behind our own proxies the nearest other hop."""
        return client_address(conn.scope, self.trusted)

    def client_hash(self, conn: HTTPConnection) -> str:
        """The client's address as the tips' keyed hash (see ``addresses``)."""
        return self.tips_hash(self.address(conn))

    def commenter_hash(self, conn: HTTPConnection) -> str:
        """The client's address as the comments' keyed hash (a comment's client_hash)."""
        return self.comments_hash(self.address(conn))

    def binding(self, conn: HTTPConnection) -> str:
        """What a form served to this client is bound to."""
        return self.binding_hash(self.address(conn))

    @asynccontextmanager
    async def upload(self, conn: HTTPConnection) -> AsyncIterator[None]:
        """Hold the body's declared size (the largest allowed when it declares none) in the
        uploads' budget while it is read and handled."""
        declared = conn.headers.get("content-length", "")
        limit = self.settings.max_multipart_bytes()
        size = int(declared) if declared.isascii() and declared.isdigit() else limit
        async with self.uploads.hold(min(size, limit)):
            yield


def correlation(conn: HTTPConnection) -> str | None:
    """The caller's correlation id (``X-Correlation-ID`` or ``X-Request-ID``), if well formed."""
    value = conn.headers.get("x-correlation-id") or conn.headers.get("x-request-id")
    return value if value and _CORRELATION.match(value) else None
