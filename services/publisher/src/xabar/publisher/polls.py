"""The polls service as the newsroom uses it: its HTTP API, called server-side with the editor's
own identity (a short bearer token minted for the editor by the publisher's token issuer), so
the polls service decides and records who did what. The polls service owns polls; nothing of
them is stored here.

What the polls service answers is read as the models below (unknown fields ignored) within
``MAX_BYTES``. When it does not answer, or answers what we cannot read, the newsroom says so in
Russian (``UpstreamUnavailable``, a 502 page); its refusals keep their meaning: 404 is
``NotFound``, 409 ``InvalidTransition``, 422 ``InvalidInput`` with its message.
"""

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from xabar.publisher.errors import InvalidInput, InvalidTransition, NotFound, UpstreamUnavailable
from xabar.runtime.auth import Principal

log = logging.getLogger("xabar.publisher.polls")

MAX_BYTES = 1024 * 1024
NOT_ANSWERING = "Сервис опросов не отвечает. Повторите через минуту."
NOT_UNDERSTOOD = "Сервис опросов ответил непонятно. Повторите через минуту."
NO_SUCH_POLL = "такого опроса нет"
Issue = Callable[[Principal], str]
M = TypeVar("M", bound=BaseModel)


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Option(_Read):
    option_id: str
    text: str


class OptionResult(_Read):
    option_id: str
    text: str
    votes: int
    percent: int


class Results(_Read):
    total_votes: int
    options: list[OptionResult]


class Poll(_Read):
    poll_id: str
    question: str
    options: list[Option]
    multiple: bool
    results_visibility: str
    opens_at: datetime
    closes_at: datetime | None = None
    closed_at: datetime | None = None
    countries: list[str] = []
    front_page: bool = True
    article_ids: list[str] = []
    status: Literal["scheduled", "open", "closed"]
    created_at: datetime
    results: Results | None = None


class PollPage(_Read):
    items: list[Poll]
    page: int
    per_page: int
    total: int
    pages: int


class Anomaly(_Read):
    kind: str
    key: str
    flagged_votes: int
    first_at: datetime
    last_at: datetime


class PollAnomaly(Anomaly):
    poll_id: str


class AnomalyList(_Read):
    items: list[PollAnomaly]


class PollResults(_Read):
    poll_id: str
    status: str
    results: Results
    anomalies: list[Anomaly]


class PollsClient:
    def __init__(self, base_url: str, issue: Issue, *, timeout_s: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.issue = issue
        self.client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def page(self, who: Principal, page: int = 1, per_page: int = 20) -> PollPage:
        found = await self._call(who, "GET", f"/api/v1/polls?page={page}&per_page={per_page}")
        return self._read(PollPage, found)

    async def get(self, who: Principal, poll_id: str) -> Poll:
        return self._read(Poll, await self._call(who, "GET", f"/api/v1/polls/{poll_id}"))

    async def results(self, who: Principal, poll_id: str) -> PollResults:
        found = await self._call(who, "GET", f"/api/v1/polls/{poll_id}/results")
        return self._read(PollResults, found)

    async def create(self, who: Principal, poll: Mapping[str, Any]) -> Poll:
        return self._read(Poll, await self._call(who, "POST", "/api/v1/polls", poll))

    async def close(self, who: Principal, poll_id: str) -> Poll:
        return self._read(Poll, await self._call(who, "POST", f"/api/v1/polls/{poll_id}/close"))

    async def place(
        self,
        who: Principal,
        poll_id: str,
        front_page: bool,
        countries: list[str],
        articles: list[str],
    ) -> Poll:
        body = {"front_page": front_page, "countries": countries, "article_ids": articles}
        path = f"/api/v1/polls/{poll_id}/placement"
        return self._read(Poll, await self._call(who, "PUT", path, body))

    async def anomalies(self, who: Principal, *, timeout_s: float | None = None) -> AnomalyList:
        """The bursts of votes flagged on every poll (the dashboard's alerts)."""
        found = await self._call(who, "GET", "/api/v1/anomalies", timeout_s=timeout_s)
        return self._read(AnomalyList, found)

    def _read(self, model: type[M], data: Any) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            log.warning("polls answered what we cannot read", extra={"error": str(exc)[:500]})
            raise UpstreamUnavailable(NOT_UNDERSTOOD) from exc

    async def _call(
        self,
        who: Principal,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.issue(who)}", "Accept": "application/json"}
        url = self.base_url + path
        timeout = self.client.timeout if timeout_s is None else httpx.Timeout(timeout_s)
        try:
            async with self.client.stream(
                method, url, json=body, headers=headers, timeout=timeout
            ) as resp:
                raw = bytearray()
                async for chunk in resp.aiter_bytes():
                    raw.extend(chunk)
                    if len(raw) > MAX_BYTES:
                        raise UpstreamUnavailable(NOT_UNDERSTOOD)
                status = resp.status_code
        except httpx.HTTPError as exc:
            log.warning("polls not reached", extra={"error": repr(exc), "url": url})
            raise UpstreamUnavailable(NOT_ANSWERING) from exc
        try:
            data = json.loads(raw) if raw else None
        except ValueError as exc:
            raise UpstreamUnavailable(NOT_UNDERSTOOD) from exc
        if 200 <= status < 300:
            return data
        raise refusal(status, data)


def refusal(status: int, data: Any) -> Exception:
    """The polls service's refusal as our own error, in its words where it has them."""
    error = data.get("error") if isinstance(data, dict) else None
    message = str(error.get("message") or "") if isinstance(error, dict) else ""
    if isinstance(error, dict) and error.get("code") == "validation_failed":  # its English
        fields = [str(f.get("field")) for f in error.get("fields") or [] if isinstance(f, dict)]
        message = "сервис опросов не принял поля: " + (", ".join(fields) or "—")
    if status == 404:
        return NotFound(NO_SUCH_POLL)
    if status == 409:
        return InvalidTransition(message or "опрос сейчас нельзя так изменить")
    if status == 422:
        return InvalidInput(message or "сервис опросов не принял эти данные")
    log.warning("polls refused", extra={"status": status, "body": str(data)[:500]})
    if status in (401, 403):
        return UpstreamUnavailable("Сервис опросов не принял пропуск редакции; войдите снова.")
    return UpstreamUnavailable(NOT_ANSWERING)
