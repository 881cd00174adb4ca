"""At-least-once event delivery on Redis Streams with FastStream.

- ``publish`` writes an event to the stream of its type (``STREAM_OF_TYPE``), trimmed approximately
  to ``maxlen`` entries, far above any backlog we expect.
- ``subscribe`` reads a stream in a consumer group with a stable consumer name. The handler runs,
  and the entry is acked only when it returned. A failure leaves the entry pending; a second
  subscriber (``min_idle_time``) claims entries idle longer than ``claim_idle_ms`` - a crashed
  consumer's entries included - and delivers them again. Past ``max_deliveries`` the entry moves to
  ``<stream>.dlq`` together with the error, and is acked on the source stream.
- An entry that is not a readable event (bad JSON, failed validation) is poison: it goes to the
  dead-letter stream at once. An event type this consumer does not handle is acked and skipped
  (tolerant reader).
"""

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisStreamMessage as MessageParam
from faststream.redis.message import RedisStreamMessage
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from xabar.contracts import STREAM_OF_TYPE, ContractError, Event, UnknownEventType, dlq_stream
from xabar.contracts import parse_event as _parse_event
from xabar.runtime.logs import correlation_id_var

log = logging.getLogger("xabar.bus")

Handler = Callable[[Event], Awaitable[None]]

EVENTS_PUBLISHED = Counter("xabar_events_published_total", "Events published", ["stream", "type"])
EVENTS_HANDLED = Counter(
    "xabar_events_handled_total", "Events handled", ["stream", "group", "outcome"]
)


@dataclass(frozen=True, slots=True)
class BusOptions:
    stream_maxlen: int = 1_000_000
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    polling_interval_ms: int = 100
    batch: int = 100


