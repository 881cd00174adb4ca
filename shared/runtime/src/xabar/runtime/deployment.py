"""Which Redis a service talks to, from one setting, and the one place its connections are built.

The setting (``XABAR_<SVC>_REDIS_URL``) names the deployment:

- ``redis://[user:password@]host:port/db`` (also ``rediss://``, ``unix://``): a single node, as
  redis-py reads such URLs;
- ``redis+sentinel://[user:password@]host:port,host:port,.../mastername[/db]``: the primary that
  the sentinels at those addresses name for ``mastername``, followed across failovers
  (``?sentinel_password=...`` when the sentinels want one of their own);
- ``redis+cluster://[user:password@]host:port,host:port,...``: a Redis Cluster reached from
  those seed nodes (database 0 only: a cluster has no other).

``parse_redis_url`` reads it once into a typed ``RedisDeployment``, which builds everything a
service needs on it: redis-py clients (``client``: ``Redis``, ``Sentinel(...).master_for`` or
``RedisCluster``), the FastStream broker of the bus (``broker``: ``RedisBroker``,
``RedisSentinelBroker`` or ``RedisClusterBroker``) and the pipelined hot-path connection
(``pipe``: ``RedisPipe``, which routes by slot on a cluster and follows the primary under
Sentinel). No service builds a Redis connection of its own.

``client`` is typed ``Redis`` on every deployment: ``RedisCluster`` speaks the same commands
(redis-py's command mixins), so repositories keep one type. What does differ on a cluster is
said where it matters: a MULTI/EXEC or a Lua script must keep to one slot (hash tags), and
``in_order`` runs steps that cannot share a slot one after the other instead of atomically.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, cast
from urllib.parse import parse_qs, quote, unquote, urlsplit

from faststream.redis import RedisBroker, RedisClusterBroker, RedisSentinelBroker
from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.cluster import ClusterNode
from redis.asyncio.connection import parse_url
from redis.asyncio.sentinel import Sentinel

from xabar.runtime.errors import ConfigError

if TYPE_CHECKING:
    from xabar.runtime.redispipe import RedisPipe

Address: TypeAlias = tuple[str, int]
SENTINEL_SCHEME = "redis+sentinel"
CLUSTER_SCHEME = "redis+cluster"
_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]+))(?::(?P<port>\d+))?$")


class RedisDeployment(ABC):
    """A Redis deployment a service talks to; builds every connection to it."""

    kind: str

    @abstractmethod
    def describe(self) -> str:
        """The deployment as its URL, without the password (for logs and documents)."""

    @abstractmethod
    def client(
        self,
        *,
        max_connections: int | None = None,
        pool_timeout: float | None = None,
        **options: Any,
    ) -> Redis:
        """A redis-py client. ``max_connections`` bounds the pool (per node on a cluster); with
        ``pool_timeout`` a caller waits that long for a free connection (one node, Sentinel)."""

    @abstractmethod
    def broker(self, **options: Any) -> RedisBroker:
        """The FastStream broker for this deployment, with the bus's ``options``."""

    def pipe(self, **options: Any) -> RedisPipe:
        """The pipelined hot-path connection (see ``xabar.runtime.redispipe``)."""
        from xabar.runtime.redispipe import RedisPipe

        return RedisPipe(self, **options)

    @property
    def is_cluster(self) -> bool:
        return self.kind == "cluster"


@dataclass(frozen=True, slots=True)
class SingleNode(RedisDeployment):
    """One Redis server: the URL as redis-py reads it."""

    url: str = field(repr=False)
    kind: str = "single"

    def describe(self) -> str:
        return _without_password(self.url)

    def connect_kwargs(self) -> dict[str, Any]:
        return dict(parse_url(self.url))

    def client(
        self,
        *,
        max_connections: int | None = None,
        pool_timeout: float | None = None,
        **options: Any,
    ) -> Redis:
        if max_connections is None:
            return Redis.from_url(self.url, **options)
        pool = BlockingConnectionPool.from_url(
            self.url, max_connections=max_connections, timeout=pool_timeout, **options
        )
        return Redis.from_pool(pool)

    def broker(self, **options: Any) -> RedisBroker:
        return RedisBroker(self.url, **options)


