"""At-least-once event delivery on Redis Streams with FastStream.

Publishing: ``publishes`` declares, per stream, the event classes a service appends to it
(FastStream publishers typed with those pydantic models, so the service's AsyncAPI document
names them); ``publish`` writes one event, ``publish_many`` many in one pipeline round trip. A
stream is trimmed approximately to ``stream_maxlen`` entries, far above any backlog. A bus that
declares nothing (a test's, a tool's) may publish any event; one that declares may publish only
what it declared, so its document cannot miss a channel.

Consuming: ``subscribe`` registers a typed handler, ``async def on_x(event: SomeEvent) -> None``,
with FastStream: the annotation says which events it takes (a union for several, ``Event`` for
all), FastStream validates them and the AsyncAPI document shows them. It reads the stream in a
consumer group with a stable consumer name; the entry is acked only when the handler returned.
A failure leaves the entry pending; a second subscriber of the group (FastStream's
``min_idle_time``: XAUTOCLAIM, it never reads new entries) claims entries idle longer than
``claim_idle_ms`` - a crashed consumer's included - and delivers them again. Past
``max_deliveries`` the entry moves to ``<stream>.dlq`` together with the error, acked on the
source stream in the same MULTI/EXEC. An entry that is not a readable event (bad JSON, failed
validation) goes there at once. Events the handler does not take (and unknown types) are acked
and skipped (tolerant reader).

``subscribe_batch`` gives the same guarantees to a handler of many events at a time (one
XREADGROUP of up to ``batch`` entries, one handler call, one XACK): the handler answers one
outcome per event, so a failing entry stays pending (and is dead-lettered past the limit) while
the others of its batch are acked, and nothing that succeeded is handled again.

What FastStream does not do is here, small: the dead letters, the skipping and the per-entry
acks of a batch are one broker middleware (``_Deliveries``); a batch is read by a parser of its
own (``EventBatch``), because FastStream's batch parser decodes every entry's JSON and encodes
the batch again (35 us an entry, measured: most of the projector's budget). Handlers get their
collaborators from FastStream's context (``provide``). ``stop`` is FastStream's graceful stop:
reading stops, a handler in flight finishes and acks (``graceful_timeout_s``), then the
connection closes.
"""

import contextlib
import json
import logging
import traceback
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from types import UnionType
from typing import Any, Concatenate, ParamSpec, TypeVar

from faststream import AckPolicy, BaseMiddleware, StreamMessage
from faststream.redis import BinaryMessageFormatV1, StreamSub
from faststream.redis.message import BatchStreamMessage, RedisStreamMessage
from faststream.redis.parser import MessageFormat
from faststream.redis.publisher.usecase import StreamPublisher
from prometheus_client import Counter
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ResponseError

from xabar.contracts import (
    STREAM_OF_TYPE,
    ContractError,
    Event,
    UnknownEventType,
    dlq_stream,
    parse_event,
)
from xabar.runtime.deployment import RedisDeployment, as_deployment, in_order
from xabar.runtime.logs import correlation_id_var

log = logging.getLogger("xabar.bus")

E = TypeVar("E", bound=Event)
P = ParamSpec("P")  # what a handler takes besides its events: collaborators, from the context
Handler = Callable[[Event], Awaitable[None]]
# One outcome per event, in order: None = done (acked), an exception = failed (stays pending).
Outcomes = Sequence[BaseException | None]
BatchHandler = Callable[[Sequence[Event]], Awaitable[Outcomes]]

EVENTS_PUBLISHED = Counter("xabar_events_published_total", "Events published", ["stream", "type"])
EVENTS_HANDLED = Counter(
    "xabar_events_handled_total", "Events handled", ["stream", "group", "outcome"]
)
DATA_FIELD = b"__data__"


# Streams trimmed to a window shorter than ``stream_maxlen``: their consumers need only the
# window (the feed's rebuild takes what is older from the read model it replaces, see
# ``xabar.feed.rebuild``), and their entries are large (every article event carries the whole
# article): 100,000 of them are about 0.5 GB, a million 5 GB (``docs/redis-keys.md``).
STREAM_WINDOWS: Mapping[str, int] = {"xabar.articles": 100_000}


