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
- ``subscribe_batch`` gives the same guarantees to a handler of many events at a time (one
  XREADGROUP of up to ``batch`` entries, one handler call, one XACK): the handler answers one
  outcome per event, so a failing entry stays pending (and is dead-lettered past the limit) while
  the others of its batch are acked, and nothing that succeeded is handled again.
"""

import asyncio
import contextlib
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faststream import AckPolicy
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.annotations import RedisBatchStreamMessage as BatchMessageParam
from faststream.redis.annotations import RedisStreamMessage as MessageParam
from faststream.redis.message import (
    FAKE_CONSUMER,
    BatchStreamMessage,
    RedisBatchStreamMessage,
    RedisStreamMessage,
)
from faststream.redis.parser import BinaryMessageFormatV1
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from xabar.contracts import STREAM_OF_TYPE, ContractError, Event, UnknownEventType, dlq_stream
from xabar.contracts import parse_event as _parse_event
from xabar.runtime.logs import correlation_id_var

log = logging.getLogger("xabar.bus")

Handler = Callable[[Event], Awaitable[None]]
# One outcome per event, in order: None = done (acked), an exception = failed (stays pending).
BatchHandler = Callable[[Sequence[Event]], Awaitable[Sequence[BaseException | None]]]

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
    batch: int = 100  # entries per XREADGROUP (and per handler call of ``subscribe_batch``)


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

    def subscribe_batch(
        self,
        stream: str,
        group: str,
        handler: BatchHandler,
        *,
        types: Iterable[str] | None = None,
        batch: int | None = None,
    ) -> None:
        """Deliver events of ``types`` on ``stream`` to ``handler`` in ``group``, up to ``batch``
        (default ``options.batch``) at a time, in stream order.

        ``handler`` returns one outcome per event it was given: None when the event's effect is
        durable, or the exception it failed with. Done, skipped (type not wanted or unknown) and
        dead-lettered entries are acked together, once the handler returned; a failed one stays
        pending, so the claimer delivers it again (alone) after ``claim_idle_ms``, and past
        ``max_deliveries`` it moves to the dead-letter stream. If the handler raises, every event
        it was given failed. A crash before the ack leaves the whole batch pending for the
        claimer: handlers must be idempotent (version-gated or deduped), as for ``subscribe``.
        """
        wanted = frozenset(types) if types is not None else None
        opts = self.options
        self._streams.append((stream, group))

        async def on_batch(message: RedisBatchStreamMessage) -> None:
            await self._deliver_batch(message, stream, group, handler, wanted)

        reader = StreamSub(
            stream,
            group=group,
            consumer=self.consumer_name,
            polling_interval=opts.polling_interval_ms,
            batch=True,
            max_records=batch or opts.batch,
        )
        claimer = StreamSub(
            stream,
            group=group,
            consumer=self.consumer_name,
            polling_interval=max(opts.polling_interval_ms, min(opts.claim_idle_ms // 4, 5_000)),
            batch=True,
            min_idle_time=opts.claim_idle_ms,
        )
        for sub in (reader, claimer):
            # MANUAL: the acks are ours (per entry); the raw entries are read without FastStream
            # decoding every body to JSON and back (``_raw_batch``).
            self.broker.subscriber(stream=sub, ack_policy=AckPolicy.MANUAL, parser=_raw_batch)(
                _as_faststream_batch_handler(on_batch)
            )

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

    async def _deliver_batch(
        self,
        message: RedisBatchStreamMessage,
        stream: str,
        group: str,
        handler: BatchHandler,
        wanted: frozenset[str] | None,
    ) -> None:
        ids: list[bytes] = message.raw_message["message_ids"]
        rows: list[dict[bytes, bytes]] = message.raw_message["data"]
        done: list[bytes] = []  # acked: handled, or skipped
        dead: list[_Dead] = []
        events: list[Event] = []
        taken: list[tuple[bytes, dict[bytes, bytes]]] = []
        skipped = 0
        for entry_id, fields in zip(ids, rows, strict=True):
            try:
                event = _parse_event(entry_body(fields))
            except UnknownEventType as exc:
                log.warning("skipping event of unknown type", extra={"error": str(exc)})
                done.append(entry_id)
                skipped += 1
                continue
            except ContractError as exc:
                dead.append(_Dead(entry_id, fields, f"poison: {exc}", 1))
                continue
            if wanted is not None and event.type not in wanted:
                done.append(entry_id)
                skipped += 1
                continue
            events.append(event)
            taken.append((entry_id, fields))
        failed: list[tuple[bytes, dict[bytes, bytes], Event, BaseException]] = []
        if events:
            outcomes: Sequence[BaseException | None]
            try:
                outcomes = await handler(events)
                if len(outcomes) != len(events):
                    raise RuntimeError(
                        f"batch handler answered {len(outcomes)} outcomes for {len(events)} events"
                    )
            except Exception as exc:
                outcomes = [exc] * len(events)
            for (entry_id, fields), event, outcome in zip(taken, events, outcomes, strict=True):
                if outcome is None:
                    done.append(entry_id)
                else:
                    failed.append((entry_id, fields, event, outcome))
        if failed:
            counts = await self._delivery_counts(stream, group, [f[0] for f in failed])
            for entry_id, fields, event, error in failed:
                deliveries = counts.get(entry_id, 1)
                if deliveries >= self.options.max_deliveries:
                    detail = "".join(traceback.format_exception_only(error)).strip()
                    dead.append(_Dead(entry_id, fields, detail, deliveries))
                    continue
                EVENTS_HANDLED.labels(stream, group, "failed").inc()
                log.warning(
                    "handler failed; entry stays pending for redelivery",
                    extra={
                        "stream": stream,
                        "group": group,
                        "deliveries": deliveries,
                        "event_id": str(event.event_id),
                        "error": repr(error),
                    },
                )
        if dead:
            await self._dead_letter_many(stream, group, dead, also_ack=done)
        elif done:
            await self.redis.xack(stream, group, *done)
        if handled := len(done) - skipped:
            EVENTS_HANDLED.labels(stream, group, "ok").inc(handled)
        if skipped:
            EVENTS_HANDLED.labels(stream, group, "skipped").inc(skipped)

    async def _delivery_counts(
        self, stream: str, group: str, entry_ids: Sequence[bytes]
    ) -> dict[bytes, int]:
        """How often each of ``entry_ids`` (pending in ``group``) was delivered."""
        lo, hi = min(entry_ids, key=_entry_key), max(entry_ids, key=_entry_key)
        wanted = set(entry_ids)
        counts: dict[bytes, int] = {}
        rows = await self.redis.xpending_range(
            stream, group, min=lo, max=hi, count=max(len(entry_ids), 1) * 4 + 100
        )
        for row in rows:
            entry_id = row["message_id"]
            if entry_id in wanted:
                counts[entry_id] = int(row["times_delivered"])
        for entry_id in wanted - counts.keys():  # a wide range: ask for the rest one by one
            one = await self.redis.xpending_range(
                stream, group, min=entry_id, max=entry_id, count=1
            )
            counts[entry_id] = int(one[0]["times_delivered"]) if one else 1
        return counts

    async def _dead_letter(
        self, message: RedisStreamMessage, stream: str, group: str, error: str, deliveries: int
    ) -> None:
        entry_id = message.raw_message["message_ids"][0]
        raw_fields = message.raw_message["data"]
        await self._dead_letter_many(
            stream, group, [_Dead(entry_id, raw_fields, error, deliveries)]
        )

    async def _dead_letter_many(
        self, stream: str, group: str, dead: Sequence["_Dead"], also_ack: Sequence[bytes] = ()
    ) -> None:
        """Move ``dead`` to the dead-letter stream and ack them (with ``also_ack``), atomically."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for letter in dead:
                pipe.xadd(
                    dlq_stream(stream),
                    self._dead_fields(stream, group, letter),
                    maxlen=self.options.stream_maxlen,
                    approximate=True,
                )
            pipe.xack(stream, group, *[d.entry_id for d in dead], *also_ack)
            await pipe.execute()
        for letter in dead:
            EVENTS_HANDLED.labels(stream, group, "dead_lettered").inc()
            log.error(
                "entry moved to the dead-letter stream",
                extra={
                    "stream": stream,
                    "group": group,
                    "entry_id": _s(letter.entry_id),
                    "error": letter.error,
                },
            )

    def _dead_fields(self, stream: str, group: str, letter: "_Dead") -> dict[Any, Any]:
        return dead_letter_fields(
            stream,
            group,
            self.consumer_name,
            letter.entry_id,
            letter.fields,
            letter.error,
            letter.deliveries,
        )


