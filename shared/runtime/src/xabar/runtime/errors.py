"""The runtime package's exception hierarchy.

::

    RuntimeFault
    ├── InfraError          local redis-server or FerretDB could not be installed or started
    ├── ConfigError         a setting that names nothing usable (a Redis URL of no deployment)
    └── BadRequest          a request refused before any service logic ran (status, code, message)
        ├── BodyError       a body over a limit, of another type, or malformed (runtime.bodies)
        └── BadParameter    a query or path parameter out of its form or range (runtime.params)

    ServiceError            the base of each service's own tree (its ``errors.py``), ``message``

``BadRequest`` carries its HTTP status: ``runtime.http.error_handlers`` renders it as the JSON
error body; a service whose users are people catches it (or maps it) to answer a page.

The storage drivers' errors are named here once, so that a service maps them (to 503, say)
without importing a driver:

- ``STORAGE_ERRORS``: every error of redis-py and PyMongo (``RedisError``, ``PyMongoError``);
  ``REDIS_ERRORS`` and ``MONGO_ERRORS``: each driver's alone;
- ``UNREACHABLE``: Redis or MongoDB cannot be reached right now (a connection refused or timed
  out), which a retry may cure;
- ``UNAVAILABLE``: what a background loop backs off on (``runtime.workers``): ``UNREACHABLE``,
  a server-side timeout (``ExecutionTimeout``, ``WTimeoutError``) and the builtin connection
  and timeout errors.
"""

from typing import Any

from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError, WTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError,)
MONGO_ERRORS: tuple[type[Exception], ...] = (PyMongoError,)
STORAGE_ERRORS: tuple[type[Exception], ...] = (*MONGO_ERRORS, *REDIS_ERRORS)
UNREACHABLE: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionFailure,
)
UNAVAILABLE: tuple[type[BaseException], ...] = (
    *UNREACHABLE,
    ExecutionTimeout,
    WTimeoutError,
    ConnectionError,
    TimeoutError,
)


class RuntimeFault(Exception):
    """Base of every error raised by xabar.runtime."""


class ServiceError(Exception):
    """The base of each service's own exception tree (``PublisherError``, ``PollsError``,
    ``IngestError``): ``message`` is said to people as it is, in the service's words; the
    service's routes map each class to HTTP once (``routing.ErrorMap``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InfraError(RuntimeFault):
    """Local infrastructure (redis-server, FerretDB) could not be installed or started."""


class ConfigError(RuntimeFault, ValueError):
    """A setting names nothing usable; the message says why, in words a deployer reads."""


class BadRequest(RuntimeFault):
    """A request refused with ``status``; ``code`` is for programs, ``message`` for people
    (our own words, never an exception's text)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = fields
        self.headers = headers
