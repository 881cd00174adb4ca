"""The newsroom's sessions, kept server-side in Redis.

The browser holds only a random token (the cookie); Redis holds its SHA-256 (``sid``), so a copy
of Redis gives no one a cookie that works. Keys:

- ``publisher:session:{sid}``: a hash of who (editor id, name, role), the session's CSRF token,
  when it began (``created``) and was last used (``seen``); it expires after the idle timeout,
  renewed at most every ``TOUCH_S`` seconds of use, and never past the absolute timeout;
- ``publisher:session:{sid}:flash``: the messages to show on the next page (a list);
- ``publisher:sessions-of:{editor_id}``: the sids of an account, so that all its sessions can
  be ended at once (logout everywhere, a disabled account, a new password or role).

A session is checked against both timeouts on every read, so a key that outlived its time (a
clock step, a renewal race) is still refused, and against the account's revocation time (the
same per-account "not before" that ends its API tokens), so ending an account's sessions is one
write that no session opened before it survives.
"""

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass

from redis.asyncio import Redis

from xabar.runtime.auth import Principal, Revocations, Role

PREFIX = "publisher:session:"
OF_EDITOR = "publisher:sessions-of:"
TOUCH_S = 30
MAX_FLASHES = 10


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Flash:
    """A message for the next page: ``kind`` is ``ok`` or ``error``."""

    text: str
    kind: str = "ok"


@dataclass(frozen=True, slots=True)
class Session:
    sid: str
    editor_id: str
    name: str
    role: Role
    csrf: str
    created_at: float
    seen_at: float
    flashes: tuple[Flash, ...] = ()

    @property
    def principal(self) -> Principal:
        return Principal(self.editor_id, self.name, self.role)


@dataclass(eq=False)
class SessionStore:
    """Sessions in Redis: ``idle_s`` without a request ends one, ``absolute_s`` after it opened
    ends it whatever; an account's revocation (``revocations``) ends all of its sessions."""

    redis: Redis
    _: KW_ONLY
    idle_s: int
    absolute_s: int
    revocations: Revocations | None = None
    clock: Callable[[], float] = time.time

    async def open(self, who: Principal) -> tuple[str, Session]:
        """A new session for ``who``: the cookie's token and the session."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(
            sid=session_id(token),
            editor_id=who.editor_id,
            name=who.name,
            role=who.role,
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            seen_at=now,
        )
        key, mine = PREFIX + session.sid, OF_EDITOR + who.editor_id
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(
                key,
                mapping={
                    "editor": who.editor_id,
                    "name": who.name,
                    "role": who.role.value,
                    "csrf": session.csrf,
                    "created": repr(now),
                    "seen": repr(now),
                },
            )
            pipe.expire(key, self.idle_s)
            pipe.sadd(mine, session.sid)
            pipe.expire(mine, self.absolute_s)
            await pipe.execute()
        return token, session

    async def find(self, token: str | None) -> Session | None:
        """The live session of a cookie's token, renewed; None if there is none (any more)."""
        if not token or len(token) > 100:
            return None
        sid = session_id(token)
        key = PREFIX + sid
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(key)
            pipe.lrange(key + ":flash", 0, MAX_FLASHES - 1)
            raw, flashes = await pipe.execute()
        if not raw:
            return None
        try:
            session = _session(sid, raw, flashes)
        except (KeyError, ValueError):
            await self.close_sid(sid)
            return None
        now = self.clock()
        left = min(session.seen_at + self.idle_s, session.created_at + self.absolute_s) - now
        if left <= 0 or await self._revoked(session):
            await self.close_sid(sid, session.editor_id)
            return None
        if now - session.seen_at >= TOUCH_S:
            ttl = int(min(self.idle_s, session.created_at + self.absolute_s - now)) + 1
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hset(key, "seen", repr(now))
                pipe.expire(key, ttl)
                await pipe.execute()
        return session

    async def _revoked(self, session: Session) -> bool:
        """Whether the account's sessions and tokens were ended after this one began (logout,
        a disabled account, a new password or role: ``runtime.auth.Revocations``)."""
        if self.revocations is None:
            return False
        return await self.revocations.is_revoked(session.editor_id, session.created_at)

    async def close(self, token: str | None) -> None:
        if token:
            await self.close_sid(session_id(token))

    async def close_sid(self, sid: str, editor_id: str | None = None) -> None:
        key = PREFIX + sid
        if editor_id is None:
            owner = await self.redis.hget(key, "editor")
            editor_id = text_of(owner) if owner else None
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.delete(key)
            pipe.delete(key + ":flash")
            if editor_id:
                pipe.srem(OF_EDITOR + editor_id, sid)
            await pipe.execute()

    async def close_all(self, editor_id: str) -> int:
        """End every session of an account; how many there were."""
        mine = OF_EDITOR + editor_id
        sids = [text_of(s) for s in await self.redis.smembers(mine)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in sids:
                pipe.delete(PREFIX + sid)
                pipe.delete(PREFIX + sid + ":flash")
            pipe.delete(mine)
            await pipe.execute()
        return len(sids)

    async def flash(self, session: Session, text: str, kind: str = "ok") -> None:
        key = PREFIX + session.sid + ":flash"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(key, json.dumps({"text": text, "kind": kind}, ensure_ascii=False))
            pipe.ltrim(key, -MAX_FLASHES, -1)
            pipe.expire(key, self.idle_s)
            await pipe.execute()

    async def shown(self, session: Session) -> None:
        """The session's messages were shown: they go."""
        if session.flashes:
            await self.redis.delete(PREFIX + session.sid + ":flash")


def text_of(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _session(sid: str, raw: dict[bytes, bytes], flashes: list[bytes]) -> Session:
    values = {k.decode(): v.decode() for k, v in raw.items()}
    shown = []
    for item in flashes:
        data = json.loads(item)
        shown.append(Flash(str(data["text"]), str(data.get("kind", "ok"))))
    return Session(
        sid=sid,
        editor_id=values["editor"],
        name=values["name"],
        role=Role(values["role"]),
        csrf=values["csrf"],
        created_at=float(values["created"]),
        seen_at=float(values["seen"]),
        flashes=tuple(shown),
    )
