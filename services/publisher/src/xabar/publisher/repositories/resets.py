"""Password reset links in Redis: only the SHA-256 of a link's token is kept
(``publisher:reset:{hash}`` -> editor id) for the link's lifetime, and using it deletes it
(``GETDEL``), so a link works once."""

import hashlib

from redis.asyncio import Redis

from xabar.publisher.repositories.sessions import text_of

RESET_PREFIX = "publisher:reset:"
MAX_TOKEN = 100  # a longer "token" is no token of ours: it is not looked up


def _reset_key(token: str) -> str:
    return RESET_PREFIX + hashlib.sha256(token.encode()).hexdigest()


class ResetLinks:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def put(self, token: str, editor_id: str, ttl_s: int) -> None:
        await self.redis.set(_reset_key(token), editor_id, ex=ttl_s)

    async def peek(self, token: str) -> str | None:
        """The editor a valid link is for (the link stays usable)."""
        if not token or len(token) > MAX_TOKEN:
            return None
        found = await self.redis.get(_reset_key(token))
        return None if found is None else text_of(found)

    async def take(self, token: str) -> str | None:
        """The editor a valid link is for; the link is used up."""
        if not token or len(token) > MAX_TOKEN:
            return None
        found = await self.redis.getdel(_reset_key(token))
        return None if found is None else text_of(found)