@dataclass(frozen=True, slots=True)
class BusOptions:
    stream_maxlen: int = 1_000_000
    stream_windows: Mapping[str, int] = field(default_factory=lambda: dict(STREAM_WINDOWS))
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    polling_interval_ms: int = 100
    batch: int = 100  # entries per XREADGROUP (and per handler call of ``subscribe_batch``)
    graceful_timeout_s: float = 10.0  # how long ``stop`` waits for handlers in flight

    def maxlen(self, stream: str) -> int:
        """The entries ``stream`` is trimmed to (approximately) when appended to."""
        return min(self.stream_maxlen, self.stream_windows.get(stream, self.stream_maxlen))


class BusError(Exception):
    """The bus was used in a way it does not support (a wiring mistake, not a delivery)."""


class _Head(BaseModel):
    type: str
    event_id: str
    correlation_id: str


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An event ready to publish: its JSON and the envelope fields publishing needs. Producers
    that keep events serialized (an outbox, an intake) publish them without parsing them."""

    type: str
    event_id: str
    correlation_id: str
    body: bytes

    @classmethod
    def of(cls, event: Event) -> "Outgoing":
        body = event.model_dump_json().encode()
        return cls(event.type, str(event.event_id), event.correlation_id, body)

    @classmethod
    def of_json(cls, body: str | bytes) -> "Outgoing":
        """An event kept as its JSON (only its envelope is read)."""
        head = _Head.model_validate_json(body)
        raw = body.encode() if isinstance(body, str) else body
        return cls(head.type, head.event_id, head.correlation_id, raw)


class EventBus:
    """One broker per process: typed publishers and consumer-group subscriptions."""

    def __init__(
        self,
        redis: str | RedisDeployment,
        *,
        consumer_name: str,
        options: BusOptions | None = None,
        name: str = "",
    ) -> None:
        """``redis``: the deployment (or its URL: one node, Sentinel or a cluster, see
        ``xabar.runtime.deployment``). ``name``: the service this bus belongs to, as its AsyncAPI
        document names it."""
        self.options = options or BusOptions()
        self.consumer_name = consumer_name
        self.name = name
        self.message_format: type[MessageFormat] = BinaryMessageFormatV1
        self.deployment = as_deployment(redis)
        self.broker = self.deployment.broker(
            logger=logging.getLogger("xabar.bus.faststream"),
            log_level=logging.DEBUG,
            graceful_timeout=self.options.graceful_timeout_s,
            message_format=self.message_format,
            middlewares=[self._deliveries],
        )
        self._redis: Redis | None = None
        self._groups: list[tuple[str, str]] = []
        self._publishers: dict[str, StreamPublisher] = {}
        self._declared: dict[str, tuple[type[Event], ...]] = {}

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def redis(self) -> Redis:
        """The broker's connection (once ``connect`` or ``start`` ran)."""
        if self._redis is None:
            raise BusError("the bus is not connected: call connect() or start() first")
        return self._redis

    async def connect(self) -> Redis:
        """Connect without consuming (a bus that only publishes)."""
        self._redis = await self.broker.connect()
        return self._redis

    async def start(self) -> None:
        """Create the consumer groups (from the start of history) and start consuming."""
        redis = await self.connect()
        for stream, group in self._groups:
            await ensure_group(redis, stream, group)
        await self.broker.start()

    async def stop(self) -> None:
        """Stop reading, let a handler in flight finish (and ack), then close the connection
        (FastStream's graceful stop, bounded by ``graceful_timeout_s``)."""
        await self.broker.stop()
        self._redis = None

    def provide(self, **collaborators: Any) -> None:
        """Make collaborators available to handlers, which take them by name from FastStream's
        context: ``inbox: Annotated[InboxService, Context("inbox")]``."""
        for name, value in collaborators.items():
            self.broker.context.set_global(name, value)

    # --- publishing -----------------------------------------------------------------------------

    def publishes(self, *events: type[Event]) -> None:
        """Declare the event classes this bus publishes: one typed publisher per stream."""
        by_stream: dict[str, list[type[Event]]] = {}
        for cls in events:
            by_stream.setdefault(STREAM_OF_TYPE[cls.TYPE], []).append(cls)
        for stream, classes in by_stream.items():
            known = self._declared.get(stream)
            if known is not None and set(known) != set(classes):
                raise BusError(f"{stream} is declared already, with other events")
            if known is None:
                self._declared[stream] = tuple(classes)
                self._publishers[stream] = self.broker.publisher(
                    stream=StreamSub(stream, maxlen=self.options.maxlen(stream)),
                    schema=_union(classes),
                    description=f"{self.name or 'this service'} appends {_names(classes)}",
                )

    async def publish(self, event: Event) -> bytes:
        """Append ``event`` to its stream; returns the entry id."""
        out = Outgoing.of(event)
        entry_id = await self._send(self._publisher_for(event), out, None)
        EVENTS_PUBLISHED.labels(STREAM_OF_TYPE[out.type], out.type).inc()
        return entry_id

    async def publish_many(
        self, events: Iterable[Event | Outgoing], *, pipeline: Pipeline | None = None
    ) -> list[bytes]:
        """Append ``events`` in one pipeline round trip; returns their entry ids. With
        ``pipeline`` (say a MULTI the caller adds its own commands to) the XADDs are only
        queued on it and the caller executes it; nothing is returned then."""
        batch = [
            (self._publisher_for(e), Outgoing.of(e) if isinstance(e, Event) else e) for e in events
        ]
        if not batch:
            return []
        if self.deployment.is_cluster:  # FastStream's cluster publisher takes no pipeline
            return await self._publish_cluster(batch, pipeline)
        if pipeline is not None:
            await self._queue(batch, pipeline)
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            await self._queue(batch, pipe)
            ids: list[bytes] = await pipe.execute()
        return ids

    async def _publish_cluster(
        self, batch: list[tuple[StreamPublisher, Outgoing]], pipeline: Pipeline | None
    ) -> list[bytes]:
        """The XADDs of a batch on a cluster, written as FastStream writes them: in one
        round trip per node (in order on each, so a stream keeps the batch's order)."""
        pipe = pipeline if pipeline is not None else self.redis.pipeline(transaction=False)
        for publisher, out in batch:
            data = await self.message_format.encode(
                message=out.body, reply_to=None, headers=None, correlation_id=out.correlation_id
            )
            target = publisher.stream
            pipe.xadd(target.name, {DATA_FIELD: data}, maxlen=target.maxlen)
            EVENTS_PUBLISHED.labels(target.name, out.type).inc()
        if pipeline is not None:
            return []
        ids: list[bytes] = await pipe.execute()
        return ids

    async def _queue(self, batch: list[tuple[StreamPublisher, Outgoing]], pipe: Pipeline) -> None:
        for publisher, out in batch:
            await self._send(publisher, out, pipe)
        for _, out in batch:
            EVENTS_PUBLISHED.labels(STREAM_OF_TYPE[out.type], out.type).inc()

    async def _send(
        self, publisher: StreamPublisher, out: Outgoing, pipe: Pipeline | None
    ) -> bytes:
        # the event's own envelope names its type and id; FastStream's header carries the
        # correlation id (more headers cost every consumer time to parse)
        return await publisher.publish(out.body, correlation_id=out.correlation_id, pipeline=pipe)

    def _publisher_for(self, item: Event | Outgoing) -> StreamPublisher:
        stream = STREAM_OF_TYPE.get(item.type)
        if stream is None:
            raise BusError(f"no stream carries events of type {item.type!r}")
        if self._declared:
            declared = self._declared.get(stream, ())
            known = (
                isinstance(item, declared)
                if isinstance(item, Event)
                else any(item.type == c.TYPE for c in declared)
            )
            if not known:
                raise BusError(f"this bus does not declare that it publishes {item.type}")
        if stream not in self._publishers:  # a bus that declares nothing: made as needed
            self._publishers[stream] = self.broker.publisher(
                stream=StreamSub(stream, maxlen=self.options.maxlen(stream)),
                include_in_schema=False,
            )
        return self._publishers[stream]

    # --- consuming ------------------------------------------------------------------------------

    def subscribe(
        self, stream: str, group: str, handler: Callable[Concatenate[E, P], Awaitable[None]]
    ) -> None:
        """Deliver the events ``handler`` takes (the annotation of its first parameter) on
        ``stream`` to it, in ``group``."""
        wanted = _wanted(stream, handler, batch=False)

        async def decode(message: StreamMessage[Any]) -> Event:
            return _event_of(message.body, wanted)

        self._subscribe(
            stream, group, handler, wanted, decoder=decode, ack_policy=AckPolicy.NACK_ON_ERROR
        )

    def subscribe_batch(
        self,
        stream: str,
        group: str,
        handler: Callable[Concatenate[Sequence[E], P], Awaitable[Outcomes]],
        *,
        batch: int | None = None,
    ) -> None:
        """Deliver the events ``handler`` takes (``events: Sequence[SomeEvent]``) on ``stream``
        to it in ``group``, up to ``batch`` (default ``options.batch``) at a time, in stream
        order.

        ``handler`` returns one outcome per event it was given: None when the event's effect is
        durable, or the exception it failed with. Done, skipped (not taken or unknown) and
        dead-lettered entries are acked together, once the handler returned; a failed one stays
        pending, so the claimer delivers it again (alone) after ``claim_idle_ms``, and past
        ``max_deliveries`` it moves to the dead-letter stream. If the handler raises, every event
        it was given failed. A crash before the ack leaves the whole batch pending for the
        claimer: handlers must be idempotent (version-gated or deduped), as for ``subscribe``.
        """
        wanted = _wanted(stream, handler, batch=True)
        fmt = self.message_format

        async def parse(raw: BatchStreamMessage) -> EventBatch:
            return EventBatch.read(raw, group=group, wanted=wanted, fmt=fmt)

        async def decode(message: StreamMessage[Any]) -> list[Event]:
            return message.events if isinstance(message, EventBatch) else []

        self._subscribe(
            stream,
            group,
            handler,
            wanted,
            parser=parse,
            decoder=decode,
            ack_policy=AckPolicy.MANUAL,  # the acks are per entry (``_Deliveries``)
            batch=batch or self.options.batch,
        )

    def _subscribe(
        self,
        stream: str,
        group: str,
        handler: Callable[..., Awaitable[Any]],
        wanted: tuple[type[Event], ...] | None,
        *,
        decoder: Callable[..., Awaitable[Any]],
        ack_policy: AckPolicy,
        parser: Callable[..., Awaitable[Any]] | None = None,
        batch: int | None = None,
    ) -> None:
        opts = self.options
        self._groups.append((stream, group))
        common: dict[str, Any] = {"group": group, "consumer": self.consumer_name}
        if batch is not None:
            common["batch"] = True
        reader = StreamSub(
            stream,
            polling_interval=opts.polling_interval_ms,
            max_records=batch or opts.batch,
            **common,
        )
        claimer = StreamSub(
            stream,
            polling_interval=max(opts.polling_interval_ms, min(opts.claim_idle_ms // 4, 5_000)),
            min_idle_time=opts.claim_idle_ms,
            **common,
        )
        takes = _names(wanted) if wanted is not None else "every event on it"
        description = (
            f"{self.name or 'this service'} takes {takes}, in consumer group {group!r}"
            + (f", up to {batch} entries at a time" if batch else "")
        )
        for sub, documented in ((reader, True), (claimer, False)):
            self.broker.subscriber(
                stream=sub,
                parser=parser,
                decoder=decoder,
                ack_policy=ack_policy,
                include_in_schema=documented,  # the claimer reads the same channel
                description=description,
            )(handler)

    # --- delivery (the broker middleware) -------------------------------------------------------

    def _deliveries(self, msg: Any, /, *, context: Any) -> "_Deliveries":
        return _Deliveries(msg, context=context, bus=self)

    async def _consume_one(
        self, call_next: Callable[[Any], Awaitable[Any]], message: RedisStreamMessage
    ) -> Any:
        stream, group = message.raw_message["channel"], message.group or ""
        token = correlation_id_var.set(message.correlation_id)
        try:
            result = await call_next(message)
        except _Skip as skip:
            log.debug("event not taken; skipped", extra={"stream": stream, "why": str(skip)})
            EVENTS_HANDLED.labels(stream, group, "skipped").inc()
            return None
        except _Poison as poison:
            await self._dead_letter(stream, group, [_letter_of(message, f"poison: {poison}", 1)])
            return None
        except Exception as exc:
            deliveries = await message.get_delivery_count()
            if deliveries >= self.options.max_deliveries:
                await self._dead_letter(
                    stream, group, [_letter_of(message, _error(exc), deliveries)]
                )
                return None
            event = await message.decode()  # decoded already: FastStream caches it
            self._failed(stream, group, deliveries, str(getattr(event, "event_id", "")), exc)
            raise
        finally:
            correlation_id_var.reset(token)
        EVENTS_HANDLED.labels(stream, group, "ok").inc()
        return result

    async def _consume_batch(
        self, call_next: Callable[[Any], Awaitable[Any]], batch: "EventBatch"
    ) -> None:
        taken = [entry for entry in batch.entries if entry.event is not None]
        if taken:
            outcomes: Outcomes
            try:
                outcomes = await call_next(batch)
                if len(outcomes) != len(taken):
                    raise BusError(
                        f"batch handler answered {len(outcomes)} outcomes for {len(taken)} events"
                    )
            except Exception as exc:
                outcomes = [exc] * len(taken)
            for entry, outcome in zip(taken, outcomes, strict=True):
                entry.error = outcome
        await self._settle(batch)

    async def _settle(self, batch: "EventBatch") -> None:
        stream, group = batch.stream, batch.group
        done: list[bytes] = []  # acked: handled, or skipped
        dead: list[_Letter] = []
        failed: list[_Entry] = []
        handled = skipped = 0
        for entry in batch.entries:
            if entry.poison is not None:
                dead.append(_Letter(entry.entry_id, entry.fields, f"poison: {entry.poison}", 1))
            elif entry.event is None:
                skipped += 1
                done.append(entry.entry_id)
            elif entry.error is None:
                handled += 1
                done.append(entry.entry_id)
            else:
                failed.append(entry)
        if failed:
            counts = await self._delivery_counts(stream, group, [e.entry_id for e in failed])
            for entry in failed:
                assert entry.event is not None and entry.error is not None
                deliveries = counts.get(entry.entry_id, 1)
                if deliveries >= self.options.max_deliveries:
                    dead.append(
                        _Letter(entry.entry_id, entry.fields, _error(entry.error), deliveries)
                    )
                else:
                    self._failed(stream, group, deliveries, str(entry.event.event_id), entry.error)
        if dead:
            await self._dead_letter(stream, group, dead, also_ack=done)
        elif acks := [i for i in done if i]:
            await self.redis.xack(stream, group, *acks)
        if handled:
            EVENTS_HANDLED.labels(stream, group, "ok").inc(handled)
        if skipped:
            EVENTS_HANDLED.labels(stream, group, "skipped").inc(skipped)

    def _failed(
        self, stream: str, group: str, deliveries: int, event: str, error: BaseException
    ) -> None:
        _outcome(
            "failed",
            logging.WARNING,
            "handler failed; entry stays pending for redelivery",
            stream,
            group,
            deliveries=deliveries,
            event=event,
            error=repr(error),
        )

    async def _delivery_counts(
        self, stream: str, group: str, entry_ids: Sequence[bytes]
    ) -> dict[bytes, int]:
        """How often each of ``entry_ids`` (pending in ``group``) was delivered."""
        wanted = {i for i in entry_ids if i}
        if not wanted:  # no stream entries (FastStream's TestRedisBroker): first delivery
            return {}
        lo, hi = min(wanted, key=_entry_key), max(wanted, key=_entry_key)
        counts: dict[bytes, int] = {}
        rows = await self.redis.xpending_range(
            stream, group, min=lo, max=hi, count=len(wanted) * 4 + 100
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
        self, stream: str, group: str, dead: Sequence["_Letter"], also_ack: Sequence[bytes] = ()
    ) -> None:
        """Move ``dead`` to the dead-letter stream and ack them (with ``also_ack``), atomically
        (on a cluster, where the two streams lie in different slots, in that order).
        A message that is no stream entry (FastStream's TestRedisBroker) is only logged."""
        letters = [d for d in dead if d.entry_id]
        acks = [*(d.entry_id for d in letters), *(i for i in also_ack if i)]
        steps: list[Callable[[Any], Any]] = [
            partial(
                _xadd,
                dlq_stream(stream),
                dead_letter_fields(
                    stream,
                    group,
                    self.consumer_name,
                    letter.entry_id,
                    letter.fields,
                    letter.error,
                    letter.deliveries,
                ),
                self.options.stream_maxlen,
            )
            for letter in letters
        ]
        if acks:
            steps.append(lambda r: r.xack(stream, group, *acks))
        if steps:  # on a cluster the letters first, then the ack: a crash between repeats them
            await in_order(self.redis, *steps)
        for letter in dead:
            _outcome(
                "dead_lettered",
                logging.ERROR,
                "entry moved to the dead-letter stream",
                stream,
                group,
                entry_id=_s(letter.entry_id),
                error=letter.error,
            )


def _outcome(outcome: str, level: int, message: str, stream: str, group: str, **about: Any) -> None:
    """An entry's ``outcome`` counted (``EVENTS_HANDLED``) and logged, with its stream and group;
    the record names the caller, as a ``log`` call there would."""
    EVENTS_HANDLED.labels(stream, group, outcome).inc()
    log.log(level, message, extra={"stream": stream, "group": group, **about}, stacklevel=2)


class _Deliveries(BaseMiddleware):
    """The bus's broker middleware: skips, dead letters and per-entry acks (see ``EventBus``)."""

    def __init__(self, msg: Any, /, *, context: Any, bus: EventBus) -> None:
        super().__init__(msg, context=context)
        self.bus = bus

    async def consume_scope(
        self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]
    ) -> Any:
        if isinstance(msg, EventBatch):
            return await self.bus._consume_batch(call_next, msg)
        if isinstance(msg, RedisStreamMessage):
            return await self.bus._consume_one(call_next, msg)
        return await call_next(msg)


# --- what a subscriber takes ----------------------------------------------------------------------


class _Skip(Exception):
    """An event the handler does not take, or of a type nobody knows: acked, skipped."""


class _Poison(Exception):
    """An entry that is not a readable event: dead-lettered at once."""


def _event_of(raw: bytes, wanted: tuple[type[Event], ...] | None) -> Event:
    try:
        event = parse_event(raw)
    except UnknownEventType as exc:
        raise _Skip(str(exc)) from exc
    except ContractError as exc:
        raise _Poison(str(exc)) from exc
    if wanted is not None and not isinstance(event, wanted):
        raise _Skip(f"{event.type} v{event.schema_version} is not taken here")
    return event


def _wanted(
    stream: str, handler: Callable[..., Any], *, batch: bool
) -> tuple[type[Event], ...] | None:
    """The event classes ``handler`` takes, from the annotation of its first parameter
    (``Sequence[...]`` of them for a batch handler); None for ``Event``: all of them."""
    hints = typing.get_type_hints(handler)
    hints.pop("return", None)
    if not hints:
        raise BusError(f"{handler!r} has no annotated event parameter")
    payload = next(iter(hints.values()))
    if batch:
        if typing.get_origin(payload) not in (Sequence, list):
            raise BusError(f"{handler!r} must take a Sequence of events")
        (payload,) = typing.get_args(payload)
    classes = typing.get_args(payload) if _is_union(payload) else (payload,)
    if not all(isinstance(c, type) and issubclass(c, Event) for c in classes):
        raise BusError(f"{handler!r} must take events (Event subclasses), not {payload!r}")
    if classes == (Event,):
        return None
    elsewhere = sorted(c.TYPE for c in classes if STREAM_OF_TYPE.get(c.TYPE) != stream)
    if elsewhere:
        raise BusError(f"{', '.join(elsewhere)} are not on {stream}")
    return tuple(classes)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, UnionType)