class _NonBlockingPools(RedisDeployment):
    """A deployment whose redis-py pools do not block for a free connection (Sentinel's, a
    cluster's): past ``max_connections`` a caller gets an error at once (answered 503 like any
    Redis error), so ``pool_timeout`` is not used."""

    def client(
        self,
        *,
        max_connections: int | None = None,
        pool_timeout: float | None = None,
        **options: Any,
    ) -> Redis:
        if max_connections is not None:
            options["max_connections"] = max_connections
        del pool_timeout
        return self._client(**options)

    @abstractmethod
    def _client(self, **options: Any) -> Redis:
        """The client, with the pool's ``max_connections`` among ``options`` when bounded."""


@dataclass(frozen=True, slots=True)
class SentinelDeployment(_NonBlockingPools):
    """The primary that a set of sentinels names for ``master_name``."""

    sentinels: tuple[Address, ...]
    master_name: str
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)
    kind: str = "sentinel"

    def describe(self) -> str:
        return f"{SENTINEL_SCHEME}://{_addresses(self.sentinels)}/{self.master_name}/{self.db}"

    def auth(self) -> dict[str, Any]:
        return {"username": self.username, "password": self.password}

    def sentinel_kwargs(self, **options: Any) -> dict[str, Any]:
        kwargs = dict(options)
        if self.sentinel_password:
            kwargs["password"] = self.sentinel_password
        return kwargs

    def manager(self, **options: Any) -> Sentinel:
        """redis-py's ``Sentinel`` over these sentinels (the primary's ``options`` given)."""
        timeouts = {k: v for k, v in options.items() if k.startswith("socket_")}
        return Sentinel(  # type: ignore[no-untyped-call]
            list(self.sentinels),
            sentinel_kwargs=self.sentinel_kwargs(**timeouts),
            **self.auth(),
            **options,
        )

    def _client(self, **options: Any) -> Redis:
        client: Redis = self.manager().master_for(
            self.master_name, redis_class=Redis, db=self.db, **self.auth(), **options
        )
        return client

    def broker(self, **options: Any) -> RedisBroker:
        return RedisSentinelBroker(
            _auth_url("redis://", self.username, self.password, f"localhost/{self.db}"),
            sentinels=list(self.sentinels),
            sentinel_master_name=self.master_name,
            sentinel_kwargs=self.sentinel_kwargs() or None,
            specification_url=self.describe(),
            **options,
        )


@dataclass(frozen=True, slots=True)
class ClusterDeployment(_NonBlockingPools):
    """A Redis Cluster, reached from its seed nodes."""

    seeds: tuple[Address, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    kind: str = "cluster"

    def describe(self) -> str:
        return f"{CLUSTER_SCHEME}://{_addresses(self.seeds)}"

    def _client(self, **options: Any) -> Redis:
        cluster = RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in self.seeds],
            username=self.username,
            password=self.password,
            **options,
        )
        return cast(Redis, cluster)  # the same commands; see the module's docstring

    def broker(self, **options: Any) -> RedisBroker:
        host, port = self.seeds[0]
        return RedisClusterBroker(
            _auth_url("redis://", self.username, self.password, f"{_address(host, port)}"),
            startup_nodes=list(self.seeds),
            specification_url=self.describe(),
            **options,
        )


def parse_redis_url(url: str) -> RedisDeployment:
    """The deployment a Redis setting names (see the module's docstring); ``ConfigError`` with
    the reason when it names none."""
    scheme = url.partition("://")[0].lower()
    if scheme == SENTINEL_SCHEME:
        return _parse_sentinel(url)
    if scheme == CLUSTER_SCHEME:
        return _parse_cluster(url)
    if scheme in ("redis", "rediss", "unix"):
        try:
            parse_url(url)
        except ValueError as exc:
            raise ConfigError(f"not a Redis URL ({exc})") from None
        return SingleNode(url)
    raise ConfigError(
        "a Redis URL starts with redis://, rediss://, unix://, "
        f"{SENTINEL_SCHEME}:// or {CLUSTER_SCHEME}://"
    )