def dead_letter_fields(
    stream: str,
    group: str,
    consumer: str,
    entry_id: bytes,
    fields: Mapping[Any, Any],
    error: str,
    deliveries: int,
) -> dict[Any, Any]:
    """A dead letter as ``<stream>.dlq`` holds it (what ``list_dead_letters`` and
    ``replay_dead_letters`` read): where it came from, the error, and the original fields."""
    letter: dict[Any, Any] = {
        "stream": stream,
        "group": group,
        "entry_id": entry_id,
        "error": error[:4000],
        "deliveries": deliveries,
        "failed_at": datetime.now(UTC).isoformat(),
        "consumer": consumer,
    }
    for key, value in fields.items():
        letter[b"orig:" + (key if isinstance(key, bytes) else str(key).encode())] = value
    return letter


async def read_own_first(
    redis: Redis, stream: str, group: str, consumer: str, count: int, block_ms: int | None
) -> list[tuple[bytes, Any]]:
    """For workers that read a stream in a consumer group of their own: this consumer's pending
    entries first (a failed one is read again until it is settled), else new ones (waiting up to
    ``block_ms``). A deleted pending entry comes back with empty fields: ack it only."""
    r: Any = redis  # redis-py's reply types are unions; we know the shape
    for entry_id, block in (("0", None), (">", block_ms)):
        reply = await r.xreadgroup(group, consumer, {stream: entry_id}, count=count, block=block)
        if reply and reply[0][1]:
            return list(reply[0][1])
    return []


