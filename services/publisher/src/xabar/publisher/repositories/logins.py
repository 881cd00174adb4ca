"""Login attempts, counted in Redis (``xabar.runtime.ratelimit``), and the addresses each account
logged in from.

Every attempt counts, before anything is checked, against three bounds in one window:

- an e-mail from one address (``per_email_address``): guesses at one account from one place;
- an address, whatever the e-mail (``per_address``): one place trying many accounts;
- an account from the addresses it never logged in from (``per_account``): guesses at one
  account spread over many addresses. An address the account logged in from within
  ``known_for_s`` does not count here and is not refused by it, so a stranger who spends this
  budget locks out only new places, and only until the window ends (minutes) after they stop;
  the owner, from where they usually log in, is never locked out by it.

Addresses are kept as keyed hashes (``xabar.runtime.clients.hash_address``), at most
``MAX_KNOWN`` per account, each forgotten ``known_for_s`` after its last successful login.
"""

import hashlib
import time

from redis.asyncio import Redis

from xabar.publisher.errors import TooManyAttempts
from xabar.runtime.ratelimit import RateLimiter

PREFIX = "publisher:login"
MAX_KNOWN = 20
TOO_MANY = "слишком много попыток входа; попробуйте позже"


def _account(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]


class LoginThrottle:
    def __init__(
        self,
        redis: Redis,
        *,
        per_email_address: int,
        per_address: int,
        per_account: int,
        window_s: int,
        known_for_s: int,
    ) -> None:
        self.redis = redis
        self.pair = RateLimiter(redis, PREFIX, per_email_address, window_s)
        self.address = RateLimiter(redis, f"{PREFIX}-address", per_address, window_s)
        self.account = RateLimiter(redis, f"{PREFIX}-account", per_account, window_s)
        self.known_for_s = known_for_s

    async def check(self, email: str, address_key: str) -> None:
        """Count an attempt; ``TooManyAttempts`` (with its Retry-After) past a bound."""
        limits = [(self.pair, f"{email}|{address_key}"), (self.address, address_key)]
        if not await self.known(email, address_key):
            limits.append((self.account, _account(email)))
        for limiter, key in limits:
            verdict = await limiter.hit(key)
            if not verdict.allowed:
                raise TooManyAttempts(TOO_MANY, verdict.retry_after_s)

    async def known(self, email: str, address_key: str) -> bool:
        """Whether the account logged in from this address lately."""
        seen = await self.redis.zscore(self._known_key(email), address_key)
        return seen is not None and float(seen) >= time.time() - self.known_for_s

    async def remember(self, email: str, address_key: str) -> None:
        """A successful login from this address: it is known to the account from now on."""
        key, now = self._known_key(email), time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {address_key: now})
            pipe.zremrangebyscore(key, "-inf", now - self.known_for_s)
            pipe.zremrangebyrank(key, 0, -(MAX_KNOWN + 1))
            pipe.expire(key, self.known_for_s)
            await pipe.execute()

    def _known_key(self, email: str) -> str:
        return f"{PREFIX}-known:{_account(email)}"
