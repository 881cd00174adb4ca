"""The repository the projector writes the read model through: its three single-slot steps
(``scripts.PUT_DOCS`` per bucket, ``scripts.APPLY``, and ``scripts.GENERATIONS`` to know where
the documents go), each a batch of script calls in one round trip (per node on a cluster,
``xabar.runtime.luascripts``). What the calls carry is the projector's (``xabar.feed.projector``).
"""

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from xabar.feed import scripts
from xabar.runtime.luascripts import run_many

Args = Sequence[str | bytes | int]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ProjectionWrites:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._apply = redis.register_script(scripts.APPLY)
        self._put_docs = redis.register_script(scripts.PUT_DOCS)
        self._generations = redis.register_script(scripts.GENERATIONS)

    async def generations(self) -> list[str]:
        """The served generation (named now if there is none) and one being rebuilt, if any."""
        current, building = await self._generations(keys=scripts.GENERATIONS_KEYS)
        return [_text(g) for g in (current, building) if g]

    async def put_docs(self, calls: Sequence[tuple[Sequence[str], Args]]) -> list[Any]:
        """``PUT_DOCS`` per (keys of one bucket, its triples); a failed call's reply is its
        exception."""
        todo = [(self._put_docs, keys, args) for keys, args in calls]
        return await run_many(self.redis, todo, raise_on_error=False)

    async def apply(self, calls: Sequence[Args]) -> list[Any]:
        """``APPLY`` per argument list; a failed call's reply is its exception."""
        if len(calls) == 1:
            try:
                return [await self._apply(keys=scripts.APPLY_KEYS, args=calls[0])]
            except ResponseError as exc:  # the call failed as a whole (e.g. out of memory)
                return [exc]
        todo = [(self._apply, scripts.APPLY_KEYS, args) for args in calls]
        return await run_many(self.redis, todo, raise_on_error=False)