async def claim_idle(
    redis: Redis, stream: str, group: str, consumer: str, min_idle_ms: int, count: int
) -> int:
    """Take over the entries other consumers of ``group`` left pending longer than
    ``min_idle_ms`` (a crashed replica's); returns how many."""
    r: Any = redis
    claimed, start = 0, "0-0"
    while True:
        reply = await r.xautoclaim(stream, group, consumer, min_idle_ms, start, count=count)
        start, ids = _s(reply[0]), reply[1]
        claimed += len(ids)
        if start == "0-0" or not ids:
            return claimed


@dataclass(frozen=True, slots=True)
class FailedEntry:
    """An entry of a work stream whose effect failed (see ``settle_failed``)."""

    entry_id: bytes
    fields: Mapping[bytes, bytes]
    error: BaseException


async def settle_failed(
    redis: Redis,
    stream: str,
    group: str,
    consumer: str,
    failed: Sequence[FailedEntry],
    max_deliveries: int,
) -> tuple[list[tuple[FailedEntry, int]], list[tuple[FailedEntry, int]]]:
    """For workers that read a stream in a consumer group of their own rather than through
    ``EventBus`` (ingest's intake mover, the polls' vote-log writer): a failed entry delivered
    ``max_deliveries`` times goes to ``<stream>.dlq`` in the bus's layout (so ``xabar-ops dlq
    list|replay`` handle it), acked and deleted from the stream, all in one MULTI/EXEC; the
    others stay pending. Returns (left pending, dead-lettered), each with its delivery count,
    for the caller's logs and metrics."""
    r: Any = redis  # redis-py's reply types are unions; we know the shape
    kept: list[tuple[FailedEntry, int]] = []
    dead: list[tuple[FailedEntry, int]] = []
    for item in failed:
        rows = await r.xpending_range(stream, group, min=item.entry_id, max=item.entry_id, count=1)
        deliveries = int(rows[0]["times_delivered"]) if rows else 1
        (dead if deliveries >= max_deliveries else kept).append((item, deliveries))
    if dead:
        async with redis.pipeline(transaction=True) as pipe:
            for item, deliveries in dead:
                error = "".join(traceback.format_exception_only(item.error)).strip()
                pipe.xadd(
                    dlq_stream(stream),
                    dead_letter_fields(
                        stream, group, consumer, item.entry_id, item.fields, error, deliveries
                    ),
                )
            entry_ids = [item.entry_id for item, _ in dead]
            pipe.xack(stream, group, *entry_ids)
            pipe.xdel(stream, *entry_ids)
            await pipe.execute()
    return kept, dead


@dataclass(frozen=True, slots=True)
class _Dead:
    entry_id: bytes
    fields: Mapping[Any, Any]
    error: str
    deliveries: int


DATA_FIELD = b"__data__"


_ENVELOPE_V1 = BinaryMessageFormatV1.IDENTITY_HEADER + (1).to_bytes(2, "big")


def entry_body(fields: Mapping[bytes, bytes]) -> bytes:
    """The event bytes of a stream entry as FastStream's stream parser reads them: the
    ``__data__`` field in FastStream's envelope (or plain), else the fields as a JSON object.

    FastStream's binary envelope v1 is magic (8 bytes), version (2), headers offset (4), body
    offset (4), headers, body: the body is sliced out directly; anything else goes through
    FastStream's own parser."""
    raw = fields.get(DATA_FIELD)
    if not raw:
        return json.dumps({_text(k): _text(v) for k, v in fields.items()}).encode()
    if raw.startswith(_ENVELOPE_V1) and len(raw) >= 18:
        start = int.from_bytes(raw[14:18], "big")
        if 18 <= start <= len(raw):
            return raw[start:]
    body, _headers = BinaryMessageFormatV1.parse(raw)
    return body


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _entry_key(entry_id: bytes) -> tuple[int, int]:
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq or 0)


async def _raw_batch(msg: Any) -> RedisBatchStreamMessage:
    """The batch as FastStream read it, its entries left raw (``_deliver_batch`` reads them)."""
    raw: BatchStreamMessage = msg
    return RedisBatchStreamMessage(raw_message=raw, body=b"", consumer=FAKE_CONSUMER, group=None)


def _as_faststream_handler(
    fn: Callable[[RedisStreamMessage], Awaitable[None]],
) -> Callable[..., Awaitable[None]]:
    async def handler(message: MessageParam) -> None:
        await fn(message)

    return handler


def _as_faststream_batch_handler(
    fn: Callable[[RedisBatchStreamMessage], Awaitable[None]],
) -> Callable[..., Awaitable[None]]:
    async def handler(message: BatchMessageParam) -> None:
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