class EventBus:
    """One broker per process: publishing and consumer-group subscriptions."""

    def __init__(
        self,
        redis_url: str,
        *,
        consumer_name: str,
        options: BusOptions | None = None,
        broker: RedisBroker | None = None,
    ) -> None:
        self.options = options or BusOptions()
        self.consumer_name = consumer_name
        self.broker = broker or RedisBroker(
            redis_url,
            logger=logging.getLogger("xabar.bus.faststream"),
            log_level=logging.DEBUG,
            graceful_timeout=10.0,
        )
        self._streams: list[tuple[str, str]] = []

    @property
    def redis(self) -> Redis:
        """The broker's own connection (valid once the broker is connected)."""
        return self.broker._connection  # type: ignore[return-value]

    async def start(self) -> None:
        await self.broker.connect()
        for stream, group in self._streams:
            await ensure_group(self.redis, stream, group)
        await self.broker.start()

    async def stop(self, limit_s: float = 5.0) -> None:
        """Stop reading, let a handler in flight finish (and ack), then close the connection.

        FastStream's ``broker.stop()`` cancels the subscriber loops without waiting for them; a
        loop still inside a blocking XREADGROUP can then open a new connection on the closing
        client, which leaks. So the loops are told to stop and awaited first."""
        subscribers: list[Any] = list(self.broker.subscribers)
        tasks: list[asyncio.Task[Any]] = [t for s in subscribers for t in getattr(s, "tasks", ())]
        for subscriber in subscribers:
            subscriber.running = False
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=0.3)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=limit_s)
        await self.broker.stop()

    async def publish(self, event: Event) -> bytes:
        """Append ``event`` to its stream; returns the entry id."""
        stream = STREAM_OF_TYPE[event.type]
        entry_id = await self.broker.publish(
            event.model_dump_json().encode(),
            stream=stream,
            maxlen=self.options.stream_maxlen,
            correlation_id=event.correlation_id,
            headers={"event_type": event.type, "event_id": str(event.event_id)},
        )
        EVENTS_PUBLISHED.labels(stream, event.type).inc()
        return entry_id

    def subscribe(
        self,
        stream: str,
        group: str,
        handler: Handler,
        *,
        types: Iterable[str] | None = None,
    ) -> None:
        """Deliver events of ``types`` (all, if None) on ``stream`` to ``handler`` in ``group``."""
        wanted = frozenset(types) if types is not None else None
        opts = self.options
        self._streams.append((stream, group))

        async def on_message(message: RedisStreamMessage) -> None:
            await self._deliver(message, stream, group, handler, wanted)

        reader = StreamSub(
            stream,
            group=group,
            consumer=self.consumer_name,
            polling_interval=opts.polling_interval_ms,
            max_records=opts.batch,
        )
        claimer = StreamSub(
            stream,
            group=group,
            consumer=self.consumer_name,
            polling_interval=max(opts.polling_interval_ms, min(opts.claim_idle_ms // 4, 5_000)),
            min_idle_time=opts.claim_idle_ms,
        )
        self.broker.subscriber(stream=reader)(_as_faststream_handler(on_message))
        self.broker.subscriber(stream=claimer)(_as_faststream_handler(on_message))

    async def _deliver(
        self,
        message: RedisStreamMessage,
        stream: str,
        group: str,
        handler: Handler,
        wanted: frozenset[str] | None,
    ) -> None:
        raw: bytes = message.body
        try:
            event = _parse_event(raw)
        except UnknownEventType as exc:
            log.warning("skipping event of unknown type", extra={"error": str(exc)})
            EVENTS_HANDLED.labels(stream, group, "skipped").inc()
            return
        except ContractError as exc:
            await self._dead_letter(message, stream, group, f"poison: {exc}", deliveries=1)
            return
        if wanted is not None and event.type not in wanted:
            EVENTS_HANDLED.labels(stream, group, "skipped").inc()
            return
        token = correlation_id_var.set(event.correlation_id)
        try:
            await handler(event)
        except Exception as exc:
            deliveries = await message.get_delivery_count()
            if deliveries >= self.options.max_deliveries:
                detail = "".join(traceback.format_exception_only(exc)).strip()
                await self._dead_letter(message, stream, group, detail, deliveries)
                return
            EVENTS_HANDLED.labels(stream, group, "failed").inc()
            log.warning(
                "handler failed; entry stays pending for redelivery",
                extra={
                    "stream": stream,
                    "group": group,
                    "deliveries": deliveries,
                    "event_id": str(event.event_id),
                    "error": repr(exc),
                },
            )
            raise
        finally:
            correlation_id_var.reset(token)
        EVENTS_HANDLED.labels(stream, group, "ok").inc()

    async def _dead_letter(
        self, message: RedisStreamMessage, stream: str, group: str, error: str, deliveries: int
    ) -> None:
        entry_id = message.raw_message["message_ids"][0]
        raw_fields = message.raw_message["data"]
        fields: dict[Any, Any] = {
            "stream": stream,
            "group": group,
            "entry_id": entry_id,
            "error": error[:4000],
            "deliveries": deliveries,
            "failed_at": datetime.now(UTC).isoformat(),
            "consumer": self.consumer_name,
        }
        for key, value in raw_fields.items():
            fields[b"orig:" + (key if isinstance(key, bytes) else str(key).encode())] = value
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(
                dlq_stream(stream), fields, maxlen=self.options.stream_maxlen, approximate=True
            )
            pipe.xack(stream, group, entry_id)
            await pipe.execute()
        EVENTS_HANDLED.labels(stream, group, "dead_lettered").inc()
        log.error(
            "entry moved to the dead-letter stream",
            extra={"stream": stream, "group": group, "entry_id": _s(entry_id), "error": error},
        )


def _as_faststream_handler(
    fn: Callable[[RedisStreamMessage], Awaitable[None]],
) -> Callable[..., Awaitable[None]]:
    async def handler(message: MessageParam) -> None:
        await fn(message)

    return handler


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    """Create ``group`` on ``stream`` (and the stream) from the start of history, if missing."""
    with contextlib.suppress(ResponseError):
        await redis.xgroup_create(stream, group, id="0", mkstream=True)


# --- dead-letter inspection and replay (used by the ops CLI) --------------------------------------


@dataclass(frozen=True, slots=True)
class DeadLetter:
    dlq_id: str
    stream: str
    group: str
    entry_id: str
    error: str
    deliveries: int
    failed_at: str
    payload: dict[bytes, bytes]


async def list_dead_letters(redis: Redis, stream: str, count: int = 100) -> list[DeadLetter]:
    rows: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(  # type: ignore[assignment]
        dlq_stream(stream), count=count
    )
    return [_dead_letter_of(dlq_id, fields) for dlq_id, fields in rows]


def _dead_letter_of(dlq_id: bytes, fields: dict[bytes, bytes]) -> DeadLetter:
    payload = {k[5:]: v for k, v in fields.items() if k.startswith(b"orig:")}
    return DeadLetter(
        dlq_id=_s(dlq_id),
        stream=_s(fields[b"stream"]),
        group=_s(fields[b"group"]),
        entry_id=_s(fields[b"entry_id"]),
        error=_s(fields[b"error"]),
        deliveries=int(fields[b"deliveries"]),
        failed_at=_s(fields[b"failed_at"]),
        payload=payload,
    )


async def replay_dead_letters(
    redis: Redis, stream: str, ids: Iterable[str] | None = None, maxlen: int = 1_000_000
) -> int:
    """Put dead letters back on their stream (as new entries) and remove them from the DLQ."""
    wanted = set(ids) if ids is not None else None
    replayed = 0
    for letter in await list_dead_letters(redis, stream, count=100_000):
        if wanted is not None and letter.dlq_id not in wanted:
            continue
        async with redis.pipeline(transaction=True) as pipe:
            pipe.xadd(letter.stream, letter.payload, maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
            pipe.xdel(dlq_stream(stream), letter.dlq_id)
            await pipe.execute()
        replayed += 1
    return replayed


def monotonic_ms() -> int:
    return int(time.monotonic() * 1000)