def as_deployment(redis: str | RedisDeployment) -> RedisDeployment:
    return redis if isinstance(redis, RedisDeployment) else parse_redis_url(redis)


def is_cluster(redis: Any) -> bool:
    """Whether a redis-py client speaks to a Redis Cluster."""
    return isinstance(redis, RedisCluster)


async def in_order(redis: Redis, *steps: Callable[[Any], Any]) -> list[Any]:
    """Run ``steps`` (each is given a pipeline or the client and queues or sends one command)
    in one MULTI/EXEC on a single node or under Sentinel. On a cluster, where their keys may lie
    in different slots, they run one after the other, each awaited before the next: not
    atomic, so write them so that a crash between two steps leaves what a retry repairs (a
    dead letter written twice, an entry acked late), never a loss."""
    if is_cluster(redis):
        return [await cast(Awaitable[Any], step(redis)) for step in steps]
    async with redis.pipeline(transaction=True) as pipe:
        for step in steps:
            step(pipe)
        replies: list[Any] = await pipe.execute()
        return replies


# --- parsing ----------------------------------------------------------------------------------


def _parse_sentinel(url: str) -> SentinelDeployment:
    parts = urlsplit(url)
    netloc, username, password = _split_userinfo(parts.netloc)
    segments = [s for s in parts.path.split("/") if s]
    if not segments or len(segments) > 2:
        raise ConfigError(
            f"a Sentinel URL names its master: {SENTINEL_SCHEME}://host:port,host:port/"
            "mastername[/db]"
        )
    db = _db(segments[1]) if len(segments) == 2 else 0
    query = parse_qs(parts.query)
    unknown = sorted(set(query) - {"sentinel_password"})
    if unknown:
        raise ConfigError(f"a Sentinel URL takes sentinel_password only, not {', '.join(unknown)}")
    return SentinelDeployment(
        sentinels=_hosts(netloc, default_port=26379),
        master_name=unquote(segments[0]),
        db=db,
        username=username,
        password=password,
        sentinel_password=query["sentinel_password"][0] if "sentinel_password" in query else None,
    )


def _parse_cluster(url: str) -> ClusterDeployment:
    parts = urlsplit(url)
    netloc, username, password = _split_userinfo(parts.netloc)
    path = parts.path.strip("/")
    if path and _db(path) != 0:
        raise ConfigError("a Redis Cluster has database 0 only")
    if parts.query:
        raise ConfigError("a cluster URL takes no options")
    return ClusterDeployment(_hosts(netloc, default_port=6379), username, password)


def _split_userinfo(netloc: str) -> tuple[str, str | None, str | None]:
    userinfo, at, hosts = netloc.rpartition("@")
    if not at:
        return netloc, None, None
    user, colon, password = userinfo.partition(":")
    return hosts, unquote(user) or None, unquote(password) if colon else None


def _hosts(netloc: str, *, default_port: int) -> tuple[Address, ...]:
    found: list[Address] = []
    for item in netloc.split(","):
        match = _HOST_PORT.match(item.strip())
        if match is None:
            raise ConfigError(f"{item.strip()!r} is not host:port")
        host = match["v6"] or match["host"]
        port = int(match["port"]) if match["port"] else default_port
        if not 0 < port < 65536:
            raise ConfigError(f"{item.strip()!r}: the port is out of range")
        found.append((host, port))
    if not found:
        raise ConfigError("the URL names no host")
    return tuple(found)


def _db(text: str) -> int:
    if not text.isdigit():
        raise ConfigError(f"{text!r} is not a database number")
    return int(text)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _addresses(addresses: Sequence[Address]) -> str:
    return ",".join(_address(h, p) for h, p in addresses)


def _auth_url(prefix: str, username: str | None, password: str | None, rest: str) -> str:
    if password is None:
        return prefix + rest
    return f"{prefix}{quote(username or '', safe='')}:{quote(password, safe='')}@{rest}"


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{host}").geturl()
