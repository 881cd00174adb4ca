"""The dashboard's alerts: what failed or is falling behind anywhere in the platform.

- dead letters on any stream (the event streams and the services' own work streams) and a
  consumer group that lags or holds many pending entries: the runtime's ``ops.streams_report``
  (the same figures as ``xabar-ops streams``), read from the shared Redis;
- poll anomalies: asked from the polls API (``GET /api/v1/anomalies``) through the publisher's
  one ``PollsClient``, with a short token of the editor who opens the page (the polls service
  owns them; nothing of the polls' data is read here directly).

Reading them takes a Redis scan and an HTTP call, so the answer is kept ``ttl_s`` seconds and
refreshed in the background: a page never waits for it but the first time.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from xabar.publisher.errors import PublisherError
from xabar.publisher.polls import PollsClient
from xabar.runtime.auth import Principal

log = logging.getLogger("xabar.publisher.newsroom.alerts")
# the runtime's ``ops.streams_report`` on the shared Redis (the composition root binds it)
StreamsReport = Callable[[], Awaitable[list[dict[str, Any]]]]

LAG_LIMIT = 1000
PENDING_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Alert:
    text: str
    kind: str = "error"  # "error" or "warning"


class Alerts:
    def __init__(
        self,
        streams_report: StreamsReport,
        polls_client: PollsClient,
        *,
        ttl_s: float = 10.0,
        timeout_s: float = 2.0,
    ) -> None:
        self.streams_report = streams_report
        self.polls_client = polls_client
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self._value: list[Alert] | None = None
        self._at = 0.0
        self._refreshing: asyncio.Task[None] | None = None

    async def current(self, who: Principal) -> list[Alert]:
        if self._value is None:
            await self._refresh(who)
        elif time.monotonic() - self._at > self.ttl_s and self._refreshing is None:
            self._refreshing = asyncio.create_task(self._refresh(who))
            self._refreshing.add_done_callback(lambda _: setattr(self, "_refreshing", None))
        return list(self._value or [])

    async def aclose(self) -> None:
        """Stop a refresh under way (it must not outlive the app's connections)."""
        task, self._refreshing = self._refreshing, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _refresh(self, who: Principal) -> None:
        found = [*await self.streams(), *await self.polls(who)]
        self._value, self._at = found, time.monotonic()

    async def streams(self) -> list[Alert]:
        try:
            report = await self.streams_report()
        except Exception:
            log.exception("streams not read for the dashboard")
            return [Alert("Не удалось прочитать состояние потоков событий.")]
        out = []
        for entry in report:
            if entry["dead_letters"]:
                out.append(
                    Alert(
                        f"В потоке {entry['stream']} неразобранных событий (dead letters): "
                        f"{entry['dead_letters']}. "
                        f"Посмотреть: xabar-ops dlq list {entry['stream']}."
                    )
                )
            for group in entry["groups"]:
                lag = group.get("lag") or 0
                if lag > LAG_LIMIT or group["pending"] > PENDING_LIMIT:
                    out.append(
                        Alert(
                            f"Потребитель «{group['name']}» отстаёт в потоке {entry['stream']}: "
                            f"не прочитано {lag}, в обработке {group['pending']}.",
                            "warning",
                        )
                    )
        return out

    async def polls(self, who: Principal) -> list[Alert]:
        try:
            items = (await self.polls_client.anomalies(who, timeout_s=self.timeout_s)).items
        except PublisherError as exc:  # not reached, not understood, or refused
            log.warning("poll anomalies not read: %s", type(exc).__name__)
            silent = "Сервис опросов не ответил: аномалии голосования не проверены."
            return [Alert(silent, "warning")]
        polls = sorted({item.poll_id for item in items})
        if not polls:
            return []
        votes = sum(item.flagged_votes for item in items)
        return [
            Alert(
                f"Аномалии голосования в опросах: {len(polls)} (подозрительных голосов: {votes}).",
                "warning",
            )
        ]
