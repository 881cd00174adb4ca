"""What ingest's endpoints work with: one typed object, built by the composition root
(``app.create_app``) and found by every endpoint with ``Deps.of(request)``."""

import logging
import re
from dataclasses import dataclass

from redis.exceptions import RedisError
from starlette.requests import HTTPConnection

from xabar.ingest.config import IngestSettings
from xabar.ingest.errors import RateLimited
from xabar.ingest.forms import FormSigner
from xabar.ingest.pages import Pages
from xabar.ingest.service import IngestService
from xabar.runtime.auth import TokenVerifier
from xabar.runtime.clients import Network, client_address, hash_address
from xabar.runtime.ratelimit import RateLimiter

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
        except RedisError:
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
    pages: Pages
    signer: FormSigner
    submit_limit: Throttle
    lookup_limit: Throttle
    codec: TokenVerifier
    trusted: tuple[Network, ...]  # our own proxies, parsed once

    @classmethod
    def of(cls, conn: HTTPConnection) -> "Deps":
        deps = conn.app.state.deps
        assert isinstance(deps, cls)
        return deps

    def client_hash(self, conn: HTTPConnection) -> str:
        """The client's address (behind our own proxies only) as a keyed hash."""
        address = client_address(conn.scope, self.trusted)
        return hash_address(address, self.settings.address_salt.get_secret_value())


def correlation(conn: HTTPConnection) -> str | None:
    """The caller's correlation id (``X-Correlation-ID`` or ``X-Request-ID``), if well formed."""
    value = conn.headers.get("x-correlation-id") or conn.headers.get("x-request-id")
    return value if value and _CORRELATION.match(value) else None