def _union(classes: Sequence[type[Event]]) -> Any:
    return classes[0] if len(classes) == 1 else typing.Union[tuple(classes)]  # noqa: UP007


def _names(classes: Sequence[type[Event]]) -> str:
    return ", ".join(f"{c.TYPE} v{c.SCHEMA_VERSION}" for c in classes)


# --- a batch as the bus reads it ------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    entry_id: bytes  # b"" for a message that is no stream entry (TestRedisBroker)
    fields: Mapping[bytes, bytes]
    event: Event | None = None  # taken by the handler
    poison: str | None = None  # why it is no readable event
    error: BaseException | None = None  # what the handler answered for it


class EventBatch(StreamMessage[BatchStreamMessage]):
    """The entries of one XREADGROUP (or XAUTOCLAIM), each read: taken by the handler,
    skipped, or poison. The handler gets ``events``; ``EventBus._consume_batch`` settles them."""

    def __init__(
        self,
        raw: BatchStreamMessage,
        *,
        group: str,
        entries: list[_Entry],
        headers: dict[str, Any],
    ) -> None:
        # the first entry's headers name the batch, as in FastStream's own batch parser
        super().__init__(
            raw_message=raw,
            body=b"",
            headers=headers,
            correlation_id=headers.get("correlation_id"),
        )
        self.stream = raw["channel"]
        self.group = group
        self.entries = entries

    @property
    def events(self) -> list[Event]:
        return [entry.event for entry in self.entries if entry.event is not None]

    @classmethod
    def read(
        cls,
        raw: BatchStreamMessage,
        *,
        group: str,
        wanted: tuple[type[Event], ...] | None,
        fmt: type[MessageFormat],
    ) -> "EventBatch":
        rows = raw["data"]
        ids = raw["message_ids"] or [b""] * len(rows)
        entries: list[_Entry] = []
        first: dict[str, Any] | None = None
        for entry_id, fields in zip(ids, rows, strict=True):
            entry = _Entry(entry_id, fields)
            try:
                body, headers = entry_body(fields, fmt)
                first = headers if first is None else first
                entry.event = _event_of(body, wanted)
            except _Skip:
                pass
            except _Poison as exc:
                entry.poison = str(exc)
            entries.append(entry)
        return cls(raw, group=group, entries=entries, headers=first or {})


