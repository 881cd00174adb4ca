"""What a poll is, when it is open, who may see its results, and how percentages are rounded.

Pure logic: no I/O here, so it is tested without servers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from xabar.contracts import PollOption, PollState
from xabar.polls.errors import InvalidPoll

Phase = Literal["scheduled", "open", "closed"]
Visibility = Literal["always", "after_vote", "after_close"]

MIN_OPTIONS = 2
MAX_OPTIONS = 20
OPTION_ID = re.compile(r"^o[0-9]{1,2}$")
POLL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_now() -> datetime:
    return to_ms(datetime.now(UTC))


def to_ms(value: datetime) -> datetime:
    """``value`` in UTC, cut to whole milliseconds (what BSON and the Redis mirror keep)."""
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def epoch_ms(value: datetime) -> int:
    return (value - EPOCH) // timedelta(milliseconds=1)


def from_epoch_ms(value: int) -> datetime:
    return EPOCH + timedelta(milliseconds=value)


def percentages(counts: Sequence[int]) -> list[int]:
    """Whole percentages of ``counts`` that add up to exactly 100 (largest remainder method).

    Each share gets the floor of its exact quota; the points still missing go to the largest
    remainders, ties to the larger count and then to the earlier option. All zeros when nothing
    was counted (there is no 100 to share then).
    """
    if any(c < 0 for c in counts):
        raise ValueError("counts must not be negative")
    total = sum(counts)
    if total == 0:
        return [0] * len(counts)
    floors = [100 * c // total for c in counts]
    remainders = [100 * c % total for c in counts]
    missing = 100 - sum(floors)
    order = sorted(range(len(counts)), key=lambda i: (-remainders[i], -counts[i], i))
    for i in order[:missing]:
        floors[i] += 1
    return floors


def option_percentages(counts: Mapping[str, int]) -> dict[str, int]:
    keys = list(counts)
    return dict(zip(keys, percentages([counts[k] for k in keys]), strict=True))


def make_options(texts: Sequence[str]) -> tuple[PollOption, ...]:
    """Options ``o1..oN`` in the order given (ids are stable once a poll has opened)."""
    cleaned = [" ".join(t.split()) for t in texts]
    if not MIN_OPTIONS <= len(cleaned) <= MAX_OPTIONS:
        raise InvalidPoll(f"Нужно от {MIN_OPTIONS} до {MAX_OPTIONS} вариантов ответа")
    if any(not t for t in cleaned):
        raise InvalidPoll("Вариант ответа не может быть пустым")
    if len({t.casefold() for t in cleaned}) != len(cleaned):
        raise InvalidPoll("Варианты ответа повторяются")
    return tuple(PollOption(option_id=f"o{i}", text=t) for i, t in enumerate(cleaned, start=1))


@dataclass(frozen=True, slots=True)
class Poll:
    """A poll as its owner stores it. ``status`` is what was last written; ``phase(now)`` is what
    it is at a given moment (a poll past ``closes_at`` is closed even before the scheduler ran)."""

    poll_id: str
    question: str
    options: tuple[PollOption, ...]
    multiple: bool
    results_visibility: Visibility
    opens_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None
    countries: tuple[str, ...]
    status: Phase
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str = ""
    import_key: str | None = None
    front_page: bool = True  # where it is shown: the front page, ``countries``' sections, articles
    article_ids: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def phase(self, now: datetime) -> Phase:
        if self.status == "closed" or self.closed_at is not None:
            return "closed"
        if self.closes_at is not None and now >= self.closes_at:
            return "closed"
        if now < self.opens_at:
            return "scheduled"
        return "open"

    def option_ids(self) -> tuple[str, ...]:
        return tuple(o.option_id for o in self.options)

    def results_visible(self, now: datetime, *, voted: bool) -> bool:
        if self.results_visibility == "always":
            return True
        closed = self.phase(now) == "closed"
        if self.results_visibility == "after_vote":
            return voted or closed
        return closed

    def hidden_reason(self) -> str:
        if self.results_visibility == "after_vote":
            return "Результаты будут видны после того, как вы проголосуете"
        return "Результаты будут опубликованы после закрытия опроса"

    def state(self) -> PollState:
        """The poll's public state: its fields that ``PollState`` names, read by name."""
        return PollState.model_validate(self, from_attributes=True)

    def with_changes(self, **changes: Any) -> Poll:
        return replace(self, **changes)

    # --- storage form ----------------------------------------------------------------------

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "_id": self.poll_id,
            "question": self.question,
            "options": [{"option_id": o.option_id, "text": o.text} for o in self.options],
            "multiple": self.multiple,
            "results_visibility": self.results_visibility,
            "opens_at": self.opens_at,
            "closes_at": self.closes_at,
            "closed_at": self.closed_at,
            "countries": list(self.countries),
            "front_page": self.front_page,
            "article_ids": list(self.article_ids),
            "status": self.status,
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "created_by": self.created_by,
        }
        if self.import_key is not None:
            doc["import_key"] = self.import_key
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Poll:
        def dt(value: Any) -> datetime | None:
            return None if value is None else to_ms(value)

        opens_at = dt(doc["opens_at"])
        created_at = dt(doc["created_at"])
        updated_at = dt(doc.get("updated_at")) or created_at
        assert opens_at is not None and created_at is not None and updated_at is not None
        return cls(
            poll_id=str(doc["_id"]),
            question=str(doc["question"]),
            options=tuple(
                PollOption(option_id=o["option_id"], text=o["text"]) for o in doc["options"]
            ),
            multiple=bool(doc.get("multiple", False)),
            results_visibility=doc.get("results_visibility", "always"),
            opens_at=opens_at,
            closes_at=dt(doc.get("closes_at")),
            closed_at=dt(doc.get("closed_at")),
            countries=tuple(doc.get("countries") or ()),
            front_page=bool(doc.get("front_page", True)),  # polls stored before placement: shown
            article_ids=tuple(doc.get("article_ids") or ()),
            status=doc.get("status", "scheduled"),
            version=int(doc.get("version", 1)),
            created_at=created_at,
            updated_at=updated_at,
            created_by=str(doc.get("created_by", "")),
            import_key=doc.get("import_key"),
        )

    # --- the Redis mirror's form (public fields plus status and version) --------------------

    def to_mirror(self) -> dict[str, Any]:
        doc = self.to_doc()
        doc["poll_id"] = doc.pop("_id")
        for key in ("opens_at", "closes_at", "closed_at", "created_at", "updated_at"):
            doc[key] = None if doc[key] is None else epoch_ms(doc[key])
        doc.pop("created_by", None)
        return doc

    @classmethod
    def from_mirror(cls, data: Mapping[str, Any]) -> Poll:
        doc = dict(data)
        doc["_id"] = doc.pop("poll_id")
        for key in ("opens_at", "closes_at", "closed_at", "created_at", "updated_at"):
            doc[key] = None if doc.get(key) is None else from_epoch_ms(int(doc[key]))
        return cls.from_doc(doc)


def check_schedule(opens_at: datetime, closes_at: datetime | None, now: datetime) -> None:
    if closes_at is None:
        return
    if closes_at <= now:
        raise InvalidPoll("Время закрытия опроса уже прошло")
    if closes_at <= opens_at:
        raise InvalidPoll("Время закрытия опроса должно быть позже времени открытия")


def check_countries(countries: Sequence[str], known: Mapping[str, object]) -> tuple[str, ...]:
    unknown = [c for c in countries if c not in known]
    if unknown:
        raise InvalidPoll(f"Неизвестные страны: {', '.join(unknown)}")
    return tuple(dict.fromkeys(countries))