def entry_body(
    fields: Mapping[bytes, bytes], fmt: type[MessageFormat] = BinaryMessageFormatV1
) -> tuple[bytes, dict[str, Any]]:
    """The event bytes and FastStream headers of a stream entry, as FastStream's stream parser
    reads them: the ``__data__`` field in FastStream's message format (or plain), else the
    fields as a JSON object."""
    raw = fields.get(DATA_FIELD)
    if not raw:
        return json.dumps({_text(k): _text(v) for k, v in fields.items()}).encode(), {}
    return fmt.parse(raw)


def entry_event(fields: Mapping[bytes, bytes]) -> Event:
    """The event in a stream entry as ``EventBus.publish`` wrote it; ContractError if none."""
    if not isinstance(fields.get(DATA_FIELD), bytes):
        raise ContractError("stream entry has no __data__ field")
    return parse_event(entry_body(fields)[0])


# --- dead letters ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Letter:
    entry_id: bytes
    fields: Mapping[Any, Any]
    error: str
    deliveries: int


def _letter_of(message: RedisStreamMessage, error: str, deliveries: int) -> _Letter:
    ids = message.raw_message["message_ids"]
    return _Letter(ids[0] if ids else b"", message.raw_message["data"], error, deliveries)


def _error(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(exc)).strip()


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


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _entry_key(entry_id: bytes) -> tuple[int, int]:
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq or 0)


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _xadd(stream: str, fields: Mapping[Any, Any], maxlen: int, redis: Any) -> Any:
    return redis.xadd(stream, fields, maxlen=maxlen, approximate=True)


def _xdel(stream: str, entry_id: str, redis: Any) -> Any:
    return redis.xdel(stream, entry_id)


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
        # back on the stream, then out of the DLQ (on a cluster one after the other: a crash
        # between replays it twice, which idempotent consumers absorb)
        await in_order(
            redis,
            partial(_xadd, letter.stream, letter.payload, maxlen),
            partial(_xdel, dlq_stream(stream), letter.dlq_id),
        )
        replayed += 1
    return replayed
